package svwait

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"svkit/internal/testenv"
	"svkit/pkg/svdir"
)

// TestFailedService: a wait for up on a service that supervise has given
// up on (permafail) ends with exit 100 and why, once the mark has stayed
// for FailedGrace; a wait for down is reached; after svc -u a wait for up
// waits for the new start.
func TestFailedService(t *testing.T) {
	t.Setenv("SVKIT_TEST_TIMESCALE", "0.1")
	dir := filepath.Join(t.TempDir(), "svc")
	testenv.WriteScript(t, dir+"/run", "[ -e ok ] && exec sleep 1000\nexit 1\n")
	os.WriteFile(dir+"/permafail", []byte("3 10\n"), 0644)
	testenv.StartSupervise(t, testenv.Prog(t, "supervise"), dir)
	testenv.WaitFor(t, 15*time.Second, "failed", func() bool {
		in := svdir.ReadInfoOf(dir)
		return in != nil && in.Failed
	})

	want := "svwait: fatal: " + dir + " failed: died 3 times in 10 seconds (exit 1); svc -u to retry\n"
	for _, mode := range []string{"-u", "-U"} {
		t0 := time.Now()
		if _, errb, code := runSvwait(t, mode, dir); code != ExitFailed || errb != want {
			t.Errorf("%s: exit %d, stderr %q; want %d, %q", mode, code, errb, ExitFailed, want)
		}
		if d := time.Since(t0); d < FailedGrace {
			t.Errorf("%s ended after %v, before the grace", mode, d)
		}
	}
	for _, mode := range []string{"-d", "-D"} {
		if _, errb, code := runSvwait(t, mode, dir); code != 0 || errb != "" {
			t.Errorf("%s on a failed service: %d %q", mode, code, errb)
		}
	}
	os.WriteFile(dir+"/ok", nil, 0644)
	svdir.Send(dir, "u")
	if _, errb, code := runSvwait(t, "-U", dir); code != 0 || errb != "" {
		t.Errorf("svc -u, then -U: %d %q", code, errb)
	}
	if in := svdir.ReadInfoOf(dir); in == nil || in.Failed {
		t.Errorf("info after svc -u: %+v", in)
	}
}
