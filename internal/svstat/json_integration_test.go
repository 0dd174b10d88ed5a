package svstat

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"svkit/internal/testenv"
	"svkit/pkg/svdir"
)

// superviseDir runs svkit's supervise on dir until the test ends.
func superviseDir(t *testing.T, dir string) {
	t.Helper()
	testenv.StartSupervise(t, testenv.Prog(t, "supervise"), dir)
}

// jsonOf runs the svstat program with -j on dir and decodes its line.
func jsonOf(t *testing.T, dir string) Object {
	t.Helper()
	out, errb, code := testenv.Run(t, "", "", testenv.Prog(t, "svstat"), "-j", dir)
	var o Object
	if err := json.Unmarshal([]byte(out), &o); err != nil || code != 0 || errb != "" {
		t.Fatalf("svstat -j: %q %q %d: %v", out, errb, code, err)
	}
	return o
}

// TestJSONSvkitSupervise: svstat -j on services run by svkit's supervise,
// which writes supervise/info: a crash loop in back-off, then a stop.
func TestJSONSvkitSupervise(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "crash")
	testenv.WriteScript(t, dir+"/run", "exit 3\n")
	os.WriteFile(dir+"/backoff", []byte("60 30\n"), 0644)
	superviseDir(t, dir)

	var o Object
	testenv.WaitFor(t, 15*time.Second, "a death with a restart pending", func() bool {
		o = jsonOf(t, dir)
		return o.State == "down" && o.LastExitCode != nil && o.BackoffUntilNs != nil && o.Restarts != nil && *o.Restarts >= 1
	})
	if *o.LastExitCode != 3 || o.LastExitSignal != nil || o.Wanted == nil || *o.Wanted != "up" || o.Pid != 0 ||
		o.Ready == nil || *o.Ready || o.StartedNs == nil || o.SinceNs == nil || !o.NormallyUp {
		t.Errorf("crash loop: %+v", o)
	}
	if *o.BackoffUntilNs <= *o.SinceNs {
		t.Errorf("back-off until %d, not after the death at %d", *o.BackoffUntilNs, *o.SinceNs)
	}

	// svc -d rewrites status (want) and then info (no restart pending);
	// the stamp does not change, so a reader may see the two apart for a
	// moment.
	svdir.Send(dir, "d")
	testenv.WaitFor(t, 15*time.Second, "wanted down, no restart pending", func() bool {
		o = jsonOf(t, dir)
		return o.Wanted != nil && *o.Wanted == "down" && o.BackoffUntilNs == nil
	})
	if o.State != "down" || o.Ready == nil {
		t.Errorf("after svc -d: %+v", o)
	}
}
