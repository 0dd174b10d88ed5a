package svscan_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"svkit/internal/svscan"
	"svkit/internal/testenv"
	"svkit/pkg/svdir"
)

// keepers returns the log pipe keepers working in dir, with their states
// (R, S, T, ...).
func keepers(dir string) map[int]byte {
	out := map[int]byte{}
	for _, p := range procs() {
		if p.cwd != dir || p.state == 'Z' {
			continue
		}
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/comm"); err == nil && string(b) == svscan.KeeperName+"\n" {
			out[p.pid] = p.state
		}
	}
	return out
}

// burstOnce is a run script that writes "line 1" to "line 200" once (a file
// marks it done) and then sleeps.
const burstOnce = `if [ -e burst-done ]; then exec sleep 1000; fi
i=1
while [ $i -le 200 ]; do echo "line $i"; i=$((i+1)); done
touch burst-done
exec sleep 1000
`

// TestInProcessKeeper: under svscan -i, the lines in a log pipe outlive
// svscan, the logger and the service all gone at once. The logger is down,
// the service writes 200 lines into the pipe, then svscan and the service
// are killed: the keeper, a process svscan -i keeps stopped while it runs,
// still holds the pipe, and the logger the next svscan -i starts reads
// every line. That svscan retires the dead one's keeper once it holds the
// FIFO itself, and an ordered shutdown leaves no keeper behind.
func TestInProcessKeeper(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCgroup(t)
	tr := newTree(t, svkitPair)
	os.Symlink(testenv.Prog(t, "multilog"), filepath.Join(tr.bin, "multilog"))
	s := tr.service("s", burstOnce, "exec multilog ./main\n")
	testenv.WriteFile(t, filepath.Join(s, "down"), "", 0644)
	svscanProg, svc := testenv.Prog(t, "svscan"), testenv.Prog(t, "svc")
	p := tr.start(svscanProg, "-i")
	waitUp(t, s+"/log", 10*time.Second)

	// The logger down, then the service's burst into the pipe.
	testenv.MustRun(t, svc, "-d", s+"/log")
	testenv.WaitStatus(t, 5*time.Second, s+"/log", "down", func(r svdir.Status) bool { return r.Pid == 0 })
	testenv.MustRun(t, svc, "-u", s)
	pid := waitUp(t, s, 5*time.Second)
	os.Remove(filepath.Join(s, "down")) // up again under the next svscan
	testenv.WaitFor(t, 5*time.Second, "the burst written", func() bool {
		_, err := os.Stat(filepath.Join(s, "burst-done"))
		return err == nil
	})
	var old int
	testenv.WaitFor(t, 5*time.Second, "one keeper, stopped", func() bool {
		k := keepers(tr.scan)
		for pid, state := range k {
			old = pid
			return len(k) == 1 && state == 'T'
		}
		return false
	})

	p.KillAndWait(t, syscall.SIGKILL)
	syscall.Kill(pid, syscall.SIGKILL)
	testenv.WaitFor(t, 5*time.Second, "the service gone", func() bool { return !testenv.Alive(pid) })
	if !testenv.Alive(old) {
		t.Fatalf("the keeper %d died with svscan", old)
	}

	p = tr.start(svscanProg, "-o", "-i")
	waitUp(t, s, 10*time.Second)
	testenv.MustRun(t, svc, "-u", s+"/log")
	current := filepath.Join(s, "log/main/current")
	testenv.WaitFor(t, 10*time.Second, "line 200 in the log", func() bool {
		return strings.Contains(testenv.Peek(current), "line 200\n")
	})
	checkContiguous(t, current, 200)
	testenv.WaitFor(t, 5*time.Second, "the old keeper retired, a new one stopped", func() bool {
		k := keepers(tr.scan)
		_, oldThere := k[old]
		return !oldThere && len(k) == 1
	})

	syscall.Kill(p.Pid(), syscall.SIGTERM)
	if code := p.Wait(t, 10*time.Second); code != 0 {
		t.Fatalf("ordered shutdown: exit %d; stderr %s", code, tr.stderr())
	}
	testenv.WaitFor(t, 2*time.Second, "no process left", func() bool { return len(under(tr.root)) == 0 })
	tr.checkQuiet(t)
}

// TestInProcessKeeperLeaves: a keeper whose svscan died, and that no
// successor retires, exits by itself once the service directories whose
// pipes it holds are removed.
func TestInProcessKeeperLeaves(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCgroup(t)
	tr := newTree(t, svkitPair)
	os.Symlink(testenv.Prog(t, "multilog"), filepath.Join(tr.bin, "multilog"))
	var dirs []string
	for _, n := range []string{"a", "b", "c"} {
		dirs = append(dirs, tr.service(n, "exec sleep 1000\n", "exec multilog ./main\n"))
	}
	p := tr.start(testenv.Prog(t, "svscan"), "-i")
	var pids []int
	for _, d := range dirs {
		pids = append(pids, waitUp(t, d, 10*time.Second), waitUp(t, d+"/log", 10*time.Second))
	}
	var keeper int
	testenv.WaitFor(t, 5*time.Second, "a keeper", func() bool {
		for pid := range keepers(tr.scan) {
			keeper = pid
		}
		return keeper != 0
	})
	p.KillAndWait(t, syscall.SIGKILL)
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	for i, d := range dirs {
		if !testenv.Alive(keeper) {
			t.Fatalf("the keeper left with %d of 3 services still there", 3-i)
		}
		// The cgroups of the killed services and loggers, which the
		// killed svscan cannot remove, go with the directories.
		testenv.RemoveGroup(d)
		testenv.RemoveGroup(d + "/log")
		if err := os.RemoveAll(d); err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			// Still holding the others' pipes.
			time.Sleep(50 * time.Millisecond)
		}
	}
	testenv.WaitFor(t, 5*time.Second, "the keeper gone", func() bool { return !testenv.Alive(keeper) })
}
