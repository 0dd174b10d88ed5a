package supervise_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"svkit/internal/testenv"
	"svkit/pkg/svdir"
)

func readInfo(t *testing.T, dir string) svdir.Info {
	t.Helper()
	in := svdir.ReadInfoOf(dir)
	if in == nil {
		t.Fatalf("no readable %s/%s", dir, svdir.InfoPath)
	}
	return *in
}

func waitInfo(t *testing.T, dir, what string, cond func(svdir.Info) bool) svdir.Info {
	t.Helper()
	var in svdir.Info
	testenv.WaitFor(t, wait, what, func() bool {
		p := svdir.ReadInfoOf(dir)
		if p != nil {
			in = *p
		}
		return p != nil && cond(in)
	})
	return in
}

// checkStatusFile asserts the 0.76 record is still exactly 18 bytes.
func checkStatusFile(t *testing.T, dir string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "supervise/status"))
	if err != nil || len(b) != svdir.StatusSize {
		t.Fatalf("status file: %d bytes, %v", len(b), err)
	}
}

func TestReadyWithoutSource(t *testing.T) {
	dir := service(t, "exec sleep 1000\n")
	startSupervise(t, svkit, dir)
	r := waitStatus(t, dir, "up", isUp)
	in := waitInfo(t, dir, "ready", func(in svdir.Info) bool { return in.Ready })
	if in.State != svdir.StateUp || in.Pid != r.Pid || in.ReadySince == 0 {
		t.Errorf("info %+v", in)
	}
	checkStatusFile(t, dir)
}

func TestReadyNotificationFD(t *testing.T) {
	dir := service(t, "sleep 0.3\necho >&5\nexec sleep 1000\n")
	os.WriteFile(filepath.Join(dir, "notification-fd"), []byte("5\n"), 0644)
	startSupervise(t, svkit, dir)
	r := waitStatus(t, dir, "up", isUp)
	// info follows the status record within the same event.
	if in := waitInfo(t, dir, "info of the run", func(in svdir.Info) bool { return in.Pid == r.Pid }); in.Ready {
		t.Fatalf("ready at once: %+v", in)
	}
	in := waitInfo(t, dir, "ready", func(in svdir.Info) bool { return in.Ready })
	if in.Pid != r.Pid || time.Duration(in.ReadySince-in.Started) < 250*time.Millisecond {
		t.Errorf("info %+v", in)
	}
	// After a restart it is not ready until it says so again.
	control(t, dir, "k")
	waitInfo(t, dir, "restarted, not ready", func(in svdir.Info) bool { return in.Pid != 0 && in.Pid != r.Pid && !in.Ready })
	waitInfo(t, dir, "ready again", func(in svdir.Info) bool { return in.Ready })
	checkStatusFile(t, dir)
}

// notifier builds the sd_notify stand-in.
func notifier(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "notify")
	cmd := exec.Command("go", "build", "-o", out, "./testdata/notify")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build notifier: %v\n%s", err, b)
	}
	return out
}

func TestReadyNotifySocket(t *testing.T) {
	n := notifier(t)
	dir := service(t, "echo \"$NOTIFY_SOCKET\" > sockname\nsleep 0.2\n"+n+" STATUS=warming\\ up\nsleep 0.2\n"+n+" READY=1 STATUS=serving\nexec sleep 1000\n")
	os.WriteFile(filepath.Join(dir, "notify-socket"), nil, 0644)
	startSupervise(t, svkit, dir)
	sock := strings.TrimSpace(readFileWait(t, filepath.Join(dir, "sockname")))
	if !strings.HasPrefix(sock, "@") {
		t.Fatalf("NOTIFY_SOCKET=%q", sock)
	}
	// A process outside the service is not believed.
	testenv.Run(t, "", "", n, "-to", sock, "READY=1", "STATUS=forged")
	waitInfo(t, dir, "status text", func(in svdir.Info) bool { return in.StatusText == "warming up" })
	if in := readInfo(t, dir); in.Ready {
		t.Fatalf("a forged READY=1 was believed: %+v", in)
	}
	in := waitInfo(t, dir, "ready", func(in svdir.Info) bool { return in.Ready })
	if in.StatusText != "serving" {
		t.Errorf("status text %q", in.StatusText)
	}
}

func TestReadyCheck(t *testing.T) {
	dir := service(t, "sleep 0.4\ntouch flag\nexec sleep 1000\n")
	testenv.WriteScript(t, filepath.Join(dir, "check"), "echo x >> checks\ntest -f flag\n")
	startSupervise(t, svkit, dir)
	waitStatus(t, dir, "up", isUp)
	in := waitInfo(t, dir, "ready", func(in svdir.Info) bool { return in.Ready })
	b, _ := os.ReadFile(filepath.Join(dir, "checks"))
	if n := strings.Count(string(b), "x"); n < 2 {
		t.Errorf("check ran %d times", n)
	}
	if time.Duration(in.ReadySince-in.Started) < 350*time.Millisecond {
		t.Errorf("ready too early: %+v", in)
	}
}

// TestBackoff measures the back-off schedule against a crashing run:
// starts 1, 1, 1, 2, 2, 2 seconds apart, and svc -u starts it at once.
func TestBackoff(t *testing.T) {
	dir := service(t, "date +%s.%N >> starts\nexit 1\n")
	os.WriteFile(filepath.Join(dir, "backoff"), []byte("2\n"), 0644) // cap 2 s
	startSupervise(t, svkit, dir)
	starts := filepath.Join(dir, "starts")
	times := func() []float64 {
		b, _ := os.ReadFile(starts)
		var ts []float64
		for _, f := range strings.Fields(string(b)) {
			v, _ := strconv.ParseFloat(f, 64)
			ts = append(ts, v)
		}
		return ts
	}
	testenv.WaitFor(t, 30*time.Second, "7 starts", func() bool { return len(times()) >= 7 })
	ts := times()
	want := []float64{1, 1, 1, 2, 2, 2}
	for i, w := range want {
		if d := ts[i+1] - ts[i]; d < w-0.05 || d > w+0.6 {
			t.Errorf("interval %d: %.2fs, want about %.0fs (all: %v)", i+1, d, w, ts)
		}
	}
	in := waitInfo(t, dir, "history of 6 restarts", func(in svdir.Info) bool { return in.Restarts >= 6 })
	if in.ExitCode != 1 || in.ExitSignal != 0 {
		t.Errorf("history: %+v", in)
	}
	// Now in a 2 s back-off: svc -u starts it at once.
	waitInfo(t, dir, "backing off", func(in svdir.Info) bool { return in.Backoff != 0 })
	n := len(times())
	before := time.Now()
	control(t, dir, "u")
	testenv.WaitFor(t, wait, "immediate start", func() bool { return len(times()) > n })
	if d := time.Since(before); d > 700*time.Millisecond {
		t.Errorf("svc -u during back-off took %v", d)
	}
	in = waitInfo(t, dir, "info of the new start", func(in svdir.Info) bool { return in.Started >= before.UnixNano() })
	if in.Restarts > 1 {
		t.Errorf("restarts not reset by svc -u: %+v", in)
	}
}

func TestBackoffReset(t *testing.T) {
	// Crash three times quickly, then stay up longer than the stable time
	// (1 s): the next crash is revived after 1 s again, not 2 s.
	dir := service(t, `date +%s.%N >> starts
n=$(wc -l < starts)
if [ "$n" -eq 4 ]; then sleep 1.3; fi
exit 1
`)
	os.WriteFile(filepath.Join(dir, "backoff"), []byte("60 1\n"), 0644)
	startSupervise(t, svkit, dir)
	var ts []float64
	testenv.WaitFor(t, 30*time.Second, "6 starts", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "starts"))
		ts = ts[:0]
		for _, f := range strings.Fields(string(b)) {
			v, _ := strconv.ParseFloat(f, 64)
			ts = append(ts, v)
		}
		return len(ts) >= 6
	})
	// Start 5 comes 1.3 s (run time) + 1 s after start 4, start 6 one
	// second after start 5: the stable run reset the count.
	if d := ts[4] - ts[3]; d < 2.2 || d > 2.9 {
		t.Errorf("after the stable run: %.2fs (%v)", d, ts)
	}
	if d := ts[5] - ts[4]; d < 0.95 || d > 1.6 {
		t.Errorf("after the reset: %.2fs (%v)", d, ts)
	}
}

func TestFinish(t *testing.T) {
	dir := service(t, "echo start >> starts\nread x < /dev/null\nexit 3\n")
	testenv.WriteScript(t, filepath.Join(dir, "finish"), "echo \"$@\" >> finishes\nsleep 0.3\n")
	startSupervise(t, svkit, dir)
	testenv.WaitFor(t, wait, "finish", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "finishes"))
		return strings.HasPrefix(string(b), "3 0\n")
	})
	// While finish runs: status down (pid 0), info state finish.
	in := waitInfo(t, dir, "finish state", func(in svdir.Info) bool { return in.State == svdir.StateFinish || in.State == svdir.StateUp })
	if in.State == svdir.StateFinish {
		if r := readStatus(t, dir); r.Pid != 0 {
			t.Errorf("status pid %d while finish runs", r.Pid)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "supervise/stat")); string(b) != "finish\n" {
			t.Errorf("stat %q", b)
		}
	}
	control(t, dir, "d")
	// A run killed by a signal: -1 and the signal.
	dir2 := service(t, "exec sleep 1000\n")
	testenv.WriteScript(t, filepath.Join(dir2, "finish"), "echo \"$@\" >> finishes\n")
	startSupervise(t, svkit, dir2)
	waitStatus(t, dir2, "up", isUp)
	control(t, dir2, "d")
	if got := readFileWait(t, filepath.Join(dir2, "finishes")); got != "-1 15\n" {
		t.Errorf("finish args %q", got)
	}
	in = waitInfo(t, dir2, "down", func(in svdir.Info) bool { return in.State == svdir.StateDown })
	if in.ExitCode != -1 || in.ExitSignal != 15 {
		t.Errorf("history %+v", in)
	}
}

func TestTimeoutFinish(t *testing.T) {
	dir := service(t, "exit 0\n")
	testenv.WriteScript(t, filepath.Join(dir, "finish"), "echo started > finishing\nexec sleep 1000\n")
	os.WriteFile(filepath.Join(dir, "timeout-finish"), []byte("200\n"), 0644)
	os.WriteFile(filepath.Join(dir, "down"), nil, 0644)
	startSupervise(t, svkit, dir)
	control(t, dir, "o")
	readFileWait(t, filepath.Join(dir, "finishing"))
	start := time.Now()
	waitInfo(t, dir, "finish killed", func(in svdir.Info) bool { return in.State == svdir.StateDown })
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("finish ran %v", d)
	}
}

func TestRunitFiles(t *testing.T) {
	dir := service(t, "exec sleep 1000\n")
	startSupervise(t, svkit, dir)
	r := waitStatus(t, dir, "up", isUp)
	read := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(dir, "supervise", name))
		return string(b)
	}
	// The text files follow the status record within the same event.
	testenv.WaitFor(t, wait, "pid file", func() bool { return read("pid") != "" })
	if read("pid") != strconv.Itoa(r.Pid)+"\n" || read("stat") != "run\n" {
		t.Errorf("up: pid %q stat %q", read("pid"), read("stat"))
	}
	control(t, dir, "p")
	testenv.WaitFor(t, wait, "stat paused", func() bool { return read("stat") == "run, paused\n" })
	control(t, dir, "c")
	testenv.WaitFor(t, wait, "stat running", func() bool { return read("stat") == "run\n" })
	control(t, dir, "d")
	testenv.WaitFor(t, wait, "stat down", func() bool { return read("stat") == "down\n" && read("pid") == "" })
}
