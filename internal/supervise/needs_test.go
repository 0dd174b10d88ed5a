package supervise_test

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"svkit/internal/testenv"
	"svkit/pkg/svdir"
)

// readyAfter is the run of a test service that records the nanosecond
// of its start in ./started (one line per start), says ready on fd 5
// after delay, and records that moment in ./readyat.
func readyAfter(delay string) string {
	return "date +%s%N >> started\nsleep " + delay + "\ndate +%s%N > readyat\necho >&5\nexec sleep 1000\n"
}

// plainRun records its start and runs; it declares no readiness protocol.
const plainRun = "date +%s%N >> started\nexec sleep 1000\n"

// needService makes root/name with run, and a notification-fd of 5 when
// protocol is set.
func needService(t *testing.T, root, name, run string, protocol bool) string {
	t.Helper()
	dir := filepath.Join(root, name)
	testenv.WriteScript(t, filepath.Join(dir, "run"), run)
	if protocol {
		if err := os.WriteFile(filepath.Join(dir, "notification-fd"), []byte("5\n"), 0644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// dependent makes root/b, a plainRun service that has need in its sub
// (needs or binds).
func dependent(t *testing.T, root, sub, need string) string {
	t.Helper()
	b := needService(t, root, "b", plainRun, false)
	testenv.NeedLink(t, root, "b", sub, need)
	return b
}

// starts returns the nanosecond start times a run recorded.
func runStarts(t *testing.T, dir string) []int64 {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(dir, "started"))
	var out []int64
	for _, f := range strings.Fields(string(b)) {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			t.Fatalf("%s/started: %q", dir, b)
		}
		out = append(out, n)
	}
	return out
}

func readyAt(t *testing.T, dir string) int64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "readyat"))
	n, err2 := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || err2 != nil {
		t.Fatalf("%s/readyat: %q %v", dir, b, err)
	}
	return n
}

func nStarts(t *testing.T, dir string, n int) func() bool {
	return func() bool { return len(runStarts(t, dir)) >= n }
}

// The chain a <- b <- c: b starts only once a said it is ready, c only
// once b did; while waiting, c is down and wanted up, its info names what
// it waits for, and its status record is 0.76's. A need that goes down
// later leaves the service up.
func TestNeedsChain(t *testing.T) {
	root := t.TempDir()
	a := needService(t, root, "a", readyAfter("0.5"), true)
	b := needService(t, root, "b", readyAfter("0.3"), true)
	c := needService(t, root, "c", plainRun, false)
	testenv.NeedLink(t, root, "b", "needs", "a")
	testenv.NeedLink(t, root, "c", "needs", "b")
	for _, d := range []string{c, b, a} {
		startSupervise(t, svkit, d)
	}
	in := testenv.WaitInfo(t, wait, c, "c waiting for b", func(in svdir.Info) bool { return slices.Equal(in.WaitingFor, []string{"b"}) })
	if in.Pid != 0 {
		t.Fatalf("c up while waiting: %+v", in)
	}
	if r := testenv.ReadStatus(t, c); r.Pid != 0 || r.Want != svdir.WantUp {
		t.Fatalf("c's status while waiting: %+v", r)
	}
	checkStatusFile(t, c)
	testenv.WaitFor(t, wait, "c started", nStarts(t, c, 1))
	testenv.WaitFor(t, wait, "b started", nStarts(t, b, 1))
	if bs, as := runStarts(t, b)[0], readyAt(t, a); bs < as {
		t.Errorf("b started at %d, before a was ready at %d", bs, as)
	}
	if cs, br := runStarts(t, c)[0], readyAt(t, b); cs < br {
		t.Errorf("c started at %d, before b was ready at %d", cs, br)
	}
	if in := testenv.WaitInfo(t, wait, c, "c up", func(in svdir.Info) bool { return in.Pid != 0 }); len(in.WaitingFor) != 0 {
		t.Errorf("c up and waiting: %+v", in)
	}
	// daemontools semantics: a need going down stops nothing.
	bpid, cpid := testenv.ReadStatus(t, b).Pid, testenv.ReadStatus(t, c).Pid
	testenv.Control(t, a, "d")
	testenv.WaitStatus(t, wait, a, "a down", isDown)
	time.Sleep(200 * time.Millisecond)
	if testenv.ReadStatus(t, b).Pid != bpid || testenv.ReadStatus(t, c).Pid != cpid {
		t.Errorf("b or c stopped with a")
	}
}

// A need in binds/ stops the service when its status says down, and the
// service starts again once the need is ready.
func TestNeedsBinds(t *testing.T) {
	root := t.TempDir()
	a := needService(t, root, "a", readyAfter("0.3"), true)
	b := dependent(t, root, "binds", "a")
	pb := startSupervise(t, svkit, b)
	startSupervise(t, svkit, a)
	first := testenv.WaitStatus(t, wait, b, "b up", isUp)
	testenv.WaitFor(t, wait, "b's first run", nStarts(t, b, 1))
	testenv.Control(t, a, "d")
	testenv.WaitStatus(t, wait, b, "b stopped with a", isDown)
	if in := testenv.WaitInfo(t, wait, b, "b waiting for a", func(in svdir.Info) bool { return len(in.WaitingFor) == 1 }); in.WaitingFor[0] != "a" {
		t.Errorf("waiting for %v", in.WaitingFor)
	}
	testenv.Control(t, a, "u")
	again := testenv.WaitStatus(t, wait, b, "b up again", isUp)
	if again.Pid == first.Pid {
		t.Fatal("b not restarted")
	}
	testenv.WaitFor(t, wait, "b's second run", nStarts(t, b, 2))
	if s := runStarts(t, b); s[len(s)-1] < readyAt(t, a) {
		t.Errorf("b restarted before a was ready again")
	}
	if !strings.Contains(pb.Stderr.String(), "a went down") {
		t.Errorf("stderr: %q", pb.Stderr.String())
	}
}

// A cycle is reported, and both services still start.
func TestNeedsCycle(t *testing.T) {
	root := t.TempDir()
	a := needService(t, root, "a", plainRun, false)
	b := needService(t, root, "b", plainRun, false)
	testenv.NeedLink(t, root, "a", "needs", "b")
	testenv.NeedLink(t, root, "b", "needs", "a")
	pa := startSupervise(t, svkit, a)
	startSupervise(t, svkit, b)
	testenv.WaitStatus(t, wait, a, "a up", isUp)
	testenv.WaitStatus(t, wait, b, "b up", isUp)
	if !strings.Contains(pa.Stderr.String(), "supervise: warning: needs cycle: a -> b -> a\n") {
		t.Errorf("stderr: %q", pa.Stderr.String())
	}
}

// A need that does not exist, or is not a service, is said once and
// waited for; with needs-timeout the wait ends in a failed start naming
// it, and waiting starts again a second later.
func TestNeedsMissing(t *testing.T) {
	root := t.TempDir()
	b := dependent(t, root, "needs", "db")
	os.Symlink("/dev/null", filepath.Join(b, "needs", "null"))
	os.WriteFile(filepath.Join(b, "needs-timeout"), []byte("1\n"), 0644)
	p := startSupervise(t, svkit, b)
	in := testenv.WaitInfo(t, wait, b, "a failed start", func(in svdir.Info) bool { return in.StartFailures >= 2 })
	if in.StartError != "needs not ready after 1 seconds: db, null" || in.Pid != 0 {
		t.Errorf("info %+v", in)
	}
	errs := p.Stderr.String()
	for _, w := range []string{
		"supervise: warning: " + b + "/needs/db does not exist: file does not exist; waiting for it\n",
		"supervise: warning: " + b + "/needs/null is not a service directory or a pid file; waiting for it\n",
		"supervise: warning: " + b + ": needs not ready after 1 seconds: db, null\n",
	} {
		if !strings.Contains(errs, w) {
			t.Errorf("no %q in %q", w, errs)
		}
	}
	// The service appears: b starts.
	os.Remove(filepath.Join(b, "needs", "null"))
	db := needService(t, root, "db", plainRun, false)
	startSupervise(t, svkit, db)
	testenv.WaitStatus(t, wait, b, "b up", isUp)
}

// A supervise killed while its service is ready leaves dependents that
// still start: its successor adopts the service and keeps its readiness.
func TestNeedsReadopted(t *testing.T) {
	root := t.TempDir()
	a := needService(t, root, "a", readyAfter("0"), true)
	b := dependent(t, root, "needs", "a")
	pa := startSupervise(t, svkit, a)
	ready := testenv.WaitInfo(t, wait, a, "a ready", func(in svdir.Info) bool { return in.Ready })
	pa.KillAndWait(t, syscall.SIGKILL)
	startSupervise(t, svkit, a)
	in := testenv.WaitInfo(t, wait, a, "a adopted", func(in svdir.Info) bool { return in.Supervisor != ready.Supervisor })
	if in.Pid != ready.Pid || !in.Ready || !in.Protocol {
		t.Fatalf("readiness lost: %+v, was %+v", in, ready)
	}
	startSupervise(t, svkit, b)
	testenv.WaitStatus(t, wait, b, "b up", isUp)
}

// A need run once with svc -o that exited 0 is ready: a set-up step. One
// that failed is not.
func TestNeedsOnce(t *testing.T) {
	root := t.TempDir()
	setup := needService(t, root, "setup", "test -e ok\n", false)
	os.WriteFile(filepath.Join(setup, "down"), nil, 0644)
	b := dependent(t, root, "needs", "setup")
	startSupervise(t, svkit, setup)
	startSupervise(t, svkit, b)
	testenv.Control(t, setup, "o")
	testenv.WaitInfo(t, wait, setup, "setup failed", func(in svdir.Info) bool { return in.ExitCode == 1 && in.State == svdir.StateDown })
	time.Sleep(100 * time.Millisecond)
	if testenv.ReadStatus(t, b).Pid != 0 {
		t.Fatal("b started after a failed set-up")
	}
	os.WriteFile(filepath.Join(setup, "ok"), nil, 0644)
	testenv.Control(t, setup, "o")
	testenv.WaitStatus(t, wait, b, "b up", isUp)
	if in := testenv.ReadInfo(t, setup); !in.OnceOK {
		t.Errorf("setup info %+v", in)
	}
}

// A link to a pid file is ready while the file names a live process.
func TestNeedsPidFile(t *testing.T) {
	root := t.TempDir()
	b := needService(t, root, "b", plainRun, false)
	pidfile := filepath.Join(root, "daemon.pid")
	os.WriteFile(pidfile, []byte("999999999\n"), 0644)
	os.MkdirAll(filepath.Join(b, "needs"), 0755)
	os.Symlink(pidfile, filepath.Join(b, "needs", "daemon"))
	startSupervise(t, svkit, b)
	testenv.WaitInfo(t, wait, b, "b waiting", func(in svdir.Info) bool { return slices.Equal(in.WaitingFor, []string{"daemon"}) })
	os.WriteFile(pidfile+".new", []byte(strconv.Itoa(os.Getpid())+"\n"), 0644)
	os.Rename(pidfile+".new", pidfile)
	testenv.WaitStatus(t, wait, b, "b up", isUp)
}

// daemontools 0.76's svstat, svok and svc see a waiting service as any
// service wanted up and not yet started.
func TestNeedsSeenBy076(t *testing.T) {
	svstat := testenv.Debian(t, "svstat")
	svok := testenv.Debian(t, "svok")
	root := t.TempDir()
	b := dependent(t, root, "needs", "a")
	needService(t, root, "a", plainRun, false)
	startSupervise(t, svkit, b)
	testenv.WaitInfo(t, wait, b, "b waiting", func(in svdir.Info) bool { return len(in.WaitingFor) == 1 })
	out, _, _ := testenv.Run(t, root, "", svstat, b)
	if !strings.HasPrefix(out, b+": down ") || !strings.HasSuffix(out, " seconds, normally up, want up\n") {
		t.Errorf("0.76 svstat: %q", out)
	}
	if _, _, code := testenv.Run(t, root, "", svok, b); code != 0 {
		t.Errorf("0.76 svok: %d", code)
	}
	// 0.76's svc drives it: -d ends the wait, -u waits again.
	if _, _, code := testenv.Run(t, root, "", testenv.Debian(t, "svc"), "-d", b); code != 0 {
		t.Fatalf("svc -d: %d", code)
	}
	testenv.WaitInfo(t, wait, b, "wait ended", func(in svdir.Info) bool { return len(in.WaitingFor) == 0 })
	out, _, _ = testenv.Run(t, root, "", svstat, b)
	if !strings.HasSuffix(out, " seconds, normally up\n") {
		t.Errorf("0.76 svstat after -d: %q", out)
	}
}
