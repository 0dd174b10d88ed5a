package svscan_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"svkit/internal/testenv"
	"svkit/pkg/svdir"
)

// thousand is how many services TestInProcessThousand supervises
// (SVKIT_THOUSAND overrides it).
func thousand() int {
	if n, err := strconv.Atoi(os.Getenv("SVKIT_THOUSAND")); err == nil && n > 1 {
		return n
	}
	return 1000
}

// TestInProcessThousand: svscan -i supervises 1000 services in one process
// with a handful of threads (at most 20, during the shutdown too) and five
// descriptors per service;
// a panic injected into one supervisor (a test build's fault) is said and
// recovered, its service keeps running and is adopted again, and the other
// 999 are untouched: same pids, same supervisor, their control FIFOs
// answering; the ordered shutdown then takes every one down.
func TestInProcessThousand(t *testing.T) {
	if testing.Short() {
		t.Skip("1000 services skipped in -short mode")
	}
	testenv.RequireRoot(t)
	testenv.RequireCgroup(t)
	n := thousand()
	tr := newTree(t, svkitPair)
	dirs := make([]string, n)
	for i := range dirs {
		dirs[i] = filepath.Join(tr.scan, fmt.Sprintf("s%04d", i))
		testenv.WriteScript(t, filepath.Join(dirs[i], "run"), "exec sleep 100000\n")
	}
	t.Cleanup(func() {
		for _, d := range dirs {
			testenv.RemoveGroup(d)
		}
	})
	t.Setenv("SVKIT_TEST_PANIC", "1")
	start := time.Now()
	p := tr.start(testenv.Prog(t, "svscan"), "-o", "-i")
	pids := make([]int, n)
	testenv.WaitFor(t, 5*time.Minute, "every service up", func() bool {
		for i, d := range dirs {
			if pids[i] == 0 {
				pids[i] = testenv.PidOf(d)
				if pids[i] == 0 {
					return false
				}
			}
		}
		return true
	})
	t.Logf("%d services up after %v", n, time.Since(start).Round(time.Millisecond))
	if th := testenv.ThreadCount(p.Pid()); th > 20 {
		t.Errorf("svscan -i has %d threads with %d services, want at most 20", th, n)
	}
	if sups := superviseProcs(tr.root); len(sups) != 0 {
		t.Errorf("supervise processes under svscan -i: %d", len(sups))
	}
	// Five per service (directory, lock, control, ok, pidfd) and
	// svscan's own few.
	fds := testenv.FDCount(p.Pid())
	if fds > 5*n+40 {
		t.Errorf("svscan -i holds %d descriptors for %d services, want at most 5 each and 40 more", fds, n)
	}
	t.Logf("svscan -i: %d threads, %d descriptors", testenv.ThreadCount(p.Pid()), fds)

	// A panic in one supervisor.
	victim := n / 2
	testenv.MustRun(t, "/bin/sh", "-c", "printf '!' > "+dirs[victim]+"/supervise/control")
	name := filepath.Base(dirs[victim])
	testenv.WaitFor(t, 10*time.Second, "the panic said", func() bool {
		return strings.Contains(tr.stderr(), "svscan: warning: supervision of "+name+" failed: injected panic")
	})
	syscall.Kill(p.Pid(), syscall.SIGALRM)
	testenv.WaitFor(t, 10*time.Second, "the victim adopted again", func() bool {
		in := svdir.ReadInfoOf(dirs[victim])
		ok, _ := svdir.OK(dirs[victim])
		return ok && in != nil && in.Pid == pids[victim]
	})
	// The others: same service process, still svscan's, answering.
	for i, d := range dirs {
		if i == victim {
			continue
		}
		r, err := svdir.ReadStatusOf(d)
		if err != nil || int(r.Pid) != pids[i] || !testenv.Alive(pids[i]) {
			t.Errorf("%s: status %+v (%v), was pid %d", d, r, err, pids[i])
		}
		if ok, err := svdir.OK(d); !ok {
			t.Errorf("%s: not supervised after another's panic: %v", d, err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	stop := time.Now()
	syscall.Kill(p.Pid(), syscall.SIGTERM)
	// The threads stay few while every supervisor stops at once.
	most := 0
	for end := time.Now().Add(3 * time.Minute); !p.Exited() && time.Now().Before(end); {
		most = max(most, testenv.ThreadCount(p.Pid()))
		time.Sleep(10 * time.Millisecond)
	}
	if code := p.Wait(t, time.Second); code != 0 {
		t.Fatalf("ordered shutdown of %d services: exit %d", n, code)
	}
	t.Logf("ordered shutdown of %d services: %v, at most %d threads", n, time.Since(stop).Round(time.Millisecond), most)
	if most > 20 {
		t.Errorf("svscan -i had %d threads during the shutdown, want at most 20", most)
	}
	for i := range dirs {
		if testenv.Alive(pids[i]) {
			t.Fatalf("%s: pid %d still running after the shutdown", dirs[i], pids[i])
		}
	}
}

// TestInProcessOutOfDescriptors: with a hard RLIMIT_NOFILE too small for
// every service, svscan -i supervises what fits, says which service it
// could not supervise, and goes on; the supervised ones work.
func TestInProcessOutOfDescriptors(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCgroup(t)
	tr := newTree(t, svkitPair)
	const n = 30
	var dirs []string
	for i := 0; i < n; i++ {
		d := filepath.Join(tr.scan, fmt.Sprintf("s%02d", i))
		testenv.WriteScript(t, filepath.Join(d, "run"), "exec sleep 100000\n")
		dirs = append(dirs, d)
	}
	t.Cleanup(func() {
		for _, d := range dirs {
			testenv.RemoveGroup(d)
		}
	})
	p := tr.start("/bin/sh", "-c", `ulimit -n 64 && exec "$0" -i "$1"`, testenv.Prog(t, "svscan"))
	var up, unsup []string
	named := func(stderr, d string) bool {
		n := filepath.Base(d)
		return strings.Contains(stderr, " "+n+":") || strings.Contains(stderr, " "+n+"/")
	}
	// Until every service is supervised or named as not: one whose
	// supervisor is still setting up is neither yet.
	testenv.WaitFor(t, 30*time.Second, "every service supervised (some up) or named as not", func() bool {
		stderr := tr.stderr()
		up, unsup = up[:0], unsup[:0]
		for _, d := range dirs {
			if ok, _ := svdir.OK(d); ok {
				if testenv.PidOf(d) != 0 {
					up = append(up, d)
				}
				continue
			}
			if !named(stderr, d) {
				return false
			}
			unsup = append(unsup, d)
		}
		return len(up) >= 3
	})
	if len(unsup) == 0 {
		t.Fatalf("all %d services supervised with 64 descriptors", n)
	}
	stderr := tr.stderr()
	if p.Exited() {
		t.Fatalf("svscan exited: %s", stderr)
	}
	if strings.Contains(stderr, "supervise: ") {
		t.Errorf("svscan -i speaks as supervise:\n%s", stderr)
	}
	// The supervised ones answer.
	testenv.MustRun(t, testenv.Prog(t, "svc"), "-d", up[0])
	testenv.WaitStatus(t, 10*time.Second, up[0], "down", func(r svdir.Status) bool { return r.Pid == 0 })
	t.Logf("%d of %d supervised with 64 descriptors; svscan said:\n%s", len(up), n, stderr)
}
