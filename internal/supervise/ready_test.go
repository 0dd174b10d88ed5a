package supervise_test

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"svkit/internal/testenv"
	"svkit/pkg/svdir"
)

// checkStatusFile asserts the 0.76 record is still exactly 18 bytes.
func checkStatusFile(t *testing.T, dir string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, svdir.StatusPath))
	if err != nil || len(b) != svdir.StatusSize {
		t.Fatalf("status file: %d bytes, %v", len(b), err)
	}
}

func TestReadyWithoutSource(t *testing.T) {
	forHosts(t, func(t *testing.T, im impl) {
		dir := service(t, "exec sleep 1000\n")
		startSupervise(t, im, dir)
		r := testenv.WaitStatus(t, wait, dir, "up", isUp)
		in := testenv.WaitInfo(t, wait, dir, "ready", func(in svdir.Info) bool { return in.Ready })
		if in.State != svdir.StateUp || in.Pid != r.Pid || in.ReadySince == 0 {
			t.Errorf("info %+v", in)
		}
		checkStatusFile(t, dir)
	})
}

func TestReadyNotificationFD(t *testing.T) {
	forHosts(t, func(t *testing.T, im impl) {
		dir := service(t, "sleep 0.3\necho >&5\nexec sleep 1000\n")
		os.WriteFile(filepath.Join(dir, "notification-fd"), []byte("5\n"), 0644)
		startSupervise(t, im, dir)
		r := testenv.WaitStatus(t, wait, dir, "up", isUp)
		// info follows the status record within the same event.
		if in := testenv.WaitInfo(t, wait, dir, "info of the run", func(in svdir.Info) bool { return in.Pid == r.Pid }); in.Ready {
			t.Fatalf("ready at once: %+v", in)
		}
		in := testenv.WaitInfo(t, wait, dir, "ready", func(in svdir.Info) bool { return in.Ready })
		if in.Pid != r.Pid || time.Duration(in.ReadySince-in.Started) < 250*time.Millisecond {
			t.Errorf("info %+v", in)
		}
		// After a restart it is not ready until it says so again.
		testenv.Control(t, dir, "k")
		testenv.WaitInfo(t, wait, dir, "restarted, not ready", func(in svdir.Info) bool { return in.Pid != 0 && in.Pid != r.Pid && !in.Ready })
		testenv.WaitInfo(t, wait, dir, "ready again", func(in svdir.Info) bool { return in.Ready })
		checkStatusFile(t, dir)
	})
}

// notifier builds the sd_notify stand-in (and squatter), in a directory
// that nobody may enter, so that it can also run as nobody.
func notifier(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "svkit-notify-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "notify")
	cmd := exec.Command("go", "build", "-o", out, "./testdata/notify")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build notifier: %v\n%s", err, b)
	}
	return out
}

func TestReadyNotifySocket(t *testing.T) {
	forHosts(t, func(t *testing.T, im impl) {
		n := notifier(t)
		dir := service(t, "echo \"$NOTIFY_SOCKET\" > sockname\nsleep 0.2\n"+n+" STATUS=warming\\ up\nsleep 0.2\n"+n+" READY=1 STATUS=serving\nexec sleep 1000\n")
		os.WriteFile(filepath.Join(dir, "notify-socket"), nil, 0644)
		startSupervise(t, im, dir)
		sock := strings.TrimSpace(testenv.ReadLines(t, wait, filepath.Join(dir, "sockname")))
		if !strings.HasPrefix(sock, "@") {
			t.Fatalf("NOTIFY_SOCKET=%q", sock)
		}
		// A process outside the service is not believed.
		testenv.Run(t, "", "", n, "-to", sock, "READY=1", "STATUS=forged")
		testenv.WaitInfo(t, wait, dir, "status text", func(in svdir.Info) bool { return in.StatusText == "warming up" })
		if in := testenv.ReadInfo(t, dir); in.Ready {
			t.Fatalf("a forged READY=1 was believed: %+v", in)
		}
		in := testenv.WaitInfo(t, wait, dir, "ready", func(in svdir.Info) bool { return in.Ready })
		if in.StatusText != "serving" {
			t.Errorf("status text %q", in.StatusText)
		}
	})
}

func TestReadyCheck(t *testing.T) {
	forHosts(t, func(t *testing.T, im impl) {
		dir := service(t, "sleep 0.4\ntouch flag\nexec sleep 1000\n")
		testenv.WriteScript(t, filepath.Join(dir, "check"), "echo x >> checks\ntest -f flag\n")
		startSupervise(t, im, dir)
		testenv.WaitStatus(t, wait, dir, "up", isUp)
		in := testenv.WaitInfo(t, wait, dir, "ready", func(in svdir.Info) bool { return in.Ready })
		b, _ := os.ReadFile(filepath.Join(dir, "checks"))
		if n := strings.Count(string(b), "x"); n < 2 {
			t.Errorf("check ran %d times", n)
		}
		if time.Duration(in.ReadySince-in.Started) < 350*time.Millisecond {
			t.Errorf("ready too early: %+v", in)
		}
	})
}

// TestBackoff measures the back-off schedule against a crashing run:
// starts 1, 1, 1, 2, 2, 2 seconds apart, and svc -u starts it at once.
func TestBackoff(t *testing.T) {
	forHosts(t, func(t *testing.T, im impl) {
		dir := service(t, "date +%s.%N >> starts\nexit 1\n")
		os.WriteFile(filepath.Join(dir, "backoff"), []byte("2\n"), 0644) // cap 2 s
		startSupervise(t, im, dir)
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
		in := testenv.WaitInfo(t, wait, dir, "history of 6 restarts", func(in svdir.Info) bool { return in.Restarts >= 6 })
		if in.ExitCode != 1 || in.ExitSignal != 0 {
			t.Errorf("history: %+v", in)
		}
		// Now in a 2 s back-off: svc -u starts it at once.
		testenv.WaitInfo(t, wait, dir, "backing off", func(in svdir.Info) bool { return in.Backoff != 0 })
		n := len(times())
		before := time.Now()
		testenv.Control(t, dir, "u")
		testenv.WaitFor(t, wait, "immediate start", func() bool { return len(times()) > n })
		if d := time.Since(before); d > 700*time.Millisecond {
			t.Errorf("svc -u during back-off took %v", d)
		}
		in = testenv.WaitInfo(t, wait, dir, "info of the new start", func(in svdir.Info) bool { return in.Started >= before.UnixNano() })
		if in.Restarts > 1 {
			t.Errorf("restarts not reset by svc -u: %+v", in)
		}
	})
}

func TestBackoffReset(t *testing.T) {
	forHosts(t, func(t *testing.T, im impl) {
		// Crash three times quickly, then stay up longer than the stable time
		// (1 s): the next crash is revived after 1 s again, not 2 s.
		dir := service(t, `date +%s.%N >> starts
n=$(wc -l < starts)
if [ "$n" -eq 4 ]; then sleep 1.3; fi
exit 1
`)
		os.WriteFile(filepath.Join(dir, "backoff"), []byte("60 1\n"), 0644)
		startSupervise(t, im, dir)
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
	})
}

func TestFinish(t *testing.T) {
	forHosts(t, func(t *testing.T, im impl) {
		dir := service(t, "echo start >> starts\nread x < /dev/null\nexit 3\n")
		testenv.WriteScript(t, filepath.Join(dir, "finish"), "echo \"$@\" >> finishes\nsleep 0.3\n")
		startSupervise(t, im, dir)
		testenv.WaitFor(t, wait, "finish", func() bool {
			b, _ := os.ReadFile(filepath.Join(dir, "finishes"))
			return strings.HasPrefix(string(b), "3 0\n")
		})
		// While finish runs: status down (pid 0), info state finish.
		in := testenv.WaitInfo(t, wait, dir, "finish state", func(in svdir.Info) bool { return in.State == svdir.StateFinish || in.State == svdir.StateUp })
		if in.State == svdir.StateFinish {
			if r := testenv.ReadStatus(t, dir); r.Pid != 0 {
				t.Errorf("status pid %d while finish runs", r.Pid)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, svdir.StatPath)); string(b) != "finish\n" {
				t.Errorf("stat %q", b)
			}
		}
		testenv.Control(t, dir, "d")
		// A run killed by a signal: -1 and the signal.
		dir2 := service(t, "exec sleep 1000\n")
		testenv.WriteScript(t, filepath.Join(dir2, "finish"), "echo \"$@\" >> finishes\n")
		startSupervise(t, im, dir2)
		testenv.WaitStatus(t, wait, dir2, "up", isUp)
		testenv.Control(t, dir2, "d")
		if got := testenv.ReadLines(t, wait, filepath.Join(dir2, "finishes")); got != "-1 15\n" {
			t.Errorf("finish args %q", got)
		}
		in = testenv.WaitInfo(t, wait, dir2, "down", func(in svdir.Info) bool { return in.State == svdir.StateDown })
		if in.ExitCode != -1 || in.ExitSignal != 15 {
			t.Errorf("history %+v", in)
		}
	})
}

func TestTimeoutFinish(t *testing.T) {
	forHosts(t, func(t *testing.T, im impl) {
		dir := service(t, "exit 0\n")
		testenv.WriteScript(t, filepath.Join(dir, "finish"), "echo started > finishing\nexec sleep 1000\n")
		os.WriteFile(filepath.Join(dir, "timeout-finish"), []byte("200\n"), 0644)
		os.WriteFile(filepath.Join(dir, "down"), nil, 0644)
		startSupervise(t, im, dir)
		testenv.Control(t, dir, "o")
		testenv.ReadLines(t, wait, filepath.Join(dir, "finishing"))
		start := time.Now()
		testenv.WaitInfo(t, wait, dir, "finish killed", func(in svdir.Info) bool { return in.State == svdir.StateDown })
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("finish ran %v", d)
		}
	})
}

func TestRunitFiles(t *testing.T) {
	forHosts(t, func(t *testing.T, im impl) {
		dir := service(t, "exec sleep 1000\n")
		startSupervise(t, im, dir)
		r := testenv.WaitStatus(t, wait, dir, "up", isUp)
		read := func(name string) string {
			b, _ := os.ReadFile(filepath.Join(dir, "supervise", name))
			return string(b)
		}
		// The text files follow the status record within the same event.
		testenv.WaitFor(t, wait, "pid file", func() bool { return read("pid") != "" })
		if read("pid") != strconv.Itoa(r.Pid)+"\n" || read("stat") != "run\n" {
			t.Errorf("up: pid %q stat %q", read("pid"), read("stat"))
		}
		testenv.Control(t, dir, "p")
		testenv.WaitFor(t, wait, "stat paused", func() bool { return read("stat") == "run, paused\n" })
		testenv.Control(t, dir, "c")
		testenv.WaitFor(t, wait, "stat running", func() bool { return read("stat") == "run\n" })
		testenv.Control(t, dir, "d")
		testenv.WaitFor(t, wait, "stat down", func() bool { return read("stat") == "down\n" && read("pid") == "" })
	})
}

// requireNobody needs root, to run processes as the user nobody.
func requireNobody(t *testing.T) *syscall.Credential {
	t.Helper()
	testenv.RequireRoot(t)
	u, err := user.Lookup("nobody")
	testenv.Require(t, err == nil, "no user nobody")
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
}

// squat binds the socket name as nobody and returns the squatter, whose
// standard output lists the datagrams it received.
func squat(t *testing.T, n string, as *syscall.Credential, name string) *testenv.Proc {
	t.Helper()
	cmd := exec.Command(n, "-bind", name)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: as}
	p := testenv.Start(t, cmd)
	testenv.WaitFor(t, wait, "squatter bound to "+name, func() bool {
		if p.Exited() {
			t.Fatalf("squatter: %s", p.Stderr)
		}
		return strings.HasPrefix(p.Stdout.String(), "bound\n")
	})
	return p
}

// forge sends an sd_notify datagram to sock from outside the service, as
// the given user (nil: as root).
func forge(t *testing.T, n string, as *syscall.Credential, sock string, lines ...string) {
	t.Helper()
	cmd := exec.Command(n, append([]string{"-to", sock}, lines...)...)
	cmd.Dir = "/"
	if as != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: as}
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("forged datagram not sent: %v %s", err, b)
	}
}

// predictableName is the notify socket name a supervise once derived from
// the service directory's identity, which anybody can compute.
func predictableName(t *testing.T, dir string) string {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	return "@svkit-notify-" + strconv.FormatUint(st.Dev, 16) + "-" + strconv.FormatUint(st.Ino, 16)
}

// notifyRun is a run script that writes its NOTIFY_SOCKET to sockname,
// says STATUS=waiting, then STATUS=second once the file go1 exists and
// READY=1 once go2 exists: it is never ready unless it says so.
func notifyRun(n string) string {
	return "echo \"$NOTIFY_SOCKET\" > sockname\n" +
		n + " STATUS=waiting\n" +
		"until [ -e go1 ]; do sleep 0.02; done\n" +
		n + " STATUS=second\n" +
		"until [ -e go2 ]; do sleep 0.02; done\n" +
		n + " READY=1 STATUS=serving\n" +
		"exec sleep 1000\n"
}

func touch(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), nil, 0644); err != nil {
		t.Fatal(err)
	}
}

// waitSaid waits until the service said STATUS=text, or supervise calls
// it ready, and fails if it is ready.
func waitSaid(t *testing.T, dir string, pid int, text string) svdir.Info {
	t.Helper()
	in := testenv.WaitInfo(t, wait, dir, "STATUS="+text, func(in svdir.Info) bool {
		return in.Pid == pid && (in.StatusText == text || in.Ready)
	})
	if in.Ready {
		t.Fatalf("ready without saying so: %+v", in)
	}
	return in
}

// TestNotifySocketSquatter: a user who binds the notify socket's name
// before supervise does, or sends READY=1 to it from outside the service,
// never makes the service ready; the service's own READY=1 does.
func TestNotifySocketSquatter(t *testing.T) {
	nobody := requireNobody(t)
	n := notifier(t)
	for _, noCgroup := range []bool{false, true} {
		t.Run(fmt.Sprintf("no-cgroup=%v", noCgroup), func(t *testing.T) {
			dir := service(t, notifyRun(n))
			touch(t, dir, "notify-socket")
			if noCgroup {
				touch(t, dir, "no-cgroup")
			}
			squat(t, n, nobody, predictableName(t, dir))
			p := startSupervise(t, svkit, dir)
			r := testenv.WaitStatus(t, wait, dir, "up", isUp)
			sock := strings.TrimSpace(testenv.ReadLines(t, wait, filepath.Join(dir, "sockname")))
			if !strings.HasPrefix(sock, "@") || sock == predictableName(t, dir) {
				t.Errorf("NOTIFY_SOCKET=%q", sock)
			}
			waitSaid(t, dir, r.Pid, "waiting")
			// From outside the service, as nobody and as root: not
			// believed. The service's next datagram is read after them.
			forge(t, n, nobody, sock, "READY=1", "STATUS=forged")
			forge(t, n, nil, sock, "READY=1", "STATUS=forged")
			touch(t, dir, "go1")
			waitSaid(t, dir, r.Pid, "second")
			touch(t, dir, "go2")
			in := testenv.WaitInfo(t, wait, dir, "ready", func(in svdir.Info) bool { return in.Ready })
			if in.StatusText != "serving" || in.Pid != r.Pid {
				t.Errorf("info %+v", in)
			}
			if s := p.Stderr.String(); s != "" {
				t.Errorf("supervise: %s", s)
			}
		})
	}
}

// infoInode is the inode of supervise/info: a new one means a new write.
func infoInode(t *testing.T, dir string) uint64 {
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(dir, svdir.InfoPath), &st); err != nil {
		return 0
	}
	return st.Ino
}

// startSuccessor starts a supervise for dir after its predecessor was
// killed, waits until it adopted the service of pid and wrote its first
// supervise/info, and returns it with that info.
func startSuccessor(t *testing.T, dir string, pid int) (*testenv.Proc, svdir.Info) {
	t.Helper()
	old := infoInode(t, dir)
	p := startSupervise(t, svkit, dir)
	testenv.WaitFor(t, wait, "successor's info", func() bool { return infoInode(t, dir) != old })
	in := testenv.ReadInfo(t, dir)
	if in.Pid != pid {
		t.Fatalf("successor did not adopt %d: %+v", pid, in)
	}
	return p, in
}

// TestNotifySocketAdopted: a supervise killed and started again adopts the
// service with its readiness and binds the same notify socket again, which
// the service keeps in its environment. A squatter that took the name in
// between gets the datagrams, not readiness: the successor warns, the
// service stays not ready, and its next run gets a new socket.
func TestNotifySocketAdopted(t *testing.T) {
	nobody := requireNobody(t)
	n := notifier(t)
	t.Run("rebound", func(t *testing.T) {
		dir := service(t, notifyRun(n))
		touch(t, dir, "notify-socket")
		p := startSupervise(t, svkit, dir)
		r := testenv.WaitStatus(t, wait, dir, "up", isUp)
		waitSaid(t, dir, r.Pid, "waiting")
		p.KillAndWait(t, syscall.SIGKILL)
		p, in := startSuccessor(t, dir, r.Pid)
		if in.Ready || in.StatusText != "waiting" {
			t.Errorf("adopted: %+v", in)
		}
		touch(t, dir, "go1")
		waitSaid(t, dir, r.Pid, "second")
		touch(t, dir, "go2")
		ready := testenv.WaitInfo(t, wait, dir, "ready", func(in svdir.Info) bool { return in.Ready })
		// Ready stays ready through the next adoption.
		p.KillAndWait(t, syscall.SIGKILL)
		p, in = startSuccessor(t, dir, r.Pid)
		if !in.Ready || in.ReadySince != ready.ReadySince || in.StatusText != "serving" {
			t.Errorf("adopted %+v, was %+v", in, ready)
		}
		if s := p.Stderr.String(); s != "" {
			t.Errorf("supervise: %s", s)
		}
	})
	t.Run("squatted", func(t *testing.T) {
		dir := service(t, notifyRun(n))
		touch(t, dir, "notify-socket")
		p := startSupervise(t, svkit, dir)
		r := testenv.WaitStatus(t, wait, dir, "up", isUp)
		sock := strings.TrimSpace(testenv.ReadLines(t, wait, filepath.Join(dir, "sockname")))
		waitSaid(t, dir, r.Pid, "waiting")
		p.KillAndWait(t, syscall.SIGKILL)
		sq := squat(t, n, nobody, sock)
		p, in := startSuccessor(t, dir, r.Pid)
		warning := "supervise: warning: unable to create notify socket for " + dir + ": address already used\n"
		if s := p.Stderr.String(); s != warning {
			t.Errorf("supervise: %q, want %q", s, warning)
		}
		if in.Ready {
			t.Errorf("adopted: %+v", in)
		}
		// The service's READY=1 reaches the squatter, not supervise.
		touch(t, dir, "go1")
		touch(t, dir, "go2")
		testenv.WaitFor(t, wait, "READY=1 at the squatter", func() bool { return strings.Contains(sq.Stdout.String(), "READY=1") })
		if in := testenv.ReadInfo(t, dir); in.Ready {
			t.Errorf("ready: %+v", in)
		}
		if _, errs, code := testenv.Run(t, "", "", testenv.Prog(t, "svwait"), "-U", "-t", "300", dir); code != 1 {
			t.Errorf("svwait -U: exit %d, %s", code, errs)
		}
		// The next run gets a socket of a new name.
		os.Remove(filepath.Join(dir, "go1"))
		os.Remove(filepath.Join(dir, "go2"))
		os.Remove(filepath.Join(dir, "sockname"))
		testenv.Control(t, dir, "k")
		r2 := testenv.WaitStatus(t, wait, dir, "restarted", func(n svdir.Status) bool { return n.Pid != 0 && n.Pid != r.Pid })
		sock2 := strings.TrimSpace(testenv.ReadLines(t, wait, filepath.Join(dir, "sockname")))
		if !strings.HasPrefix(sock2, "@") || sock2 == sock {
			t.Errorf("NOTIFY_SOCKET=%q after %q", sock2, sock)
		}
		waitSaid(t, dir, r2.Pid, "waiting")
		touch(t, dir, "go1")
		touch(t, dir, "go2")
		testenv.WaitInfo(t, wait, dir, "ready", func(in svdir.Info) bool { return in.Ready && in.Pid == r2.Pid })
	})
}

// TestReadySourceBroken: a readiness source that cannot work leaves the
// service up but not ready, with a warning, never ready by default.
func TestReadySourceBroken(t *testing.T) {
	for _, tc := range []struct {
		name, file, data string
		mode             os.FileMode
		warning          string
	}{
		{"notification-fd", "notification-fd", "x\n", 0644, "unable to parse DIR/notification-fd: x"},
		{"check", "check", "exit 0\n", 0644, "unable to start DIR/check: access denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := service(t, "exec sleep 1000\n")
			if err := os.WriteFile(filepath.Join(dir, tc.file), []byte(tc.data), tc.mode); err != nil {
				t.Fatal(err)
			}
			p := startSupervise(t, svkit, dir)
			r := testenv.WaitStatus(t, wait, dir, "up", isUp)
			// info follows the status record within the same event.
			if in := testenv.WaitInfo(t, wait, dir, "info of the run", func(in svdir.Info) bool { return in.Pid == r.Pid }); in.Ready {
				t.Errorf("ready: %+v", in)
			}
			warning := "supervise: warning: " + strings.Replace(tc.warning, "DIR", dir, 1) + "\n"
			testenv.WaitFor(t, wait, "warning", func() bool { return p.Stderr.String() != "" })
			// Said once, not at every try.
			time.Sleep(3 * 200 * time.Millisecond)
			if s := p.Stderr.String(); s != warning {
				t.Errorf("supervise: %q, want %q", s, warning)
			}
			if in := testenv.ReadInfo(t, dir); in.Ready {
				t.Errorf("ready: %+v", in)
			}
		})
	}
}

// TestNotifySocketClients: the service's own notifiers are believed when
// they are systemd's systemd-notify, or run as another user (setuidgid),
// as a daemon that drops privileges does.
func TestNotifySocketClients(t *testing.T) {
	requireNobody(t)
	n := notifier(t)
	sdNotify, err := exec.LookPath("systemd-notify")
	testenv.Require(t, err == nil, "systemd-notify is not installed")
	for _, tc := range []struct{ name, run string }{
		{"systemd-notify", sdNotify + " --status=waiting\n" +
			"until [ -e go1 ]; do sleep 0.02; done\n" +
			sdNotify + " --ready --status=serving\n" +
			"exec sleep 1000\n"},
		{"setuidgid", "exec " + testenv.Prog(t, "setuidgid") + " nobody sh -c '" +
			n + " STATUS=waiting\n" +
			"until [ -e go1 ]; do sleep 0.02; done\n" +
			n + " READY=1 STATUS=serving\n" +
			"exec sleep 1000'\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := service(t, tc.run)
			touch(t, dir, "notify-socket")
			p := startSupervise(t, svkit, dir)
			r := testenv.WaitStatus(t, wait, dir, "up", isUp)
			waitSaid(t, dir, r.Pid, "waiting")
			touch(t, dir, "go1")
			testenv.WaitInfo(t, wait, dir, "ready", func(in svdir.Info) bool { return in.Ready && in.StatusText == "serving" })
			if s := p.Stderr.String(); s != "" {
				t.Errorf("supervise: %s", s)
			}
		})
	}
}

// TestNotifySocketStalePid: the pid in a datagram's credentials may name
// another process by the time supervise reads it. A forger outside the
// service sends READY=1 while supervise is stopped, exits and is reaped,
// and its pid is given (through ns_last_pid) to a process that joins the
// service's cgroup: supervise does not believe the datagram, since the
// sender it names (by pidfd) is gone; the new process's own datagram is
// believed.
func TestNotifySocketStalePid(t *testing.T) {
	nobody := requireNobody(t)
	requireGroup(t)
	n := notifier(t)
	dir := service(t, "echo \"$NOTIFY_SOCKET\" > sockname\n"+n+" STATUS=waiting\nexec sleep 1000\n")
	touch(t, dir, "notify-socket")
	p := startSupervise(t, svkit, dir)
	r := testenv.WaitStatus(t, wait, dir, "up", isUp)
	sock := strings.TrimSpace(testenv.ReadLines(t, wait, filepath.Join(dir, "sockname")))
	waitSaid(t, dir, r.Pid, "waiting")
	if err := syscall.Kill(p.Pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(p.Pid(), syscall.SIGCONT) })
	// The process that takes the forger's pid waits for go, then says
	// STATUS=after itself. Another fork on the machine may take the pid
	// first: then another forger sends another datagram, equally refused.
	var forger int
	var victim *testenv.Proc
	for round := 0; round < 5 && victim == nil; round++ {
		cmd := exec.Command(n, "-to", sock, "READY=1", "STATUS=forged")
		cmd.Dir = "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: nobody}
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("forged datagram not sent: %v %s", err, b)
		}
		forger = cmd.Process.Pid
		victim = testenv.StartAtPid(t, forger, func() *exec.Cmd {
			v := exec.Command("sh", "-c", "until [ -e go ]; do sleep 0.02; done; exec "+n+" -to "+sock+" STATUS=after")
			v.Dir = dir
			return v
		})
	}
	if victim == nil {
		t.Fatalf("no forger's pid could be given to a new process in 5 rounds (the last %d)", forger)
	}
	procs := filepath.Join(groupPath(t, dir), "cgroup.procs")
	if err := os.WriteFile(procs, []byte(strconv.Itoa(forger)), 0); err != nil {
		t.Fatalf("move %d into the service's cgroup: %v", forger, err)
	}
	if err := syscall.Kill(p.Pid(), syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	touch(t, dir, "go")
	in := waitSaid(t, dir, r.Pid, "after")
	if in.Ready {
		t.Errorf("ready: %+v", in)
	}
}
