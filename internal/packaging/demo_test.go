package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"svkit/internal/testenv"
)

// TestDemoCheck runs `scripts/demo --check`: it builds the programs, starts
// the example tree, sees hello up and logged, stops and exits 0.
func TestDemoCheck(t *testing.T) {
	tmp := t.TempDir()
	t.Cleanup(func() {
		if n := testenv.KillUnder(t, tmp); n > 0 {
			t.Errorf("scripts/demo --check left %d processes running", n)
		}
	})
	out, errs, code := script(t, 5*time.Minute, []string{"TMPDIR=" + tmp}, "scripts/demo", "--check")
	if code != 0 || !strings.Contains(out, "check passed") {
		t.Fatalf("scripts/demo --check: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if !regexp.MustCompile(`(?m)^  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9} hello: `).MatchString(out) {
		t.Errorf("scripts/demo --check did not show the log through tai64nlocal:\n%s", out)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("scripts/demo --check left its temporary directory behind: %v", ents)
	}
	for _, p := range []string{"svscan", "supervise", "multilog", "svstat", "tai64nlocal"} {
		checkStatic(t, filepath.Join(testenv.Root(), "bin", p))
	}
}

var supervising = regexp.MustCompile(`demo: svscan \(pid (\d+)\) is supervising (\S+)`)

// TestDemoStopsOnTERM runs the demo in the foreground mode, lets hello log,
// then sends TERM to the script as a user's kill (or Ctrl-C's INT) would:
// it must stop svscan, the service and its logger, with multilog closing
// its log cleanly (current ends up mode 0744), and exit 0.
func TestDemoStopsOnTERM(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) { demoStops(t, sig) })
	}
}

func demoStops(t *testing.T, sig syscall.Signal) {
	tmp := t.TempDir()
	t.Cleanup(func() { testenv.KillUnder(t, tmp) })
	cmd := exec.Command(filepath.Join(testenv.Root(), "scripts/demo"), "--keep")
	cmd.Dir = testenv.Root()
	cmd.Env = append(baseEnv(), "TMPDIR="+tmp)
	outf := tempFile(t)
	cmd.Stdout, cmd.Stderr = outf, outf
	p := testenv.Start(t, cmd)
	var svdir string
	testenv.WaitFor(t, 5*time.Minute, "the demo to start svscan", func() bool {
		m := supervising.FindStringSubmatch(readBack(t, outf))
		if m != nil {
			svdir = m[2]
		}
		return m != nil || p.Exited()
	})
	if svdir == "" {
		t.Fatalf("the demo exited before starting svscan:\n%s", readBack(t, outf))
	}
	current := filepath.Join(svdir, "hello/log/main/current")
	testenv.WaitFor(t, 30*time.Second, "hello to log a tick", func() bool {
		b, _ := os.ReadFile(current)
		return strings.Contains(string(b), " hello: tick ")
	})
	if err := syscall.Kill(p.Pid(), sig); err != nil {
		t.Fatal(err)
	}
	if code := p.Wait(t, 30*time.Second); code != 0 {
		t.Errorf("the demo exited %d after %v, want 0:\n%s", code, sig, readBack(t, outf))
	}
	if n := len(testenv.ProcsUnder(tmp)); n > 0 {
		t.Errorf("%d processes still run in the demo's directory after %v:\n%s", n, sig, readBack(t, outf))
	}
	fi, err := os.Stat(current)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o744 {
		t.Errorf("log/main/current has mode %v after the demo stopped: multilog did not close it cleanly", fi.Mode().Perm())
	}
	if !strings.Contains(readBack(t, outf), "demo: stopped") {
		t.Errorf("the demo did not say it stopped:\n%s", readBack(t, outf))
	}
}
