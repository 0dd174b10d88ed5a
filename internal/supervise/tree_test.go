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

	"golang.org/x/sys/unix"

	"svkit/internal/cgroup"
	"svkit/internal/proc"
	"svkit/internal/testenv"
	"svkit/pkg/svdir"
)

// marked returns the pids of live processes whose command line contains
// the marker.
func marked(marker string) []int {
	var pids []int
	for _, in := range proc.All() {
		if in.State == 'Z' {
			continue
		}
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", in.Pid))
		if strings.Contains(string(b), marker) {
			pids = append(pids, in.Pid)
		}
	}
	return pids
}

func killMarked(marker string) {
	for _, pid := range marked(marker) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// waitMarked waits until n live processes carry the marker.
func waitMarked(t *testing.T, marker string, n int, what string) {
	t.Helper()
	testenv.WaitFor(t, wait, what, func() bool { return len(marked(marker)) == n })
}

// uniq returns a marker no other test uses (a sleep duration) and kills
// the processes that carry it when the test ends.
func uniq(t *testing.T) string {
	m := strconv.Itoa(100000 + int(time.Now().UnixNano()%800000))
	t.Cleanup(func() { killMarked(m) })
	return m
}

// TestReadopt: after supervise (or svscan -i, the host of the supervisor)
// is SIGKILLed, the one that replaces it re-adopts the running service
// instead of starting a second copy; 0.76 starts a duplicate.
func TestReadopt(t *testing.T) {
	for _, im := range hosts {
		t.Run(im.name, func(t *testing.T) {
			m := uniq(t)
			dir := service(t, "echo start >> starts\nexec sleep "+m+"\n")
			p := startSupervise(t, im, dir)
			r := testenv.WaitStatus(t, wait, dir, "up", isUp)
			p.KillAndWait(t, syscall.SIGKILL)
			if !testenv.Alive(r.Pid) {
				t.Fatal("run died with supervise")
			}
			startSupervise(t, im, dir)
			if im.name == "0.76" {
				// The known 0.76 failure: a second copy.
				waitMarked(t, m, 2, "0.76's duplicate")
				return
			}
			r2 := testenv.ReadStatus(t, dir)
			if r2.Pid != r.Pid || r2.When != r.When {
				t.Fatalf("re-adopted status %+v, want pid %d since %v", r2, r.Pid, r.When)
			}
			time.Sleep(300 * time.Millisecond)
			if pids := marked(m); len(pids) != 1 {
				t.Fatalf("copies running: %v", pids)
			}
			if got := svstat(t, dir); got != "up (pid P) S seconds\n" {
				t.Errorf("svstat %q", got)
			}
			bringDown(t, dir)
			testenv.WaitFor(t, wait, "old copy gone", func() bool { return !testenv.Alive(r.Pid) })
			testenv.Control(t, dir, "u")
			r3 := testenv.WaitStatus(t, wait, dir, "up again", isUp)
			if r3.Pid == r.Pid {
				t.Fatal("same pid")
			}
			testenv.WaitFor(t, wait, "the second start", func() bool {
				b, _ := os.ReadFile(filepath.Join(dir, "starts"))
				return string(b) == "start\nstart\n"
			})
		})
	}
}

// TestNoAdoptionOfRecycledPid: a process record that names a pid now used
// by another process (different start time, or another boot) is not
// adopted, and svc never signals that process.
func TestNoAdoptionOfRecycledPid(t *testing.T) {
	m := uniq(t)
	victim := testenv.Start(t, exec.Command("sleep", m))
	id, err := proc.Lookup(victim.Pid())
	if err != nil {
		t.Fatal(err)
	}
	boot := proc.BootID()
	for _, rec := range []string{
		fmt.Sprintf("%d %d %s\n", id.Pid, id.Start+1, boot),
		fmt.Sprintf("%d %d %s\n", id.Pid, id.Start, "00000000-0000-0000-0000-000000000000"),
		fmt.Sprintf("%d %d %s %d\n", id.Pid, id.Start, boot, 12345), // another process's pidfs inode
		"garbage\n",
	} {
		dir := service(t, "exec sleep 1000\n")
		os.MkdirAll(filepath.Join(dir, "supervise"), 0700)
		os.WriteFile(filepath.Join(dir, svdir.ProcessPath), []byte(rec), 0644)
		startSupervise(t, svkit, dir)
		r := testenv.WaitStatus(t, wait, dir, "up", isUp)
		if r.Pid == id.Pid {
			t.Fatalf("record %q: adopted an unrelated process", rec)
		}
		testenv.Control(t, dir, "k")
		bringDown(t, dir)
		if !testenv.Alive(id.Pid) {
			t.Fatalf("record %q: the unrelated process was killed", rec)
		}
	}
}

// TestTreeDown: a run that forks (background children, a double-forking
// daemon) leaves nothing behind after svc -d, with and without a cgroup.
func TestTreeDown(t *testing.T) {
	forHosts(t, func(t *testing.T, im impl) {
		for _, mode := range modesOf(im) {
			t.Run(mode, func(t *testing.T) {
				m := uniq(t)
				dir := service(t, fmt.Sprintf(`sleep %[1]s &
sleep %[1]s &
( ( setsid sleep %[1]s & ) & )
echo ready > ready
wait
`, m))
				if mode == "subreaper" {
					os.WriteFile(filepath.Join(dir, "no-cgroup"), nil, 0644)
				} else {
					testenv.RequireRoot(t)
				}
				startSupervise(t, im, dir)
				testenv.WaitStatus(t, wait, dir, "up", isUp) // run may write its files before status shows it
				testenv.ReadLines(t, wait, filepath.Join(dir, "ready"))
				waitMarked(t, m, 3, "three sleeps")
				bringDown(t, dir)
				waitMarked(t, m, 0, "whole tree gone")
			})
		}
	})
}

// TestTimeoutKill: a run that ignores TERM is killed, with its tree, after
// timeout-kill milliseconds.
func TestTimeoutKill(t *testing.T) {
	forHosts(t, func(t *testing.T, im impl) {
		m := uniq(t)
		dir := service(t, fmt.Sprintf("trap 'echo TERM >> sigs' TERM\nsleep %s &\necho ready > ready\nwhile :; do sleep 0.05; done\n", m))
		os.WriteFile(filepath.Join(dir, "timeout-kill"), []byte("300\n"), 0644)
		startSupervise(t, im, dir)
		testenv.WaitStatus(t, wait, dir, "up", isUp) // run may write its files before status shows it
		testenv.ReadLines(t, wait, filepath.Join(dir, "ready"))
		start := time.Now()
		testenv.Control(t, dir, "d")
		testenv.ReadLines(t, wait, filepath.Join(dir, "sigs"))
		testenv.WaitStatus(t, wait, dir, "down", isDown)
		if d := time.Since(start); d < 250*time.Millisecond {
			t.Errorf("killed after %v, before the timeout", d)
		}
		waitMarked(t, m, 0, "tree gone")
	})
}

// treeModes are the two ways supervise finds the service's processes.
var treeModes = []string{"cgroup", "subreaper"}

// modesOf returns the tree modes of im: only the cgroup under svscan -i,
// where the orphans of every service go to one process (a service with a
// no-cgroup file is refused there).
func modesOf(im impl) []string {
	if im.hosted {
		return treeModes[:1]
	}
	return treeModes
}

// treeService makes a service directory whose processes supervise tracks
// in the given mode.
func treeService(t *testing.T, mode, run string) string {
	t.Helper()
	dir := service(t, run)
	if mode == "subreaper" {
		if err := os.WriteFile(filepath.Join(dir, "no-cgroup"), nil, 0644); err != nil {
			t.Fatal(err)
		}
	} else {
		requireGroup(t)
	}
	return dir
}

// starts counts the starts a run noted in dir/starts.
func starts(dir string) int {
	b, _ := os.ReadFile(filepath.Join(dir, "starts"))
	return strings.Count(string(b), "start\n")
}

// ignoresTerm is a shell command that starts, in the background, a
// process marked m that ignores TERM. It writes its pid to the file
// helpers once it ignores TERM.
func ignoresTerm(m string) string {
	return fmt.Sprintf("sh -c \"trap '' TERM; echo \\$\\$ >> helpers; exec sleep %s\" &", m)
}

// TestLeftoversCrashLoop: a run that starts a helper in the background and
// exits 1 leaves the helper behind at every restart. Before each restart
// the previous run's leftovers are ended (the down signal, then KILL after
// timeout-kill, or a second without one), so at most the current
// generation's helper runs; svc -d between restarts ends what is left.
func TestLeftoversCrashLoop(t *testing.T) {
	forHosts(t, func(t *testing.T, im impl) {
		fastSchedule(t)
		for _, mode := range modesOf(im) {
			for _, tc := range []struct {
				name        string
				helper      string // %s: the marker
				timeoutKill string
				downEnds    bool // svc -d ends the helper (it does not ignore TERM, or gets KILL)
			}{
				{"sleep", "sleep %s &", "", true},
				{"ignores-TERM", ignoresTerm("%s"), "", false},
				{"ignores-TERM,timeout-kill", ignoresTerm("%s"), "300", true},
			} {
				t.Run(mode+"/"+tc.name, func(t *testing.T) {
					m := uniq(t)
					dir := treeService(t, mode, "echo start >> starts\n"+fmt.Sprintf(tc.helper, m)+"\nexit 1\n")
					if tc.timeoutKill != "" {
						os.WriteFile(filepath.Join(dir, "timeout-kill"), []byte(tc.timeoutKill+"\n"), 0644)
					}
					startSupervise(t, im, dir)
					testenv.WaitFor(t, wait, "three starts", func() bool {
						if n := len(marked(m)); n > 1 {
							t.Fatalf("%d helpers running after %d starts", n, starts(dir))
						}
						return starts(dir) >= 3
					})
					if !tc.downEnds {
						return
					}
					testenv.WaitStatus(t, wait, dir, "between restarts", isDown)
					testenv.Control(t, dir, "d")
					testenv.WaitStatus(t, wait, dir, "wanted down", func(r svdir.Status) bool { return r.Pid == 0 && r.Want == svdir.WantDown })
					waitMarked(t, m, 0, "every helper gone")
				})
			}
		}
	})
}

// TestLeftoversExit: svc -dx sent between restarts of a run that leaves a
// helper behind: supervise exits only once nothing of the service is left,
// also when the helper takes its time to exit on TERM.
func TestLeftoversExit(t *testing.T) {
	fastSchedule(t)
	for _, mode := range treeModes {
		for _, tc := range []struct{ name, helper string }{
			{"sleep", "sleep %s &"},
			{"slow-exit", `sh -c 'trap "sleep 0.3; exit 0" TERM; while :; do sleep 0.05; done' %s &`},
		} {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				m := uniq(t)
				dir := treeService(t, mode, "echo start >> starts\n"+fmt.Sprintf(tc.helper, m)+"\nexit 1\n")
				p := startSupervise(t, svkit, dir)
				testenv.WaitFor(t, wait, "two starts", func() bool { return starts(dir) >= 2 })
				testenv.WaitStatus(t, wait, dir, "between restarts", isDown)
				testenv.Control(t, dir, "dx")
				p.Wait(t, wait)
				if pids := marked(m); len(pids) != 0 {
					t.Fatalf("supervise exited leaving helpers %v", pids)
				}
			})
		}
	}
}

// TestLeftoversBeforeStart: svc -u and svc -o on a service whose last run
// left a helper that ignores TERM (wanted down without timeout-kill, it
// stays) end it before run starts again: one helper, the new run's.
func TestLeftoversBeforeStart(t *testing.T) {
	forHosts(t, func(t *testing.T, im impl) {
		for _, mode := range modesOf(im) {
			for _, cmd := range []string{"u", "o"} {
				t.Run(mode+"/"+cmd, func(t *testing.T) {
					m := uniq(t)
					dir := treeService(t, mode, "echo start >> starts\n"+ignoresTerm(m)+"\nexec sleep 1"+m+"\n")
					startSupervise(t, im, dir)
					waitMarked(t, m, 2, "run and its helper")
					testenv.ReadLines(t, wait, filepath.Join(dir, "helpers"))
					old := marked(m)
					bringDown(t, dir)
					waitMarked(t, m, 1, "run gone, the helper left")
					testenv.Control(t, dir, cmd)
					testenv.WaitStatus(t, wait, dir, "up again", isUp)
					testenv.WaitFor(t, wait, "the new run and its helper", func() bool {
						return starts(dir) == 2 && len(marked(m)) == 2
					})
					for _, pid := range old {
						if testenv.Alive(pid) {
							t.Fatalf("the old run's process %d still runs beside the new run", pid)
						}
					}
				})
			}
		}
	})
}

// TestLeftoversSpareFinish: ending what a run left behind never ends
// ./finish, which runs while the service is down; without a cgroup finish
// is a descendant of supervise like the leftovers.
func TestLeftoversSpareFinish(t *testing.T) {
	for _, mode := range treeModes {
		t.Run(mode, func(t *testing.T) {
			m := uniq(t)
			dir := treeService(t, mode, ignoresTerm(m)+"\necho ready > ready\nexec sleep 1"+m+"\n")
			testenv.WriteScript(t, filepath.Join(dir, "finish"), "sleep 0.5\necho finished > finished\n")
			os.WriteFile(filepath.Join(dir, "timeout-kill"), []byte("100\n"), 0644)
			startSupervise(t, svkit, dir)
			testenv.WaitStatus(t, wait, dir, "up", isUp)
			testenv.ReadLines(t, wait, filepath.Join(dir, "ready"))
			testenv.Control(t, dir, "d")
			testenv.ReadLines(t, wait, filepath.Join(dir, "finished"))
			waitMarked(t, m, 0, "the helper gone")
		})
	}
}

// TestDownSignal: svc -d sends the signal named in down-signal.
func TestDownSignal(t *testing.T) {
	forHosts(t, func(t *testing.T, im impl) {
		dir := service(t, "trap 'echo QUIT >> sigs; exit 0' QUIT\ntrap 'echo TERM >> sigs' TERM\necho ready > ready\nwhile :; do sleep 0.05; done\n")
		os.WriteFile(filepath.Join(dir, "down-signal"), []byte("SIGQUIT\n"), 0644)
		startSupervise(t, im, dir)
		testenv.WaitStatus(t, wait, dir, "up", isUp) // run may write its files before status shows it
		testenv.ReadLines(t, wait, filepath.Join(dir, "ready"))
		bringDown(t, dir)
		if b, _ := os.ReadFile(filepath.Join(dir, "sigs")); string(b) != "QUIT\n" {
			t.Errorf("signals seen: %q", b)
		}
	})
}

// TestPidfile: a daemon that double-forks and writes a pid file is followed
// as the service: status shows it, svc reaches it, its death restarts run.
func TestPidfile(t *testing.T) {
	forHosts(t, func(t *testing.T, im impl) {
		m := uniq(t)
		dir := service(t, fmt.Sprintf(`echo start >> starts
( ( exec /bin/sh -c 'trap "echo HUP >> hups" HUP; echo $$ > daemon.pid; while :; do sleep 0.05; done' %s ) & )
exit 0
`, m))
		os.WriteFile(filepath.Join(dir, "pidfile"), []byte("daemon.pid\n"), 0644)
		startSupervise(t, im, dir)
		var daemon int
		testenv.WaitFor(t, wait, "following the daemon", func() bool {
			b, _ := os.ReadFile(filepath.Join(dir, "daemon.pid"))
			daemon, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			r, err := svdir.ReadStatusOf(dir)
			return err == nil && daemon != 0 && r.Pid == daemon
		})
		testenv.Control(t, dir, "h")
		testenv.ReadLines(t, wait, filepath.Join(dir, "hups"))
		syscall.Kill(daemon, syscall.SIGKILL)
		testenv.WaitFor(t, wait, "restart", func() bool {
			b, _ := os.ReadFile(filepath.Join(dir, "starts"))
			return string(b) == "start\nstart\n"
		})
		r := testenv.WaitStatus(t, wait, dir, "new daemon followed", func(r svdir.Status) bool { return r.Pid != 0 && r.Pid != daemon })
		bringDown(t, dir)
		testenv.WaitFor(t, wait, "daemon gone", func() bool { return !testenv.Alive(r.Pid) })
	})
}

// TestPidfileKilledWhileFollowing: a supervise killed after run exited 0
// but before the daemon wrote its pid file leaves a successor that finds
// the daemon and follows it: one daemon, never a second run. Killed before
// it reaped run (it is stopped while run exits), the record still names
// run, now gone, and the successor waits for the pid file itself; killed
// while it waits for the pid file, the record says a start is under way
// and the successor finds the daemon in the cgroup. Trigger files let the
// test say when run exits (go) and when the daemon writes its pid (go2).
// Under svscan -i, the host is stopped and killed instead.
func TestPidfileKilledWhileFollowing(t *testing.T) {
	requireGroup(t)
	forHosts(t, func(t *testing.T, im impl) {
		for _, beforeReap := range []bool{true, false} {
			t.Run(fmt.Sprintf("before-reap=%v", beforeReap), func(t *testing.T) { pidfileKilledWhileFollowing(t, im, beforeReap) })
		}
	})
}

func pidfileKilledWhileFollowing(t *testing.T, im impl, beforeReap bool) {
	m := uniq(t)
	dir := service(t, fmt.Sprintf(`echo start >> starts
( ( exec /bin/sh -c 'while [ ! -e go2 ]; do sleep 0.01; done; echo $$ > daemon.pid; while :; do sleep 0.05; done' %s ) & )
while [ ! -e go ]; do sleep 0.01; done
exit 0
`, m))
	os.WriteFile(filepath.Join(dir, "pidfile"), []byte("daemon.pid\n"), 0644)
	touch := func(name string) { os.WriteFile(filepath.Join(dir, name), nil, 0644) }
	p := startSupervise(t, im, dir)
	r := testenv.WaitStatus(t, wait, dir, "up", isUp)
	// The daemon execs with the mark in its arguments after run
	// forked it: under load, later than run's next lines.
	waitMarked(t, m, 1, "the daemon started")
	if beforeReap {
		syscall.Kill(p.Pid(), syscall.SIGSTOP)
		touch("go")
		testenv.WaitFor(t, wait, "run exited, not reaped", func() bool { return testenv.ProcState(r.Pid) == 'Z' })
		p.KillAndWait(t, syscall.SIGKILL)
		if b, _ := os.ReadFile(filepath.Join(dir, svdir.ProcessPath)); !strings.HasPrefix(string(b), strconv.Itoa(r.Pid)+" ") {
			t.Fatalf("record %q does not name run %d", b, r.Pid)
		}
	} else {
		touch("go")
		testenv.WaitFor(t, wait, "run exited, daemon awaited", func() bool {
			b, _ := os.ReadFile(filepath.Join(dir, svdir.ProcessPath))
			return strings.HasPrefix(string(b), "0 ")
		})
		p.KillAndWait(t, syscall.SIGKILL)
	}
	if pids := marked(m); len(pids) != 1 {
		t.Fatalf("daemons before the successor: %v", pids)
	}
	startSupervise(t, im, dir)
	touch("go2")
	daemon, _ := strconv.Atoi(strings.TrimSpace(testenv.ReadLines(t, wait, filepath.Join(dir, "daemon.pid"))))
	testenv.WaitStatus(t, wait, dir, "the daemon followed", func(r svdir.Status) bool { return r.Pid == daemon })
	time.Sleep(200 * time.Millisecond)
	if b, _ := os.ReadFile(filepath.Join(dir, "starts")); string(b) != "start\n" {
		t.Fatalf("run started again: %q", b)
	}
	if pids := marked(m); len(pids) != 1 {
		t.Fatalf("daemons %v", pids)
	}
	bringDown(t, dir)
	waitMarked(t, m, 0, "daemon gone")
}

// TestReadoptUnderSvscan: with svscan running the tree, SIGKILL the
// service's supervise; svscan starts a new one at its next pass, and that
// one re-adopts the running service: exactly one copy, the original pid,
// and svc -d / -u work on it.
func TestReadoptUnderSvscan(t *testing.T) {
	m := uniq(t)
	scan := t.TempDir()
	dir := filepath.Join(scan, "svc")
	testenv.WriteScript(t, filepath.Join(dir, "run"), "echo start >> starts\nexec sleep "+m+"\n")
	cmd := exec.Command(testenv.Prog(t, "svscan"), "-o", scan)
	cmd.Env = append(os.Environ(), "PATH="+testenv.Bin(t)+":"+os.Getenv("PATH"))
	sv := testenv.Start(t, cmd)
	t.Cleanup(func() {
		syscall.Kill(sv.Pid(), syscall.SIGTERM)
		sv.Wait(t, wait)
		testenv.RemoveGroup(dir)
	})
	r := testenv.WaitStatus(t, wait, dir, "up", isUp)
	var old int
	for _, in := range proc.All() {
		if in.PPid == sv.Pid() {
			old = in.Pid
		}
	}
	if old == 0 {
		t.Fatal("no supervise under svscan")
	}
	syscall.Kill(old, syscall.SIGKILL)
	// svscan reaps it at once and starts a new one at its next pass
	// (within 5 s); SIGALRM asks for that pass now.
	testenv.WaitFor(t, wait, "the killed supervise reaped", func() bool { return !testenv.Alive(old) })
	syscall.Kill(sv.Pid(), syscall.SIGALRM)
	testenv.WaitFor(t, wait, "a new supervise", func() bool {
		for _, in := range proc.All() {
			if in.PPid == sv.Pid() && in.Pid != old && in.State != 'Z' {
				return true
			}
		}
		return false
	})
	testenv.WaitFor(t, wait, "the new supervise answers", func() bool {
		fd, err := syscall.Open(filepath.Join(dir, svdir.OKPath), syscall.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			syscall.Close(fd)
		}
		return err == nil
	})
	if r2 := testenv.ReadStatus(t, dir); r2.Pid != r.Pid {
		t.Fatalf("status pid %d after re-adoption, want %d", r2.Pid, r.Pid)
	}
	if pids := marked(m); len(pids) != 1 {
		t.Fatalf("copies running: %v", pids)
	}
	bringDown(t, dir)
	waitMarked(t, m, 0, "old copy gone")
	testenv.Control(t, dir, "u")
	testenv.WaitStatus(t, wait, dir, "up again", func(n svdir.Status) bool { return n.Pid != 0 && n.Pid != r.Pid })
	testenv.WaitFor(t, wait, "the second start", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "starts"))
		return string(b) == "start\nstart\n"
	})
}

// TestKilledWhileStarting: a supervise SIGKILLed at the instant it starts
// run, before or after the fork, leaves a successor that runs exactly one
// copy: the run already forked is re-adopted (found in the service's cgroup
// through the "starting" record), otherwise a new one is started. strace
// kills supervise on its first rename to supervise/process (the "starting"
// record, before the fork) or on its first fstatfs (of run's pidfd, for the
// new pid's record, after the fork).
//
// Without a cgroup the run is found by its process group, session and
// working directory.
func TestKilledWhileStarting(t *testing.T) {
	strace, err := exec.LookPath("strace")
	testenv.Require(t, err == nil, "strace is not installed")
	for _, tc := range []struct {
		forked   bool // the killed supervise had forked run
		noCgroup bool
	}{{false, false}, {true, false}, {false, true}, {true, true}} {
		t.Run(fmt.Sprintf("forked=%v,no-cgroup=%v", tc.forked, tc.noCgroup), func(t *testing.T) {
			if !tc.noCgroup {
				requireGroup(t)
			}
			m := uniq(t)
			dir := service(t, "echo start >> starts\nexec sleep "+m+"\n")
			// Runs after strace is killed: a supervise it left (when
			// the test fails before the kill) goes too.
			t.Cleanup(func() { testenv.KillIn(dir); testenv.RemoveGroup(dir) })
			if tc.noCgroup {
				os.WriteFile(filepath.Join(dir, "no-cgroup"), nil, 0644)
			}
			// strace counts calls per thread, and supervise's goroutine
			// may move between threads: each kill point is the first
			// call of its kind in the whole process.
			args := []string{"-P", "supervise/process", "-e", "trace=renameat2", "-e", "inject=renameat2:signal=KILL:when=1"}
			if tc.forked {
				args = []string{"-e", "trace=fstatfs", "-e", "inject=fstatfs:signal=KILL:when=1"}
			}
			args = append(append([]string{"-f", "-o", "/dev/null"}, args...), testenv.Prog(t, "supervise"), dir)
			cmd := exec.Command(strace, args...)
			tracer := testenv.Start(t, cmd)
			testenv.WaitFor(t, wait, "supervise killed", func() bool { return lockedOnceAndFree(dir) })
			// strace reaps supervise, its child, before it is killed
			// itself: a zombie left to an init that does not reap
			// would stay.
			testenv.WaitFor(t, wait, "supervise reaped", func() bool {
				for _, in := range proc.All() {
					if in.PPid == tracer.Pid() {
						return false
					}
				}
				return true
			})
			// Killing strace detaches what it still traces (the run).
			tracer.KillAndWait(t, syscall.SIGKILL)
			var first []int
			if tc.forked {
				waitMarked(t, m, 1, "the first run")
				first = marked(m)
			} else if pids := marked(m); len(pids) != 0 {
				t.Fatalf("run started before the fork: %v", pids)
			}
			time.Sleep(30 * time.Millisecond) // three clock ticks of /proc's start times
			before := time.Now()
			startSupervise(t, svkit, dir)
			r := testenv.WaitStatus(t, wait, dir, "up", isUp)
			if tc.forked && r.Pid != first[0] {
				t.Fatalf("status pid %d, want the re-adopted %d", r.Pid, first[0])
			}
			if tc.forked && !r.When.Time().Before(before) {
				t.Errorf("status says up since %v, after the successor started (%v), not since run started", r.When.Time(), before)
			}
			// run is a shell that execs sleep: on a loaded machine that
			// can take a while.
			testenv.WaitFor(t, wait, "run exec'd", func() bool { return len(marked(m)) >= 1 })
			time.Sleep(200 * time.Millisecond) // a second start would show by now
			if pids := marked(m); len(pids) != 1 || pids[0] != r.Pid {
				t.Fatalf("copies running %v, status pid %d", pids, r.Pid)
			}
			bringDown(t, dir)
			waitMarked(t, m, 0, "the copy gone")
			testenv.Control(t, dir, "u")
			testenv.WaitStatus(t, wait, dir, "up again", func(n svdir.Status) bool { return n.Pid != 0 && n.Pid != r.Pid })
			waitMarked(t, m, 1, "one copy again")
		})
	}
}

// TestStartingRecordIgnoresOlderProcesses: a "starting" record makes the
// successor adopt only a process of the cgroup that started since; an
// older one (an orphan of an earlier run) is not taken for run, and is
// ended as a leftover before run starts.
func TestStartingRecordIgnoresOlderProcesses(t *testing.T) {
	requireGroup(t)
	m := uniq(t)
	m2 := uniq(t) + "1"
	t.Cleanup(func() { killMarked(m2) })
	dir := service(t, "exec sleep "+m2+"\n")
	group := groupPath(t, dir)
	// The orphan: a process in the service's cgroup, older than the record.
	old := testenv.Start(t, exec.Command("sleep", m))
	if err := os.WriteFile(filepath.Join(group, "cgroup.procs"), []byte(strconv.Itoa(old.Pid())), 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		old.KillAndWait(t, syscall.SIGKILL)
		syscall.Rmdir(group)
	})
	time.Sleep(20 * time.Millisecond) // the record's clock ticks in 10 ms steps
	os.Mkdir(filepath.Join(dir, "supervise"), 0700)
	sid, _ := unix.Getsid(0)
	rec := fmt.Sprintf("0 %d %s %d %d\n", proc.Now(), proc.BootID(), syscall.Getpgrp(), sid)
	if err := os.WriteFile(filepath.Join(dir, svdir.ProcessPath), []byte(rec), 0644); err != nil {
		t.Fatal(err)
	}
	startSupervise(t, svkit, dir)
	r := testenv.WaitStatus(t, wait, dir, "up", isUp)
	if r.Pid == old.Pid() {
		t.Fatal("adopted a process older than the start")
	}
	if testenv.Alive(old.Pid()) {
		t.Fatal("the older process outlived the start of run")
	}
	testenv.WaitFor(t, wait, "run execs sleep", func() bool { return len(marked(m2)) > 0 })
	if pids := marked(m2); len(pids) != 1 || pids[0] != r.Pid {
		t.Fatalf("runs %v, status pid %d", pids, r.Pid)
	}
}

// requireGroup skips (fails in CI) where svkit cannot make cgroups.
func requireGroup(t *testing.T) { testenv.RequireCgroup(t) }

// groupPath creates and returns the cgroup svkit's supervise uses for dir.
func groupPath(t *testing.T, dir string) string {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	g, err := cgroup.Open(fmt.Sprintf("svkit-%x-%x", st.Dev, st.Ino))
	if err != nil {
		t.Fatal(err)
	}
	return g.Path
}

// lockedOnceAndFree reports whether a supervise took dir's lock and has
// let it go since (it died).
func lockedOnceAndFree(dir string) bool {
	fd, err := syscall.Open(filepath.Join(dir, svdir.LockPath), syscall.O_WRONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer syscall.Close(fd)
	return syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB) == nil
}

// TestRecycledPid: the pid of a service that died while its supervise was
// dead is given to an unrelated process (through ns_last_pid), usually
// within the same 10 ms clock tick as the service's start, so pid and start
// time match the record; the next supervise neither adopts nor signals it
// (the pidfs inode number tells them apart).
func TestRecycledPid(t *testing.T) {
	testenv.RequireRoot(t)
	// The orphaned run must be reaped for its pid to be free, and the
	// init of a container may not reap: the test reaps it itself.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) })
	m := uniq(t)
	// Another fork on the machine, or a new thread of this test, may take
	// the freed pid first: then the test starts over with a new service.
	var dir string
	var r svdir.Status
	var victim *testenv.Proc
	for round := 0; round < 5 && victim == nil; round++ {
		dir = service(t, "exec sleep 1"+m+"\n")
		p := startSupervise(t, svkit, dir)
		r = testenv.WaitStatus(t, wait, dir, "up", isUp)
		p.KillAndWait(t, syscall.SIGKILL)
		syscall.Kill(r.Pid, syscall.SIGKILL)
		var ws unix.WaitStatus
		if _, err := unix.Wait4(r.Pid, &ws, 0, nil); err != nil {
			t.Fatalf("reap the orphaned run %d: %v", r.Pid, err)
		}
		victim = testenv.StartAtPid(t, r.Pid, func() *exec.Cmd { return exec.Command("sleep", m) })
		if victim == nil {
			testenv.RemoveGroup(dir)
		}
	}
	if victim == nil {
		t.Fatalf("no freed pid could be given to a new process in 5 rounds (the last %d)", r.Pid)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, svdir.ProcessPath)); !strings.HasPrefix(string(b), strconv.Itoa(r.Pid)+" ") {
		t.Fatalf("record %q does not name the old pid %d", b, r.Pid)
	}
	startSupervise(t, svkit, dir)
	r2 := testenv.WaitStatus(t, wait, dir, "up", isUp)
	if r2.Pid == r.Pid {
		t.Fatal("adopted the process that took the recycled pid")
	}
	for _, c := range []string{"k", "t", "d", "x"} {
		testenv.Control(t, dir, c)
	}
	testenv.WaitStatus(t, wait, dir, "down", isDown)
	time.Sleep(100 * time.Millisecond)
	if !testenv.Alive(victim.Pid()) {
		t.Fatal("the process with the recycled pid was signalled")
	}
}

// TestFrozenGroupThawed: a supervise killed while it had its service's
// cgroup frozen (in the middle of a KILL of the tree) leaves the cgroup
// frozen. Its successor thaws it: the adopted run responds to svc -d, and
// the next run started into the cgroup runs instead of hanging frozen.
func TestFrozenGroupThawed(t *testing.T) {
	requireGroup(t)
	m := uniq(t)
	dir := service(t, "echo start >> starts\nexec sleep "+m+"\n")
	p := startSupervise(t, svkit, dir)
	r := testenv.WaitStatus(t, wait, dir, "up", isUp)
	group := groupPath(t, dir)
	p.KillAndWait(t, syscall.SIGKILL)
	if err := os.WriteFile(filepath.Join(group, "cgroup.freeze"), []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, wait, "the cgroup frozen", func() bool {
		b, _ := os.ReadFile(filepath.Join(group, "cgroup.events"))
		return strings.Contains(string(b), "frozen 1")
	})

	startSupervise(t, svkit, dir)
	if got := testenv.ReadStatus(t, dir); got.Pid != r.Pid {
		t.Fatalf("status pid %d, want the adopted %d", got.Pid, r.Pid)
	}
	testenv.WaitFor(t, wait, "the cgroup thawed", func() bool {
		b, _ := os.ReadFile(filepath.Join(group, "cgroup.freeze"))
		return strings.TrimSpace(string(b)) == "0"
	})
	bringDown(t, dir)
	testenv.WaitFor(t, wait, "the adopted run gone", func() bool { return !testenv.Alive(r.Pid) })
	testenv.Control(t, dir, "u")
	testenv.WaitStatus(t, wait, dir, "up again", isUp)
	testenv.WaitFor(t, wait, "the new run running (not frozen)", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "starts"))
		return string(b) == "start\nstart\n"
	})
}
