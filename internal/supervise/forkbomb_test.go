package supervise_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"svkit/internal/testenv"
	"svkit/pkg/svdir"
)

// bombLimit is the task limit of the tree in TestForkBombUnderPidsLimit:
// room for svscan, three supervise processes and two services, and some
// tens of tasks for the bomb to fill.
const bombLimit = 100

// forkBomb is a run script whose every process forks as fast as the limit
// lets it, backing off 50 ms after a failed fork so as not to burn the
// machine's CPU for nothing.
const forkBomb = `exec perl -e 'while (1) { defined(fork) or select(undef, undef, undef, 0.05) }'
`

// pidsCgroup makes a cgroup of the pids controller (cgroup v1, or v2 where
// the test's own cgroup hands pids down) with the given task limit, and
// removes it at the end of the test after killing, by pid, whatever is
// still in it.
func pidsCgroup(t *testing.T, limit int) string {
	t.Helper()
	testenv.Require(t, os.Geteuid() == 0, "making a cgroup needs root")
	parent := pidsParent()
	testenv.Require(t, parent != "", "no pids cgroup controller (neither cgroup v1 pids nor v2 with pids in cgroup.subtree_control)")
	dir := filepath.Join(parent, fmt.Sprintf("svkit-test-forkbomb-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0755); err != nil {
		t.Fatalf("make cgroup: %v", err)
	}
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for {
			pids := cgroupPids(dir)
			if len(pids) == 0 || time.Now().After(deadline) {
				break
			}
			for _, pid := range pids {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			time.Sleep(10 * time.Millisecond)
		}
		// Where the pids controller is cgroup v2's, the services'
		// cgroups are made below this one.
		subs, _ := filepath.Glob(filepath.Join(dir, "svkit-*"))
		for _, d := range append(subs, dir) {
			for syscall.Rmdir(d) == syscall.EBUSY && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
		}
	})
	if err := os.WriteFile(filepath.Join(dir, "pids.max"), []byte(strconv.Itoa(limit)), 0644); err != nil {
		t.Fatalf("set pids.max: %v", err)
	}
	return dir
}

// pidsParent returns the directory under which a pids-limited cgroup can be
// made, or "".
func pidsParent() string {
	if b, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if own, ok := strings.CutPrefix(line, "0::"); ok {
				dir := filepath.Join("/sys/fs/cgroup", own)
				ctl, _ := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
				for _, c := range strings.Fields(string(ctl)) {
					if c == "pids" {
						return dir
					}
				}
			}
		}
	}
	var st syscall.Statfs_t
	const cgroupSuperMagic = 0x27e0eb
	if syscall.Statfs("/sys/fs/cgroup/pids", &st) == nil && st.Type == cgroupSuperMagic {
		return "/sys/fs/cgroup/pids"
	}
	return ""
}

// cgroupPids lists the processes in a cgroup.
func cgroupPids(dir string) []int {
	b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// cgroupNumber reads a number from a cgroup file ("pids.current"), or the
// number after key in a keyed file ("pids.events", "max").
func cgroupNumber(t *testing.T, dir, file, key string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSpace(string(b))
	if key != "" {
		for _, line := range strings.Split(s, "\n") {
			if v, ok := strings.CutPrefix(line, key+" "); ok {
				s = v
			}
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%s/%s: %q", dir, file, b)
	}
	return n
}

// cmdline returns a process's arguments joined by spaces.
func cmdline(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// TestForkBombUnderPidsLimit runs svscan with three services in a cgroup
// limited to bombLimit tasks, one of them a fork bomb that fills the limit.
// The Go runtime dies when it cannot create a thread, so every supervise
// and svscan must hold the threads they need from start-up: none of them
// may die, or create a thread, while the limit is full. Meanwhile the
// other services obey svc -d, -u and -t (a start that cannot fork waits,
// as in 0.76), svc -d ends the bomb, every process of it, and afterwards
// the others restart on request.
func TestForkBombUnderPidsLimit(t *testing.T) {
	_, err := exec.LookPath("perl")
	testenv.Require(t, err == nil, "perl runs the fork bomb")
	bin := testenv.Bin(t)
	testenv.Prog(t, "supervise")
	// The temporary directory goes after the cgroup's processes, which
	// write into it, are gone (cleanups run last in, first out), and the
	// services' cgroups go once the processes in them are.
	root := t.TempDir()
	t.Cleanup(func() { testenv.RemoveGroupsUnder(root) })
	cg := pidsCgroup(t, bombLimit)
	for _, name := range []string{"a", "b"} {
		testenv.WriteScript(t, filepath.Join(root, name, "run"), "exec sleep 1000\n")
	}
	bomb := filepath.Join(root, "bomb")
	testenv.WriteScript(t, filepath.Join(bomb, "run"), forkBomb)
	if err := os.WriteFile(filepath.Join(bomb, "down"), nil, 0644); err != nil {
		t.Fatal(err)
	}
	dirs := map[string]string{"a": filepath.Join(root, "a"), "b": filepath.Join(root, "b"), "bomb": bomb}

	// svscan joins the cgroup before it execs, so everything it starts is
	// in it.
	cmd := exec.Command("/bin/sh", "-c", `echo $$ > "$1/cgroup.procs" && exec "$2" "$3"`,
		"sh", cg, filepath.Join(bin, "svscan"), root)
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
	scan := testenv.Start(t, cmd)

	// The supervise processes, their threads, and the services, before
	// the bomb goes off.
	sup := map[string]int{}
	testenv.WaitFor(t, wait, "svscan's three supervise processes", func() bool {
		for _, pid := range cgroupPids(cg) {
			if name, ok := strings.CutPrefix(cmdline(pid), "supervise "); ok {
				sup[name] = pid
			}
		}
		return len(sup) == 3
	})
	for _, name := range []string{"a", "b"} {
		testenv.WaitStatus(t, wait, dirs[name], name+" up", isUp)
	}
	// supervise/ok opens once supervise has made its threads.
	for name, dir := range dirs {
		testenv.WaitFor(t, wait, "supervise "+name+" to answer", func() bool {
			ok, _ := svdir.OK(dir)
			return ok
		})
	}
	threads := map[string]int{"svscan": testenv.ThreadCount(scan.Pid())}
	for name, pid := range sup {
		threads[name] = testenv.ThreadCount(pid)
	}
	tasks := cgroupNumber(t, cg, "pids.current", "")
	t.Logf("threads before the bomb: %v; tasks %d", threads, tasks)

	// alive checks that svscan and every supervise are still there.
	alive := func(when string) {
		t.Helper()
		if scan.Exited() {
			t.Fatalf("%s: svscan died: %s", when, head(scan.Stderr.String()))
		}
		for name, pid := range sup {
			if !testenv.Alive(pid) || !strings.HasPrefix(cmdline(pid), "supervise ") {
				t.Fatalf("%s: supervise %s (pid %d) died; svscan's stderr:\n%s", when, name, pid, head(scan.Stderr.String()))
			}
		}
	}
	// sameThreads checks that none of them made a thread: one more
	// thread than the limit allows kills a Go program.
	sameThreads := func(when string) {
		t.Helper()
		for name, pid := range sup {
			if n := testenv.ThreadCount(pid); n != threads[name] {
				t.Errorf("%s: supervise %s has %d threads, had %d", when, name, n, threads[name])
			}
		}
		if n := testenv.ThreadCount(scan.Pid()); n != threads["svscan"] {
			t.Errorf("%s: svscan has %d threads, had %d", when, n, threads["svscan"])
		}
	}

	// waitFor is testenv.WaitStatus that says so at once when a supervise dies.
	waitFor := func(name, what string, cond func(svdir.Status) bool) {
		t.Helper()
		testenv.WaitFor(t, wait, what, func() bool {
			alive(what)
			r, err := svdir.ReadStatusOf(dirs[name])
			return err == nil && cond(r)
		})
	}

	testenv.Control(t, bomb, "u")
	testenv.WaitFor(t, wait, "the bomb to fill the limit", func() bool {
		return cgroupNumber(t, cg, "pids.current", "") >= bombLimit-1
	})
	full := func(when string) {
		t.Helper()
		if n := cgroupNumber(t, cg, "pids.current", ""); n < bombLimit-2 {
			t.Fatalf("%s: the bomb no longer fills the limit: %d tasks", when, n)
		}
	}
	alive("limit reached")
	sameThreads("limit reached")

	// While the limit is full, the others obey every command: what needs
	// no fork happens, a start that cannot fork waits for svc -u or 60 s.
	for round := 0; round < 5; round++ {
		when := fmt.Sprintf("round %d", round)
		testenv.Control(t, dirs["b"], "d")
		waitFor("b", "b down", func(r svdir.Status) bool { return isDown(r) && r.Want == svdir.WantDown })
		testenv.Control(t, dirs["b"], "u")
		waitFor("b", "b wanted up", func(r svdir.Status) bool { return r.Want == svdir.WantUp })
		old := testenv.ReadStatus(t, dirs["a"]).Pid
		testenv.Control(t, dirs["a"], "t")
		waitFor("a", "a's run gone", func(r svdir.Status) bool { return r.Pid != old || old == 0 })
		testenv.Control(t, dirs["a"], "h")
		alive(when)
		sameThreads(when)
		full(when)
	}

	// svc -d ends the bomb: every process of it.
	testenv.Control(t, bomb, "d")
	waitFor("bomb", "bomb down", isDown)
	testenv.WaitFor(t, wait, "every process of the bomb gone", func() bool {
		for _, pid := range cgroupPids(cg) {
			if strings.HasPrefix(cmdline(pid), "perl") {
				return false
			}
		}
		return true
	})
	// Killed processes count against the limit until they are reaped.
	testenv.WaitFor(t, wait, "the bomb's tasks released", func() bool {
		return cgroupNumber(t, cg, "pids.current", "") <= tasks
	})
	alive("bomb down")
	sameThreads("bomb down")

	// The others start at once on request, and restart as usual.
	for _, name := range []string{"a", "b"} {
		testenv.Control(t, dirs[name], "u")
		waitFor(name, name+" up again", isUp)
	}
	old := testenv.ReadStatus(t, dirs["a"]).Pid
	testenv.Control(t, dirs["a"], "t")
	waitFor("a", "a restarted", func(r svdir.Status) bool { return r.Pid != 0 && r.Pid != old })
	alive("after")
	sameThreads("after")
	if n := cgroupNumber(t, cg, "pids.events", "max"); n == 0 {
		t.Errorf("pids.events counts no fork refused: the limit was never hit")
	}
}

// head returns the first lines of a long text (a Go runtime's fatal error
// and the start of its stack dump).
func head(s string) string {
	lines := strings.Split(s, "\n")
	if len(lines) > 12 {
		lines = lines[:12]
	}
	return strings.Join(lines, "\n")
}
