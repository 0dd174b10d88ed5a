package svscan_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"svkit/internal/testenv"
	"svkit/pkg/svdir"
)

// superviseProcs lists the supervise processes under root.
func superviseProcs(root string) []int {
	var out []int
	for _, p := range under(root) {
		if len(p.argv) > 0 && filepath.Base(p.argv[0]) == "supervise" {
			out = append(out, p.pid)
		}
	}
	return out
}

// TestInProcess: svscan -i supervises every service and log itself, with
// no supervise process; 0.76's svc, svstat and svok drive and read the
// services as under supervise processes; the log pipe carries the lines;
// svc -x ends one service's supervision and the next pass takes it up
// again; a SIGKILLed svscan leaves the services running and the next
// svscan -i adopts them (the same pids, never a second copy); and -o
// takes the tree down in order.
func TestInProcess(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCgroup(t)
	tr := newTree(t, svkitPair)
	a := tr.service("a", "exec sleep 1000\n", "")
	b := tr.service("b", "echo hello\nexec sleep 1000\n", "exec multilog t ./main\n")
	os.Symlink(testenv.Prog(t, "multilog"), filepath.Join(tr.bin, "multilog"))
	p := tr.start(testenv.Prog(t, "svscan"), "-i")
	pa, pb, pl := waitUp(t, a, 10*time.Second), waitUp(t, b, 10*time.Second), waitUp(t, b+"/log", 10*time.Second)
	if sups := superviseProcs(tr.root); len(sups) != 0 {
		t.Errorf("supervise processes under svscan -i: %v", sups)
	}
	testenv.WaitFor(t, 5*time.Second, "b's line in its log", func() bool {
		return strings.Contains(testenv.Peek(filepath.Join(b, "log/main/current")), " hello\n")
	})

	svc, svstat, svok := testenv.Debian(t, "svc"), testenv.Debian(t, "svstat"), testenv.Debian(t, "svok")
	testenv.MustRun(t, svc, "-d", a)
	testenv.WaitStatus(t, 5*time.Second, a, "down", func(r svdir.Status) bool { return r.Pid == 0 })
	if out, _, _ := testenv.Run(t, "", "", svstat, a); !strings.HasPrefix(out, a+": down ") || !strings.Contains(out, "normally up") {
		t.Errorf("0.76 svstat: %q", out)
	}
	testenv.MustRun(t, svc, "-u", a)
	pa = waitUp(t, a, 5*time.Second)
	if out, _, _ := testenv.Run(t, "", "", svstat, a); !strings.HasPrefix(out, a+": up (pid ") {
		t.Errorf("0.76 svstat: %q", out)
	}

	// svc -x on a service that is down ends its supervision: the lock
	// is free and svok says so; the next pass supervises it again.
	testenv.MustRun(t, svc, "-dx", a)
	testenv.WaitFor(t, 5*time.Second, "a's supervision ended", func() bool {
		_, _, code := testenv.Run(t, "", "", svok, a)
		return code != 0
	})
	if _, err := os.Stat(filepath.Join(a, "supervise/lock")); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(p.Pid(), syscall.SIGALRM)
	testenv.WaitFor(t, 5*time.Second, "a supervised again", func() bool {
		_, _, code := testenv.Run(t, "", "", svok, a)
		return code == 0
	})
	testenv.MustRun(t, svc, "-u", a)
	pa = waitUp(t, a, 5*time.Second)

	// svscan killed: the services run on; the next one adopts them.
	p.KillAndWait(t, syscall.SIGKILL)
	for _, pid := range []int{pa, pb, pl} {
		if !testenv.Alive(pid) {
			t.Fatalf("process %d died with svscan", pid)
		}
	}
	p = tr.start(testenv.Prog(t, "svscan"), "-o", "-i")
	for dir, pid := range map[string]int{a: pa, b: pb, b + "/log": pl} {
		testenv.WaitFor(t, 5*time.Second, dir+" adopted", func() bool {
			in := svdir.ReadInfoOf(dir)
			return in != nil && in.Supervisor == p.Pid() && in.Pid == pid
		})
	}
	if r, _ := svdir.ReadStatusOf(a); int(r.Pid) != pa {
		t.Errorf("a runs %d after adoption, was %d", r.Pid, pa)
	}

	syscall.Kill(p.Pid(), syscall.SIGTERM)
	if code := p.Wait(t, 10*time.Second); code != 0 {
		t.Fatalf("ordered shutdown: exit %d; stderr %s", code, tr.stderr())
	}
	testenv.WaitFor(t, 2*time.Second, "no process left", func() bool { return len(under(tr.root)) == 0 })
	tr.checkQuiet(t)
}

// TestInProcessPanic: a panic in one hosted supervisor (a test build's
// injected fault) is recovered and said; its service keeps running and the
// next pass supervises it again; the other services are untouched. A
// service with a no-cgroup file is not supervised under -i, and svscan says
// why.
func TestInProcessPanic(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCgroup(t)
	tr := newTree(t, svkitPair)
	a := tr.service("a", "exec sleep 1000\n", "")
	b := tr.service("b", "exec sleep 1000\n", "")
	c := filepath.Join(tr.root, "stage-c")
	testenv.WriteScript(t, filepath.Join(c, "run"), "exec sleep 1000\n")
	testenv.WriteFile(t, filepath.Join(c, "no-cgroup"), "", 0644)
	if err := os.Rename(c, filepath.Join(tr.scan, "c")); err != nil {
		t.Fatal(err)
	}
	c = filepath.Join(tr.scan, "c")
	t.Setenv("SVKIT_TEST_PANIC", "1")
	tr.start(testenv.Prog(t, "svscan"), "-i")
	pa, pb := waitUp(t, a, 10*time.Second), waitUp(t, b, 10*time.Second)
	testenv.MustRun(t, "/bin/sh", "-c", "printf '!' > "+a+"/supervise/control")
	defer func() {
		if t.Failed() {
			t.Log("svscan's stderr: ", tr.stderr())
		}
	}()
	testenv.WaitFor(t, 5*time.Second, "the panic said", func() bool {
		return strings.Contains(tr.stderr(), "svscan: warning: supervision of a failed: injected panic")
	})
	if !testenv.Alive(pa) {
		t.Fatal("a's service died with its supervisor")
	}
	syscall.Kill(tr.p.Pid(), syscall.SIGALRM)
	testenv.WaitFor(t, 5*time.Second, "a adopted by a new supervisor", func() bool {
		in := svdir.ReadInfoOf(a)
		ok, _ := svdir.OK(a)
		return ok && in != nil && in.Pid == pa
	})
	testenv.WaitFor(t, 5*time.Second, "c refused", func() bool {
		return strings.Contains(tr.stderr(), "svscan: warning: unable to supervise c: no-cgroup is present: svscan -i needs a cgroup for every service\n")
	})
	if ok, _ := svdir.OK(c); ok || testenv.PidOf(c) != 0 {
		t.Errorf("c is supervised under -i with a no-cgroup file")
	}
	// The adopted service is the host's child, but its death reaches
	// the new supervisor (through its pidfd).
	testenv.MustRun(t, testenv.Prog(t, "svc"), "-d", a)
	testenv.WaitStatus(t, 5*time.Second, a, "a down", func(r svdir.Status) bool { return r.Pid == 0 })
	if r, _ := svdir.ReadStatusOf(b); int(r.Pid) != pb {
		t.Errorf("b runs %d, was %d", r.Pid, pb)
	}
	testenv.MustRun(t, testenv.Prog(t, "svc"), "-d", b)
	testenv.WaitStatus(t, 5*time.Second, b, "b down", func(r svdir.Status) bool { return r.Pid == 0 })
}
