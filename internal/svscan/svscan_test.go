package svscan_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"svkit/internal/testenv"
)

// TestFatalAndUsage compares svscan's complaints with 0.76's.
func TestFatalAndUsage(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"/nonexistent/sv"},
		{"-x"},                // not an option of svkit's: a directory, as in 0.76
		{"/nonexistent", "a"}, // 0.76 ignores further arguments
		{dir + "/file"},       // not a directory
	} {
		os.WriteFile(dir+"/file", nil, 0644)
		_, want, wcode := testenv.Run(t, dir, "", testenv.Debian(t, "svscan"), args...)
		_, got, gcode := testenv.Run(t, dir, "", testenv.Prog(t, "svscan"), args...)
		if got != want || gcode != wcode {
			t.Errorf("svscan %q: got %q exit %d, 0.76 gives %q exit %d", args, got, gcode, want, wcode)
		}
	}
	_, got, code := testenv.Run(t, dir, "", testenv.Prog(t, "svscan"), "-k", "x", dir)
	if code != 100 || got != "svscan: usage: svscan [-o] [-i] [-k seconds] [dir]\n" {
		t.Errorf("bad -k value: got %q exit %d", got, code)
	}
}

// TestLoggedServices runs a plain and a logged service: the pipe works and
// keeps working across svc -k of either side; a dot directory and a plain
// file are ignored; a service sees only descriptors 0, 1 and 2. It runs for
// svkit, for 0.76, and for each mix of svkit and 0.76.
func TestLoggedServices(t *testing.T) {
	for _, pr := range []pair{svkitPair, debianPair, debianScanSvkitSup, svkitScanDebianSup} {
		t.Run(pr.name, func(t *testing.T) {
			tr := newTree(t, pr)
			fds := filepath.Join(tr.root, "fds")
			out := filepath.Join(tr.root, "logged.out")
			plain := tr.service("plain", "ls /proc/self/fd > "+fds+".new && mv "+fds+".new "+fds+"\nexec sleep 1000\n", "")
			counter := filepath.Join(tr.root, "counter")
			logged := tr.service("logged", producer(counter, "0.05"), "exec cat >> "+out+"\n")
			hidden := tr.service(".hidden", "touch "+tr.root+"/hidden-ran\nexec sleep 1000\n", "")
			if err := os.WriteFile(filepath.Join(tr.scan, "afile"), nil, 0644); err != nil {
				t.Fatal(err)
			}
			tr.start(pr.svscan(t))
			waitUp(t, plain, 5*time.Second)
			waitUp(t, logged, 5*time.Second)
			waitUp(t, logged+"/log", 5*time.Second)

			testenv.WaitFor(t, 5*time.Second, "the fd list", func() bool { _, err := os.Stat(fds); return err == nil })
			if got := strings.Fields(strings.TrimSpace(testenv.ReadFile(t, fds))); strings.Join(got, " ") != "0 1 2 3" {
				t.Errorf("a service has descriptors %v open; want only 0 1 2 (and ls's 3)", got)
			}
			more := func(n int) {
				t.Helper()
				m := maxSeq(t, out)
				testenv.WaitFor(t, 5*time.Second, fmt.Sprintf("%d more log lines after %d", n, m), func() bool { return maxSeq(t, out) >= m+n })
			}
			more(5)

			for _, side := range []string{logged, logged + "/log"} {
				old := testenv.PidOf(side)
				if side != logged {
					// Kill the logger only when it has written all it read.
					quiesce(t, logged, counter, out)
				}
				testenv.Control(t, side, "k")
				if side != logged {
					testenv.Control(t, logged, "c")
				}
				testenv.WaitFor(t, 5*time.Second, side+" restarted", func() bool {
					p := testenv.PidOf(side)
					return p != 0 && p != old
				})
				more(5)
			}
			checkContiguous(t, out, maxSeq(t, out))

			if _, err := os.Stat(filepath.Join(hidden, "supervise")); err == nil {
				t.Errorf("svscan started the dot directory .hidden")
			}
			if _, err := os.Stat(filepath.Join(tr.root, "hidden-ran")); err == nil {
				t.Errorf(".hidden's run ran")
			}
			tr.checkQuiet(t)
		})
	}
}

// TestKilledSupervise kills the supervise (and run) of each side of a logged
// service: svscan starts a new one at the next pass (SIGALRM forces it), the
// pipe is the same, and no line is lost, including those written while the
// logger was gone.
func TestKilledSupervise(t *testing.T) {
	for _, pr := range []pair{svkitPair, svkitScanDebianSup} {
		t.Run(pr.name, func(t *testing.T) {
			tr := newTree(t, pr)
			out := filepath.Join(tr.root, "out")
			counter := filepath.Join(tr.root, "counter")
			logged := tr.service("logged", producer(counter, "0.02"), "exec cat >> "+out+"\n")
			p := tr.start(pr.svscan(t))
			waitUp(t, logged, 5*time.Second)
			waitUp(t, logged+"/log", 5*time.Second)
			testenv.WaitFor(t, 5*time.Second, "log lines", func() bool { return maxSeq(t, out) >= 5 })

			for _, side := range []struct{ dir, arg string }{{logged, "logged"}, {logged + "/log", "log"}} {
				if side.arg == "log" {
					quiesce(t, logged, counter, out)
				}
				sup := superviseOf(side.dir, side.arg)
				run := testenv.PidOf(side.dir)
				if sup == 0 || run == 0 {
					t.Fatalf("%s: supervise %d, run %d", side.dir, sup, run)
				}
				syscall.Kill(sup, syscall.SIGKILL)
				syscall.Kill(run, syscall.SIGKILL)
				testenv.WaitGone(t, sup, 5*time.Second, "the killed supervise reaped")
				if side.arg == "log" {
					testenv.Control(t, logged, "c")
				}
				// The producer goes on writing into the pipe meanwhile.
				c := maxSeq(t, out)
				testenv.WaitFor(t, 5*time.Second, "the producer going on", func() bool { return counted(counter) >= c+3 })
				alarm(t, p)
				testenv.WaitFor(t, 2*time.Second, side.dir+"'s supervise restarted", func() bool {
					s := superviseOf(side.dir, side.arg)
					return s != 0 && s != sup
				})
				waitUp(t, side.dir, 5*time.Second)
				m := maxSeq(t, out)
				testenv.WaitFor(t, 5*time.Second, "more log lines", func() bool { return maxSeq(t, out) >= m+5 })
			}
			checkContiguous(t, out, maxSeq(t, out))
		})
	}
}

// TestRestartedSvscanJoinsPipe kills svscan and starts it again, so that
// the running supervise processes of a logged service are the old svscan's.
// Then one side at a time, the supervise is killed and replaced by the new
// svscan (the new one adopts the running producer or logger) and the
// service on that side is restarted with svc -k: the new producer must
// write into the pipe the logger reads, and the new logger read the pipe
// the producer writes, with no line lost. With an anonymous pipe per
// svscan, as 0.76 has, the new producer writes into the new svscan's pipe,
// which no logger reads: its lines are lost and it blocks once the pipe is
// full. Last, an svscan -o started again stops the tree of the earlier one
// in order, losing no line.
func TestRestartedSvscanJoinsPipe(t *testing.T) {
	tr := newTree(t, svkitPair)
	out := filepath.Join(tr.root, "out")
	counter := filepath.Join(tr.root, "counter")
	logged := tr.service("logged", producer(counter, "0.02"), "exec cat >> "+out+"\n")
	p := tr.start(testenv.Prog(t, "svscan"))
	waitUp(t, logged, 5*time.Second)
	waitUp(t, logged+"/log", 5*time.Second)
	more := func(n int) {
		t.Helper()
		m := maxSeq(t, out)
		testenv.WaitFor(t, 5*time.Second, fmt.Sprintf("%d more log lines after %d", n, m), func() bool { return maxSeq(t, out) >= m+n })
	}
	more(5)

	p.KillAndWait(t, syscall.SIGKILL)
	p = tr.start(testenv.Prog(t, "svscan"))
	for _, side := range []struct{ dir, arg string }{{logged, "logged"}, {logged + "/log", "log"}} {
		if side.arg == "log" {
			quiesce(t, logged, counter, out)
		}
		sup, run := superviseOf(side.dir, side.arg), testenv.PidOf(side.dir)
		if sup == 0 || run == 0 {
			t.Fatalf("%s: supervise %d, run %d", side.dir, sup, run)
		}
		syscall.Kill(sup, syscall.SIGKILL)
		testenv.WaitGone(t, sup, 5*time.Second, "the killed supervise reaped")
		alarm(t, p)
		testenv.WaitFor(t, 5*time.Second, side.dir+"'s supervise started by the new svscan", func() bool {
			s := superviseOf(side.dir, side.arg)
			return s != 0 && s != sup && testenv.PidOf(side.dir) != 0
		})
		if got := testenv.PidOf(side.dir); got != run {
			t.Fatalf("%s: the new supervise did not adopt %d: status shows %d", side.dir, run, got)
		}
		testenv.Control(t, side.dir, "k")
		testenv.WaitFor(t, 5*time.Second, side.dir+" restarted", func() bool {
			p := testenv.PidOf(side.dir)
			return p != 0 && p != run
		})
		if side.arg == "log" {
			testenv.Control(t, logged, "c")
		}
		more(5)
	}

	// One more svscan restart, and an ordered shutdown by the newest
	// svscan, none of whose supervise processes it started: it takes
	// them down through their FIFOs, service first, and the logger
	// writes every line before it sees end of file.
	p.KillAndWait(t, syscall.SIGKILL)
	p = tr.start(testenv.Prog(t, "svscan"), "-o")
	more(5)
	t0 := time.Now()
	syscall.Kill(p.Pid(), syscall.SIGTERM)
	if code := p.Wait(t, 10*time.Second); code != 0 {
		t.Fatalf("svscan -o exited %d after TERM; stderr: %s", code, tr.stderr())
	}
	t.Logf("ordered shutdown of the earlier svscan's supervise processes: %v", time.Since(t0).Round(time.Millisecond))
	testenv.WaitFor(t, 5*time.Second, "every process of the tree gone", func() bool { return len(under(tr.root)) == 0 })
	checkContiguous(t, out, counted(counter))
}

// TestNewServiceFast adds services while svscan runs: each is up well
// within a second (0.76 takes up to 5 s), whether it is renamed into the
// scan directory or made in place.
func TestNewServiceFast(t *testing.T) {
	tr := newTree(t, svkitPair)
	first := tr.service("first", "exec sleep 1000\n", "")
	tr.start(testenv.Prog(t, "svscan"))
	waitUp(t, first, 5*time.Second)

	t0 := time.Now()
	renamed := tr.service("renamed", "exec sleep 1000\n", "")
	waitUp(t, renamed, time.Second)
	t.Logf("renamed service up after %v", time.Since(t0))

	t0 = time.Now()
	inPlace := filepath.Join(tr.scan, "inplace")
	if err := os.Mkdir(inPlace, 0755); err != nil {
		t.Fatal(err)
	}
	testenv.WriteScript(t, filepath.Join(inPlace, "run"), "exec sleep 1000\n")
	waitUp(t, inPlace, time.Second)
	t.Logf("service made in place up after %v", time.Since(t0))

	// A symbolic link to a service elsewhere, as daemontools users add them.
	t0 = time.Now()
	stage := filepath.Join(tr.root, "linked")
	testenv.WriteScript(t, filepath.Join(stage, "run"), "exec sleep 1000\n")
	if err := os.Symlink(stage, filepath.Join(tr.scan, "linked")); err != nil {
		t.Fatal(err)
	}
	waitUp(t, stage, time.Second)
	t.Logf("linked service up after %v", time.Since(t0))
}

// TestRemovedService removes a logged service: svscan forgets it once both
// supervise processes have exited, closes its pipe, restarts nothing, and
// starts a new directory of the same name.
func TestRemovedService(t *testing.T) {
	tr := newTree(t, svkitPair)
	stay := tr.service("stay", "exec sleep 1000\n", "")
	gone := tr.service("gone", "exec sleep 1000\n", "exec cat > /dev/null\n")
	p := tr.start(testenv.Prog(t, "svscan"))
	waitUp(t, stay, 5*time.Second)
	waitUp(t, gone, 5*time.Second)
	waitUp(t, gone+"/log", 5*time.Second)
	before := testenv.FDCount(p.Pid())

	testenv.Control(t, gone, "dx")
	testenv.Control(t, gone+"/log", "dx")
	testenv.WaitFor(t, 5*time.Second, "gone's supervise processes to exit", func() bool {
		return superviseOf(gone, "gone") == 0 && superviseOf(gone+"/log", "log") == 0
	})
	if err := os.RemoveAll(gone); err != nil {
		t.Fatal(err)
	}
	alarm(t, p)
	testenv.WaitFor(t, 2*time.Second, "svscan to close the forgotten service's pipe", func() bool {
		return testenv.FDCount(p.Pid()) == before-2
	})
	if _, err := os.Stat(gone); err == nil {
		t.Errorf("%s came back", gone)
	}
	if !testenv.Alive(testenv.PidOf(stay)) {
		t.Errorf("stay is not running")
	}
	again := tr.service("gone", "exec sleep 1000\n", "")
	waitUp(t, again, time.Second)
	tr.checkQuiet(t)
}

// TestTermKeepsServices: without -o, SIGTERM kills svscan and the services
// keep running, as with 0.76 (users restart svscan this way to upgrade it).
func TestTermKeepsServices(t *testing.T) {
	for _, pr := range []pair{svkitPair, debianPair} {
		t.Run(pr.name, func(t *testing.T) {
			tr := newTree(t, pr)
			a := tr.service("a", "exec sleep 1000\n", "exec cat > /dev/null\n")
			p := tr.start(pr.svscan(t))
			run := waitUp(t, a, 5*time.Second)
			logRun := waitUp(t, a+"/log", 5*time.Second)
			sup := superviseOf(a, "a")
			p.KillAndWait(t, syscall.SIGTERM)
			ws := p.State().Sys().(syscall.WaitStatus)
			if !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
				t.Errorf("svscan ended with %v; 0.76 dies of SIGTERM", ws)
			}
			for _, pid := range []int{run, logRun, sup} {
				if !testenv.Alive(pid) {
					t.Errorf("process %d died with svscan", pid)
				}
			}
		})
	}
}

// burst is a run script that writes 20 numbered lines, then 100 more when
// it gets SIGTERM: those are in the pipe when the service goes down, so
// they reach the log only if the logger drains the pipe before it stops.
func burst(mark string) string {
	return `n=0
emit() { i=0; while [ $i -lt $1 ]; do i=$((i+1)); n=$((n+1)); echo "line $n"; done; }
trap 'kill $pid 2>/dev/null; emit 100; exit 0' TERM
emit 20
touch ` + mark + `
sleep 1000 & pid=$!
wait
`
}

// checkAll fails unless file holds exactly lines 1..n in order.
func checkAll(t *testing.T, file string, n int) {
	t.Helper()
	got := seqs(t, file)
	if len(got) != n {
		t.Errorf("%s: %d lines, want %d", file, len(got), n)
		return
	}
	for i, v := range got {
		if v != i+1 {
			t.Errorf("%s: line %d is %d", file, i+1, v)
			return
		}
	}
}

// TestOrderedShutdown200 brings up 200 logged services and shuts the tree
// down with -o: every service goes down first, every line it wrote, even on
// its way down, reaches its logger, then the loggers exit, then svscan exits
// 0 and nothing is left running.
func TestOrderedShutdown200(t *testing.T) {
	const n = 200
	tr := newTree(t, svkitPair)
	marks := filepath.Join(tr.root, "marks")
	os.Mkdir(marks, 0755)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("s%03d", i)
		tr.service(name, burst(filepath.Join(marks, name)), "exec cat >> "+filepath.Join(tr.root, name+".out")+"\n")
	}
	t0 := time.Now()
	p := tr.start(testenv.Prog(t, "svscan"), "-o", "-k", "60")
	testenv.WaitFor(t, 60*time.Second, "200 services up", func() bool {
		ents, _ := os.ReadDir(marks)
		return len(ents) == n
	})
	t.Logf("200 services up after %v", time.Since(t0))
	t0 = time.Now()
	syscall.Kill(p.Pid(), syscall.SIGTERM)
	if code := p.Wait(t, 60*time.Second); code != 0 {
		t.Fatalf("svscan -o exited %d after SIGTERM; stderr: %s", code, tr.stderr())
	}
	t.Logf("shut down in %v", time.Since(t0))
	testenv.WaitFor(t, 3*time.Second, "no process left", func() bool { return len(under(tr.root)) == 0 })
	for i := 0; i < n; i++ {
		checkAll(t, filepath.Join(tr.root, fmt.Sprintf("s%03d.out", i)), 120)
	}
	tr.checkQuiet(t)
}

// TestOrderedShutdownTimeout: a service that ignores SIGTERM is killed when
// the -k timeout passes, with its supervise; svscan then exits 111.
func TestOrderedShutdownTimeout(t *testing.T) {
	tr := newTree(t, svkitPair)
	stubborn := tr.service("stubborn", "trap '' TERM\necho > ignoring\nexec sleep 1000\n", "exec cat > /dev/null\n")
	p := tr.start(testenv.Prog(t, "svscan"), "-o", "-k", "1")
	run := waitUp(t, stubborn, 5*time.Second)
	waitUp(t, stubborn+"/log", 5*time.Second)
	// Up is not enough: until the shell has set TERM to be ignored, it
	// would die of it.
	testenv.WaitFor(t, 5*time.Second, "stubborn ignoring TERM", func() bool {
		_, err := os.Stat(filepath.Join(stubborn, "ignoring"))
		return err == nil
	})
	t0 := time.Now()
	syscall.Kill(p.Pid(), syscall.SIGTERM)
	if code := p.Wait(t, 10*time.Second); code != 111 {
		t.Fatalf("svscan exited %d, want 111", code)
	}
	if d := time.Since(t0); d < time.Second || d > 4*time.Second {
		t.Errorf("shutdown took %v with -k 1", d)
	}
	testenv.WaitFor(t, 2*time.Second, "the stubborn service killed", func() bool { return !testenv.Alive(run) })
	testenv.WaitFor(t, 2*time.Second, "no process left", func() bool { return len(under(tr.root)) == 0 })
}

// unshare returns the command that runs argv as PID 1 of a new PID
// namespace.
func unshare(t *testing.T, argv ...string) *exec.Cmd {
	t.Helper()
	testenv.RequireRoot(t)
	_, err := os.Stat("/usr/bin/unshare")
	testenv.Require(t, err == nil, "/usr/bin/unshare is missing (util-linux)")
	return exec.Command("/usr/bin/unshare", append([]string{"--pid", "--fork", "--mount-proc"}, argv...)...)
}

// childOf waits for the child of ppid whose argv[0] is prog.
func childOf(t *testing.T, ppid int, argv0 string) int {
	t.Helper()
	pid := 0
	testenv.WaitFor(t, 5*time.Second, argv0+" under "+fmt.Sprint(ppid), func() bool {
		for _, p := range procs() {
			if p.ppid == ppid && len(p.argv) > 0 && p.argv[0] == argv0 {
				pid = p.pid
				return true
			}
		}
		return false
	})
	return pid
}

// TestPID1 runs svscan as PID 1 of a new PID namespace: an orphaned
// grandchild is reaped as soon as it exits, and SIGTERM (without -o) takes
// the tree down in order; svscan exits 0.
func TestPID1(t *testing.T) {
	tr := newTree(t, svkitPair)
	svscan := testenv.Prog(t, "svscan")
	tr.service("orphans", "sh -c 'sleep 1001 &'\nexec sleep 1000\n", "")
	out := filepath.Join(tr.root, "logged.out")
	tr.service("logged", burst(filepath.Join(tr.root, "mark")), "exec cat >> "+out+"\n")
	p := tr.startCmd(unshare(t, svscan, tr.scan))
	pid1 := childOf(t, p.Pid(), svscan)
	// The grandchild "sleep 1001" is orphaned at once. svkit's supervise
	// is a subreaper and adopts it (and would kill it with the service);
	// when that supervise dies, its children go to PID 1.
	orphan := 0
	testenv.WaitFor(t, 5*time.Second, "the orphan", func() bool {
		for _, q := range under(tr.root) {
			if len(q.argv) == 2 && q.argv[0] == "sleep" && q.argv[1] == "1001" {
				orphan = q.pid
				return true
			}
		}
		return false
	})
	sup := superviseOf(filepath.Join(tr.scan, "orphans"), "orphans")
	if sup == 0 {
		t.Fatal("no supervise for orphans")
	}
	syscall.Kill(sup, syscall.SIGKILL)
	testenv.WaitFor(t, 5*time.Second, "the orphan adopted by PID 1", func() bool {
		for _, q := range procs() {
			if q.pid == orphan {
				return q.ppid == pid1
			}
		}
		return false
	})
	syscall.Kill(orphan, syscall.SIGKILL)
	testenv.WaitGone(t, orphan, time.Second, "the orphan reaped by PID 1")
	testenv.WaitFor(t, 5*time.Second, "logged up", func() bool { _, err := os.Stat(filepath.Join(tr.root, "mark")); return err == nil })

	t0 := time.Now()
	syscall.Kill(pid1, syscall.SIGTERM)
	if code := p.Wait(t, 20*time.Second); code != 0 {
		t.Fatalf("PID 1 svscan exited %d after SIGTERM; stderr: %s", code, tr.stderr())
	}
	t.Logf("PID 1 shut down in %v", time.Since(t0))
	checkAll(t, out, 120)
	testenv.WaitFor(t, 2*time.Second, "no process left", func() bool { return len(under(tr.root)) == 0 })
}

// TestPID1Timeout: as PID 1, what ignores SIGTERM is killed after -k, every
// process of the namespace included, and svscan exits 111.
func TestPID1Timeout(t *testing.T) {
	tr := newTree(t, svkitPair)
	svscan := testenv.Prog(t, "svscan")
	stubborn := tr.service("stubborn", "trap '' TERM\necho > ignoring\nexec sleep 1000\n", "")
	p := tr.startCmd(unshare(t, svscan, "-k", "1", tr.scan))
	pid1 := childOf(t, p.Pid(), svscan)
	// Up is not enough: until run has exec'd sleep, the shell may not
	// have set TERM to be ignored yet, and would die of it.
	testenv.WaitFor(t, 5*time.Second, "stubborn up, ignoring TERM", func() bool {
		_, err := os.Stat(filepath.Join(stubborn, "ignoring"))
		return testenv.PidOf(stubborn) != 0 && err == nil
	})
	syscall.Kill(pid1, syscall.SIGTERM)
	if code := p.Wait(t, 10*time.Second); code != 111 {
		t.Fatalf("PID 1 svscan exited %d, want 111", code)
	}
	testenv.WaitFor(t, 2*time.Second, "no process left", func() bool { return len(under(tr.root)) == 0 })
}

// TestDebianPID1IgnoresTerm documents the 0.76 behaviour svkit departs
// from: as PID 1, 0.76's svscan has no handler, so the kernel drops SIGTERM.
func TestDebianPID1IgnoresTerm(t *testing.T) {
	tr := newTree(t, debianPair)
	svscan := testenv.Debian(t, "svscan")
	tr.service("a", "exec sleep 1000\n", "")
	p := tr.startCmd(unshare(t, svscan, tr.scan))
	pid1 := childOf(t, p.Pid(), svscan)
	syscall.Kill(pid1, syscall.SIGTERM)
	time.Sleep(300 * time.Millisecond)
	if !testenv.Alive(pid1) {
		t.Errorf("0.76's svscan as PID 1 died of SIGTERM")
	}
}

// TestWarnings compares the warnings of a first pass with 0.76's: a
// dangling symbolic link, and supervise missing from PATH.
func TestWarnings(t *testing.T) {
	var got [2][]string
	for i, svscan := range []string{testenv.Debian(t, "svscan"), testenv.Prog(t, "svscan")} {
		root := t.TempDir()
		t.Cleanup(func() { testenv.KillUnder(t, root) })
		scan := filepath.Join(root, "sv")
		testenv.WriteScript(t, filepath.Join(scan, "a", "run"), "exec sleep 1000\n")
		testenv.WriteScript(t, filepath.Join(scan, "b", "run"), "exec sleep 1000\n")
		testenv.WriteScript(t, filepath.Join(scan, "b", "log", "run"), "exec cat\n")
		if err := os.Symlink("/nonexistent", filepath.Join(scan, "dangling")); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(svscan, scan)
		cmd.Env = []string{"PATH=" + root} // no supervise there
		errf := filepath.Join(root, "err")
		f, err := os.Create(errf)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = f
		p := testenv.Start(t, cmd)
		f.Close()
		testenv.WaitFor(t, 5*time.Second, "four warnings", func() bool {
			b, _ := os.ReadFile(errf)
			return strings.Count(string(b), "\n") >= 4
		})
		p.KillAndWait(t, syscall.SIGKILL)
		b, _ := os.ReadFile(errf)
		got[i] = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		sort.Strings(got[i])
	}
	if strings.Join(got[0], "\n") != strings.Join(got[1], "\n") {
		t.Errorf("warnings differ:\n0.76:  %q\nsvkit: %q", got[0], got[1])
	}
}

// counted reads a producer's counter file.
func counted(file string) int {
	b, _ := os.ReadFile(file)
	var n int
	fmt.Sscan(string(b), &n)
	return n
}

// quiesce pauses the producer of dir (svc -p) and waits until the logger
// has written every line the producer wrote: a logger killed between a
// read and its write loses what it read, whatever svscan does.
func quiesce(t *testing.T, dir, counter, out string) {
	t.Helper()
	testenv.Control(t, dir, "p")
	testenv.WaitFor(t, 5*time.Second, "the logger to catch up", func() bool {
		c := counted(counter)
		return c > 0 && maxSeq(t, out) >= c
	})
}

// TestPipeOutlivesItsHolders: when svscan, both supervise processes and
// the logger are all killed, the service alone holds the pipe; the lines
// it holds (written while the logger was stopped) and those the service
// writes meanwhile reach the logger that the next svscan starts. With a
// write-only end the service died of SIGPIPE at its next line and the
// kernel dropped the pipe with every line in it.
func TestPipeOutlivesItsHolders(t *testing.T) {
	tr := newTree(t, svkitPair)
	counter := filepath.Join(tr.root, "counter")
	// The logger in a session of its own: stopped in svscan's process
	// group, it would make the kernel send that whole group (the service
	// too) SIGHUP once svscan and the supervise processes died.
	logged := tr.service("logged", producer(counter, "0.02"), "exec setsid "+testenv.Prog(t, "multilog")+" ./main\n")
	p := tr.start(testenv.Prog(t, "svscan"))
	run := waitUp(t, logged, 5*time.Second)
	logger := waitUp(t, logged+"/log", 5*time.Second)
	testenv.WaitFor(t, 5*time.Second, "5 lines", func() bool { return counted(counter) >= 5 })

	// Lines pile up in the pipe while the logger is stopped; then every
	// holder of the pipe but the service dies.
	if err := syscall.Kill(logger, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	held := counted(counter)
	testenv.WaitFor(t, 5*time.Second, "5 lines into the pipe", func() bool { return counted(counter) >= held+5 })
	sups := []int{superviseOf(logged, "logged"), superviseOf(logged+"/log", "log")}
	p.KillAndWait(t, syscall.SIGKILL)
	for _, pid := range append(sups, logger) {
		if pid == 0 {
			t.Fatalf("supervise processes %v, logger %d", sups, logger)
		}
		syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, pid := range append(sups, logger) {
		testenv.WaitFor(t, 5*time.Second, fmt.Sprintf("%d dead", pid), func() bool { return !testenv.Alive(pid) })
	}
	alone := counted(counter)
	testenv.WaitFor(t, 5*time.Second, "the service writing on alone", func() bool {
		if !testenv.Alive(run) {
			st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", run))
			t.Fatalf("the service %d died with the logger gone: %s", run, st)
		}
		return counted(counter) >= alone+5
	})
	if !testenv.Alive(run) {
		t.Fatalf("the service %d died with the logger gone", run)
	}

	// A new svscan: its supervise adopts the service, its logger reads
	// the pipe from where the killed one stopped.
	p = tr.start(testenv.Prog(t, "svscan"), "-o")
	testenv.WaitFor(t, 5*time.Second, "a new logger", func() bool {
		l := testenv.PidOf(logged + "/log")
		return l != 0 && l != logger && testenv.Alive(l)
	})
	if got := testenv.PidOf(logged); got != run {
		t.Fatalf("the new supervise runs %d, not the adopted %d", got, run)
	}
	syscall.Kill(p.Pid(), syscall.SIGTERM)
	if code := p.Wait(t, 10*time.Second); code != 0 {
		t.Fatalf("svscan -o exited %d after TERM; stderr: %s", code, tr.stderr())
	}
	testenv.WaitFor(t, 5*time.Second, "every process of the tree gone", func() bool { return len(under(tr.root)) == 0 })
	out := filepath.Join(tr.root, "out")
	if err := os.WriteFile(out, testenv.ReadLog(t, filepath.Join(logged, "log", "main"), nil), 0644); err != nil {
		t.Fatal(err)
	}
	checkContiguous(t, out, counted(counter))
}

// TestForgottenServiceCgroup: a supervise that is killed cannot remove the
// cgroup it made for its service; svscan removes the service's and the
// logger's once the service directory is gone and nothing runs in them.
func TestForgottenServiceCgroup(t *testing.T) {
	testenv.RequireRoot(t)
	tr := newTree(t, svkitPair)
	gone := tr.service("gone", "exec sleep 1000\n", "exec cat > /dev/null\n")
	p := tr.start(testenv.Prog(t, "svscan"))
	run := waitUp(t, gone, 5*time.Second)
	logRun := waitUp(t, gone+"/log", 5*time.Second)
	groups := []string{cgroupDir(run), cgroupDir(logRun)}
	testenv.Require(t, groups[0] != "" && groups[1] != "" && groups[0] != groups[1],
		"supervise put the services in no cgroups of their own (no writable cgroup v2 hierarchy)")
	// The supervise processes first, so that nothing is restarted.
	for _, pid := range []int{superviseOf(gone, "gone"), superviseOf(gone+"/log", "log"), run, logRun} {
		if pid == 0 {
			t.Fatal("a supervise of gone is not running")
		}
		syscall.Kill(pid, syscall.SIGKILL)
		testenv.WaitFor(t, 5*time.Second, fmt.Sprintf("%d dead", pid), func() bool { return !testenv.Alive(pid) })
	}
	if err := os.RemoveAll(gone); err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		if _, err := os.Stat(g); err != nil {
			t.Fatalf("%s gone before svscan forgot the service: %v", g, err)
		}
	}
	alarm(t, p)
	testenv.WaitFor(t, 5*time.Second, "the forgotten service's cgroups removed", func() bool {
		for _, g := range groups {
			if _, err := os.Stat(g); err == nil {
				return false
			}
		}
		return true
	})
}

// cgroupDir returns the cgroup v2 directory of pid, or "" if it has none
// below the hierarchy's root.
func cgroupDir(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok && p != "/" {
			for _, mnt := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
				if _, err := os.Stat(filepath.Join(mnt, p, "cgroup.procs")); err == nil {
					return filepath.Join(mnt, p)
				}
			}
		}
	}
	return ""
}

// TestServicesKeepFileLimit: the Go runtime raises its own soft limit on
// open files at start and restores the original in the processes it
// starts; svkit never sets RLIMIT_NOFILE itself (which would turn that
// restore off), so a service and its logger under svscan and supervise
// see the soft limit svscan was started with.
func TestServicesKeepFileLimit(t *testing.T) {
	tr := newTree(t, svkitPair)
	out := filepath.Join(tr.root, "limits")
	svc := tr.service("svc", "ulimit -Sn > "+out+".run\nexec sleep 1000\n", "ulimit -Sn > "+out+".log\nexec cat > /dev/null\n")
	tr.startCmd(exec.Command("/bin/sh", "-c", "ulimit -Sn 777 && exec "+testenv.Prog(t, "svscan")+" "+tr.scan))
	waitUp(t, svc, 5*time.Second)
	waitUp(t, svc+"/log", 5*time.Second)
	for _, f := range []string{out + ".run", out + ".log"} {
		var got string
		testenv.WaitFor(t, 5*time.Second, f+" written", func() bool {
			b, _ := os.ReadFile(f)
			got = strings.TrimSpace(string(b))
			return got != ""
		})
		if got != "777" {
			t.Errorf("%s: soft limit %s, want 777 (svscan's)", f, got)
		}
	}
}
