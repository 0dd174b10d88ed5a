package supervise_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"svkit/internal/testenv"
	"svkit/pkg/svdir"
)

// fastSchedule runs the schedule of the supervise processes the test
// starts five times as fast (restarts every 0.2 s): for tests that count
// restarts rather than time them. The test binaries are built with the
// svkit_testhooks tag, which honours SVKIT_TEST_TIMESCALE.
func fastSchedule(t *testing.T) {
	k, v, _ := strings.Cut(testenv.FastSchedule, "=")
	t.Setenv(k, v)
}

// TestStartFailureMessages: a run that cannot be started is reported with
// 0.76's message for the first five failures in a row, then with one
// summary line a minute; supervise/info says why and how often; a start
// that succeeds resets the count, and the next failure is reported in
// full again.
func TestStartFailureMessages(t *testing.T) {
	fastSchedule(t)
	dir := filepath.Join(t.TempDir(), "svc")
	os.MkdirAll(dir, 0755)
	run := filepath.Join(dir, "run")
	os.WriteFile(run, []byte("#!/bin/sh\nexec sleep 1000\n"), 0644)
	p := startSupervise(t, svkit, dir)
	full := "supervise: fatal: unable to start " + dir + "/run: access denied\n"
	summary := regexp.MustCompile(`^supervise: warning: unable to start ` + regexp.QuoteMeta(dir) +
		`/run: run is not executable \(chmod \+x run\) \(6 times since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\)\n$`)
	info := func() svdir.Info {
		in := svdir.ReadInfoOf(dir)
		if in == nil {
			return svdir.Info{}
		}
		return *in
	}
	testenv.WaitFor(t, 3*wait, "eight failed starts", func() bool { return info().StartFailures >= 8 })
	out := p.Stderr.String()
	if n := strings.Count(out, full); n != 5 {
		t.Errorf("%d full messages, want 5: %q", n, out)
	}
	if rest := strings.ReplaceAll(out, full, ""); !summary.MatchString(rest) {
		t.Errorf("after five full messages, %q; want one summary line", rest)
	}
	in := info()
	if in.StartError != "run is not executable (chmod +x run)" || in.StartErrorAt == 0 || in.StartFailedSince == 0 ||
		in.StartFailedSince > in.StartErrorAt || in.Supervisor != p.Pid() {
		t.Errorf("info after failures: %+v", in)
	}

	os.Chmod(run, 0755)
	r := testenv.WaitStatus(t, wait, dir, "started once executable", isUp)
	testenv.WaitFor(t, wait, "failures forgotten", func() bool {
		in := info()
		return in.Pid == r.Pid && in.StartFailures == 0 && in.StartError == ""
	})
	os.Chmod(run, 0644)
	testenv.Control(t, dir, "k")
	testenv.WaitFor(t, wait, "a new failure", func() bool { return info().StartFailures >= 1 })
	if n := strings.Count(p.Stderr.String(), full); n != 6 {
		t.Errorf("after a success, the next failure gives the full message again: %d full messages in %q", n, p.Stderr.String())
	}
}
