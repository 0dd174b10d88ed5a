package svscan_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"svkit/internal/testenv"
)

// stopRecorder is a run script that says hello on its log, and on TERM
// records the nanosecond in root/stop-NAME and says goodbye.
func stopRecorder(root, name string) string {
	return "trap 'date +%s%N > " + root + "/stop-" + name + "; echo bye " + name + "; exit 0' TERM\n" +
		"echo hello " + name + "\nwhile :; do sleep 0.05; done\n"
}

// svscan -o stops a chain c -> b -> a (c needs b, b needs a) dependents
// first: c, then b, then a, each waited for; then the loggers, which keep
// every line.
func TestOrderedShutdownNeeds(t *testing.T) {
	tr := newTree(t, svkitPair)
	names := []string{"a", "b", "c", "free"}
	for _, n := range names {
		tr.service(n, stopRecorder(tr.root, n), "exec cat >> "+filepath.Join(tr.root, n+".out")+"\n")
	}
	for _, l := range [][2]string{{"b", "a"}, {"c", "b"}} {
		os.MkdirAll(filepath.Join(tr.scan, l[0], "needs"), 0755)
		if err := os.Symlink("../../"+l[1], filepath.Join(tr.scan, l[0], "needs", l[1])); err != nil {
			t.Fatal(err)
		}
	}
	p := tr.start(testenv.Prog(t, "svscan"), "-o", "-k", "30")
	for _, n := range names {
		testenv.WaitFor(t, 30*time.Second, n+" logging", func() bool {
			b, _ := os.ReadFile(filepath.Join(tr.root, n+".out"))
			return strings.Contains(string(b), "hello "+n)
		})
	}
	syscall.Kill(p.Pid(), syscall.SIGTERM)
	if code := p.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("svscan -o exited %d; stderr: %s", code, tr.stderr())
	}
	stop := map[string]int64{}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(tr.root, "stop-"+n))
		v, err2 := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || err2 != nil {
			t.Fatalf("%s did not record its stop: %q %v", n, b, err)
		}
		stop[n] = v
		out, _ := os.ReadFile(filepath.Join(tr.root, n+".out"))
		if string(out) != "hello "+n+"\nbye "+n+"\n" {
			t.Errorf("%s's log: %q", n, out)
		}
	}
	if !(stop["c"] < stop["b"] && stop["b"] < stop["a"]) {
		t.Errorf("stop order: c %d, b %d, a %d", stop["c"], stop["b"], stop["a"])
	}
	// free needs nothing and nothing needs it: it goes with the first.
	if stop["free"] > stop["b"] {
		t.Errorf("free stopped at %d, after b at %d", stop["free"], stop["b"])
	}
	if s := tr.stderr(); s != "" {
		t.Errorf("svscan wrote %q", s)
	}
}

// A cycle is said once and does not hold the shutdown up.
func TestOrderedShutdownCycle(t *testing.T) {
	tr := newTree(t, svkitPair)
	for _, n := range []string{"a", "b"} {
		tr.service(n, stopRecorder(tr.root, n), "")
	}
	for _, l := range [][2]string{{"a", "b"}, {"b", "a"}} {
		os.MkdirAll(filepath.Join(tr.scan, l[0], "needs"), 0755)
		os.Symlink("../../"+l[1], filepath.Join(tr.scan, l[0], "needs", l[1]))
	}
	p := tr.start(testenv.Prog(t, "svscan"), "-o", "-k", "30")
	waitUp(t, filepath.Join(tr.scan, "a"), 30*time.Second)
	waitUp(t, filepath.Join(tr.scan, "b"), 30*time.Second)
	syscall.Kill(p.Pid(), syscall.SIGTERM)
	if code := p.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("svscan -o exited %d; stderr: %s", code, tr.stderr())
	}
	if s := tr.stderr(); !strings.Contains(s, "svscan: warning: needs cycle: a -> b -> a\n") {
		t.Errorf("stderr %q", s)
	}
}
