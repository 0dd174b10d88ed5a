package supervise_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"svkit/internal/testenv"
	"svkit/pkg/svdir"
)

// tenfold runs the schedule of the supervise processes the test starts ten
// times as fast: restarts every 0.1 s, and the SECONDS of a permafail line
// are tenths of a second.
func tenfold(t *testing.T) {
	t.Setenv("SVKIT_TEST_TIMESCALE", "0.1")
}

// scaledSecond is a second of supervise's schedule under tenfold.
const scaledSecond = 100 * time.Millisecond

// countingService makes a service whose run appends a line to DIR/starts
// and then runs body.
func countingService(t *testing.T, body string) string {
	t.Helper()
	return service(t, "echo start >> starts\n"+body)
}

// permafailService is a countingService with the permafail line given.
func permafailService(t *testing.T, body, permafail string) string {
	t.Helper()
	dir := countingService(t, body)
	writeFile(t, filepath.Join(dir, "permafail"), permafail)
	return dir
}

// runs returns how many times run was started in dir.
func runs(dir string) int {
	b, _ := os.ReadFile(filepath.Join(dir, "starts"))
	return strings.Count(string(b), "start\n")
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0644); err != nil {
		t.Fatal(err)
	}
}

func info(dir string) svdir.Info {
	if in := svdir.ReadInfoOf(dir); in != nil {
		return *in
	}
	return svdir.Info{}
}

// waitFailed waits until supervise/info marks dir failed and the status
// says down.
func waitFailed(t *testing.T, dir string) svdir.Info {
	t.Helper()
	var in svdir.Info
	testenv.WaitFor(t, wait, "failed mark", func() bool {
		in = info(dir)
		r, err := svdir.ReadStatusOf(dir)
		// Current: the info of this status, not the one before it (the
		// info follows the status record, so a reader can catch a new
		// status beside the old info, still marked failed).
		return in.Failed && err == nil && r.Pid == 0 && in.State == svdir.StateDown && svdir.Current(r, &in)
	})
	return in
}

// stillAt checks that dir has had exactly n starts, and still has after
// the given time.
func stillAt(t *testing.T, dir string, n int, d time.Duration) {
	t.Helper()
	if got := runs(dir); got != n {
		t.Fatalf("%d starts, want %d", got, n)
	}
	time.Sleep(d)
	if got := runs(dir); got != n {
		t.Fatalf("%d starts after %v, want still %d", got, d, n)
	}
}

// TestPermafail: a service that exits 1 at once, with permafail "3 10", is
// down and marked failed after its third death and not started a fourth
// time within the 10 seconds; 0.76's svstat shows it down and not wanted
// up, svok says supervise runs; supervise says so once on stderr. svc -u
// clears the mark and starts it again, with a new count.
func TestPermafail(t *testing.T) {
	tenfold(t)
	dir := permafailService(t, "exit 1\n", "3 10\n")
	p := startSupervise(t, svkit, dir)
	in := waitFailed(t, dir)
	if in.FailedReason != "died 3 times in 10 seconds (exit 1)" || in.FailedAt == 0 || in.FailedBoot == "" || in.ExitCode != 1 {
		t.Errorf("info: %+v", in)
	}
	stillAt(t, dir, 3, 11*scaledSecond)
	if r := testenv.ReadStatus(t, dir); r.Want != svdir.WantDown {
		t.Errorf("status wants %q, want down", r.Want)
	}
	if got := svstat(t, dir); got != "down S seconds, normally up\n" {
		t.Errorf("0.76 svstat: %q", got)
	}
	if _, _, code := testenv.Run(t, "", "", testenv.Debian(t, "svok"), dir); code != 0 {
		t.Errorf("0.76 svok exited %d", code)
	}
	want := "supervise: warning: giving up on " + dir + ": died 3 times in 10 seconds (exit 1); svc -u to start it again\n"
	if got := p.Stderr.String(); got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}

	// 0.76's svc writes the same letter.
	testenv.Run(t, "", "", testenv.Debian(t, "svc"), "-u", dir)
	testenv.WaitFor(t, wait, "started again by svc -u", func() bool { return runs(dir) >= 4 })
	in = waitFailed(t, dir)
	stillAt(t, dir, 6, 11*scaledSecond)
	if n := strings.Count(p.Stderr.String(), "giving up"); n != 2 {
		t.Errorf("%d warnings, want 2: %s", n, p.Stderr)
	}
}

// TestPermafailKeptByNextSupervise: a supervise started on a failed
// service (the previous one was killed) keeps it down and failed.
func TestPermafailKeptByNextSupervise(t *testing.T) {
	tenfold(t)
	dir := permafailService(t, "exit 1\n", "2 10")
	p := startSupervise(t, svkit, dir)
	before := waitFailed(t, dir)
	p.KillAndWait(t, 9)
	q := startSupervise(t, svkit, dir)
	testenv.WaitFor(t, wait, "info of the new supervise", func() bool { return info(dir).Supervisor == q.Pid() })
	in := info(dir)
	if !in.Failed || in.FailedReason != before.FailedReason || in.FailedAt != before.FailedAt || in.ExitCode != 1 {
		t.Errorf("after a new supervise: %+v, before %+v", in, before)
	}
	stillAt(t, dir, 2, 11*scaledSecond)
	if r := testenv.ReadStatus(t, dir); r.Pid != 0 || r.Want != svdir.WantDown {
		t.Errorf("status %+v", r)
	}
	testenv.Control(t, dir, "u")
	testenv.WaitFor(t, wait, "started by svc -u", func() bool { return runs(dir) >= 3 })
	testenv.WaitFor(t, wait, "mark cleared", func() bool { return !info(dir).Failed || runs(dir) >= 4 })
}

// TestPermafailCodes: with "3 10 1" only exits with code 1 count: four
// exits with code 2 restart as usual, then three with code 1 fail it.
func TestPermafailCodes(t *testing.T) {
	forHosts(t, func(t *testing.T, im impl) {
		tenfold(t)
		dir := permafailService(t, `n=$(grep -c . starts)
[ "$n" -le 4 ] && exit 2
exit 1
`, "3 10 1\n")
		startSupervise(t, im, dir)
		in := waitFailed(t, dir)
		if in.FailedReason != "died 3 times in 10 seconds (exit 1)" {
			t.Errorf("reason %q", in.FailedReason)
		}
		stillAt(t, dir, 7, 11*scaledSecond)
	})
}

// TestPermafailSignal: a signal in the list counts; the reason names it.
func TestPermafailSignal(t *testing.T) {
	forHosts(t, func(t *testing.T, im impl) {
		tenfold(t)
		dir := permafailService(t, "kill -SEGV $$\nexit 1\n", "2 10 1-2,SIGSEGV\n")
		startSupervise(t, im, dir)
		if in := waitFailed(t, dir); in.FailedReason != "died 2 times in 10 seconds (signal SEGV)" || in.ExitSignal != 11 {
			t.Errorf("info %+v", in)
		}
	})
}

// TestPermafailBad: a permafail line that does not parse is said once
// and changes nothing: the service keeps restarting.
func TestPermafailBad(t *testing.T) {
	tenfold(t)
	dir := permafailService(t, "exit 1\n", "three 10\n")
	p := startSupervise(t, svkit, dir)
	testenv.WaitFor(t, wait, "five starts", func() bool { return runs(dir) >= 5 })
	want := "supervise: warning: unable to parse " + dir + "/permafail: expected N SECONDS [CODES-OR-SIGNALS]: three 10\n"
	if got := p.Stderr.String(); got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
	if info(dir).Failed {
		t.Error("marked failed")
	}
}

// TestFinish125: a finish that exits 125 keeps the service down, wanted
// down, as svc -d from inside; it is not marked failed; svc -u starts it.
func TestFinish125(t *testing.T) {
	forHosts(t, func(t *testing.T, im impl) {
		tenfold(t)
		dir := countingService(t, "exit 3\n")
		testenv.WriteScript(t, filepath.Join(dir, "finish"), "echo \"$@\" > finished\nexit 125\n")
		startSupervise(t, im, dir)
		testenv.WaitFor(t, wait, "down after finish", func() bool {
			r, err := svdir.ReadStatusOf(dir)
			return err == nil && r.Pid == 0 && r.Want == svdir.WantDown && info(dir).State == svdir.StateDown
		})
		if got := testenv.ReadFile(t, filepath.Join(dir, "finished")); got != "3 0\n" {
			t.Errorf("finish got %q", got)
		}
		stillAt(t, dir, 1, 5*scaledSecond)
		if in := info(dir); in.Failed || in.ExitCode != 3 {
			t.Errorf("info %+v", in)
		}
		if got := svstat(t, dir); got != "down S seconds, normally up\n" {
			t.Errorf("0.76 svstat: %q", got)
		}
		testenv.Control(t, dir, "u")
		testenv.WaitFor(t, wait, "started again", func() bool { return runs(dir) == 2 })
	})
}

// TestFinishOtherCodes: finish exiting anything but 125 restarts the
// service as before.
func TestFinishOtherCodes(t *testing.T) {
	forHosts(t, func(t *testing.T, im impl) {
		tenfold(t)
		dir := countingService(t, "exit 3\n")
		testenv.WriteScript(t, filepath.Join(dir, "finish"), "exit 124\n")
		startSupervise(t, im, dir)
		testenv.WaitFor(t, wait, "three starts", func() bool { return runs(dir) >= 3 })
	})
}

// TestMainExitRunsOnce: with a main file saying exit (or empty), the
// service runs once: when it ends it stays down, wanted down, with its exit
// code in supervise/info; with restart it restarts as usual, and so it does
// when main is a directory (a logger's multilog ./main), not a file.
func TestMainExitRunsOnce(t *testing.T) {
	tenfold(t)
	for _, c := range []struct {
		content string
		once    bool
		dir     bool // main is a directory, as a logger's multilog ./main
	}{{"", true, false}, {"exit\n", true, false}, {"restart\n", false, false}, {"", false, true}} {
		dir := countingService(t, "exit 7\n")
		if c.dir {
			if err := os.Mkdir(filepath.Join(dir, "main"), 0755); err != nil {
				t.Fatal(err)
			}
		} else {
			writeFile(t, filepath.Join(dir, "main"), c.content)
		}
		startSupervise(t, svkit, dir)
		if !c.once {
			testenv.WaitFor(t, wait, "three starts", func() bool { return runs(dir) >= 3 })
			continue
		}
		testenv.WaitFor(t, wait, "down, wanted down", func() bool {
			r, err := svdir.ReadStatusOf(dir)
			return err == nil && r.Pid == 0 && r.Want == svdir.WantDown && runs(dir) == 1
		})
		stillAt(t, dir, 1, 5*scaledSecond)
		if in := info(dir); in.ExitCode != 7 || in.Failed {
			t.Errorf("main %q: info %+v", c.content, in)
		}
	}
}

// TestNoFilesSameAs076: without these files a run that exits 1 at once
// is restarted for ever, under svkit's supervise as under 0.76's, and
// 0.76's svstat reads both alike.
func TestNoFilesSameAs076(t *testing.T) {
	for _, im := range both {
		t.Run(im.name, func(t *testing.T) {
			dir := countingService(t, "exit 1\n")
			testenv.WriteScript(t, filepath.Join(dir, "finish"), "exit 0\n")
			startSupervise(t, im, dir)
			testenv.WaitFor(t, wait, "four starts", func() bool { return runs(dir) >= 4 })
			testenv.WaitFor(t, wait, "0.76 svstat: up or down and normally up", func() bool {
				got := svstat(t, dir)
				return got == "up (pid P) S seconds\n" || got == "down S seconds, normally up, want up\n"
			})
			if r := testenv.ReadStatus(t, dir); r.Want != svdir.WantUp {
				t.Errorf("status wants %q", r.Want)
			}
		})
	}
}
