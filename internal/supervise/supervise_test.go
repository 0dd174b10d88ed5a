package supervise_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"svkit/internal/testenv"
	"svkit/pkg/svdir"
)

// impl is one supervise implementation under test: svkit's, or Debian's
// daemontools 0.76 as the reference.
type impl struct {
	name   string
	path   func(t *testing.T) string
	hosted bool // the supervisor is hosted by svscan -i, not a supervise process
}

// wait bounds every poll: generous, because the machine may be loaded;
// only a failing test waits that long.
const wait = 15 * time.Second

var (
	svkit  = impl{"svkit", func(t *testing.T) string { return testenv.Prog(t, "supervise") }, false}
	debian = impl{"0.76", func(t *testing.T) string { return testenv.Debian(t, "supervise") }, false}
	both   = []impl{svkit, debian}
	// svkitHosted is svkit's supervisor in its second host, svscan -i:
	// the behaviour tests that say nothing of the supervise process
	// itself run against both hosts and 0.76.
	svkitHosted = impl{"svkit-i", func(t *testing.T) string { return testenv.Prog(t, "svscan") }, true}
	hosts       = []impl{svkit, svkitHosted, debian}
	svkitHosts  = []impl{svkit, svkitHosted}
)

// forHosts runs test once per host of svkit's supervisor, as a subtest
// named after it.
func forHosts(t *testing.T, test func(t *testing.T, im impl)) {
	for _, im := range svkitHosts {
		t.Run(im.name, func(t *testing.T) { test(t, im) })
	}
}

// service makes a service directory with the given run script body.
func service(t *testing.T, run string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "svc")
	testenv.WriteScript(t, filepath.Join(dir, "run"), run)
	return dir
}

// upService makes a service directory with the given run script body,
// runs im's supervise on it and waits until the service is up.
func upService(t *testing.T, im impl, run string) string {
	t.Helper()
	dir := service(t, run)
	startSupervise(t, im, dir)
	testenv.WaitStatus(t, wait, dir, "up", isUp)
	return dir
}

// bringDown sends d to dir's supervise and waits until the service is
// down.
func bringDown(t *testing.T, dir string) {
	t.Helper()
	testenv.Control(t, dir, "d")
	testenv.WaitStatus(t, wait, dir, "down", isDown)
}

// startSupervise runs `supervise dir` and waits until it answers on ok.
// At cleanup it stops the service and supervise, and kills what is left.
func startSupervise(t *testing.T, im impl, dir string) *testenv.Proc {
	t.Helper()
	cmd := exec.Command(im.path(t), dir)
	if im.hosted {
		// svscan -i on a scan directory of its own that links to dir.
		testenv.RequireCgroup(t)
		scan := t.TempDir()
		if err := os.Symlink(dir, filepath.Join(scan, "svc")); err != nil {
			t.Fatal(err)
		}
		cmd = exec.Command(im.path(t), "-i", scan)
	}
	p := testenv.Start(t, cmd)
	testenv.WaitFor(t, wait, im.name+" supervise ready", func() bool {
		if p.Exited() {
			t.Fatalf("supervise exited early: %s", p.Stderr)
		}
		fd, err := syscall.Open(filepath.Join(dir, svdir.OKPath), syscall.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			return false
		}
		syscall.Close(fd)
		return true
	})
	t.Cleanup(func() {
		// supervise first, so that it cannot restart run meanwhile; then
		// whatever it left running in the service directory (run, finish,
		// check; status may not show a run that was just being started).
		p.KillAndWait(t, syscall.SIGKILL)
		if r, err := svdir.ReadStatusOf(dir); err == nil && r.Pid != 0 {
			syscall.Kill(r.Pid, syscall.SIGKILL)
		}
		testenv.KillIn(dir)
		testenv.RemoveGroup(dir)
	})
	return p
}

func isUp(r svdir.Status) bool   { return r.Pid != 0 }
func isDown(r svdir.Status) bool { return r.Pid == 0 }

var (
	pidRe  = regexp.MustCompile(`pid [0-9]+`)
	secsRe = regexp.MustCompile(`[0-9]+ seconds`)
)

// svstat returns 0.76's svstat line for dir with pid and seconds masked.
func svstat(t *testing.T, dir string) string {
	t.Helper()
	out, _, _ := testenv.Run(t, "", "", testenv.Debian(t, "svstat"), dir)
	out = strings.TrimPrefix(out, dir+": ")
	return secsRe.ReplaceAllString(pidRe.ReplaceAllString(out, "pid P"), "S seconds")
}

func TestStartupFiles(t *testing.T) {
	for _, im := range both {
		t.Run(im.name, func(t *testing.T) {
			dir := upService(t, im, "exec sleep 1000\n")
			want := map[string]os.FileMode{
				"supervise":       os.ModeDir | 0700,
				svdir.LockPath:    0600,
				svdir.ControlPath: os.ModeNamedPipe | 0600,
				svdir.OKPath:      os.ModeNamedPipe | 0600,
				svdir.StatusPath:  0644,
			}
			for name, mode := range want {
				st, err := os.Lstat(filepath.Join(dir, name))
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if st.Mode() != mode {
					t.Errorf("%s: mode %v, want %v", name, st.Mode(), mode)
				}
			}
			wantNames := "control lock ok status"
			if im.name == "svkit" {
				// svkit adds the process record it re-adopts a service
				// by, its extended state and runit's pid and stat,
				// written just after the status record, and the spare
				// that the next change of state writes in place
				// (svdir.Replace).
				wantNames = "control info lock ok pid process spare stat status"
			}
			var got string
			testenv.WaitFor(t, wait, "supervise/ to hold "+wantNames, func() bool {
				ents, _ := os.ReadDir(filepath.Join(dir, "supervise"))
				var names []string
				for _, e := range ents {
					names = append(names, e.Name())
				}
				got = strings.Join(names, " ")
				return got == wantNames
			})
			if st, _ := os.Stat(filepath.Join(dir, svdir.StatusPath)); st.Size() != svdir.StatusSize {
				t.Errorf("status size %d", st.Size())
			}
		})
	}
}

// TestScenario drives both supervise implementations through the same
// command sequence and compares 0.76's svstat view and the status bytes at
// every step.
func TestScenario(t *testing.T) {
	type step struct {
		letters string
		settle  func(svdir.Status) bool
		want    string // svstat line, masked
		wantDir string // "", or "down" to create DIR/down before the step
	}
	steps := []step{
		{"", isUp, "up (pid P) S seconds\n", ""},
		{"p", func(r svdir.Status) bool { return r.Paused }, "up (pid P) S seconds, paused\n", ""},
		{"c", func(r svdir.Status) bool { return !r.Paused }, "up (pid P) S seconds\n", ""},
		{"d", isDown, "down S seconds, normally up\n", ""},
		{"u", isUp, "up (pid P) S seconds\n", ""},
		{"", isUp, "up (pid P) S seconds, normally down\n", "down"},
		{"o", func(r svdir.Status) bool { return r.Want == 0 }, "up (pid P) S seconds, normally down\n", ""},
		{"k", isDown, "down S seconds\n", ""},
		{"u", isUp, "up (pid P) S seconds, normally down\n", ""},
		{"pd", isDown, "down S seconds\n", ""},
		{"qz12\n", isDown, "down S seconds\n", ""},
		{"o", isUp, "up (pid P) S seconds, normally down\n", ""},
		{"t", isDown, "down S seconds\n", ""},
	}
	results := map[string][]string{}
	for _, im := range hosts {
		t.Run(im.name, func(t *testing.T) {
			dir := service(t, "exec sleep 1000\n")
			startSupervise(t, im, dir)
			var lines []string
			for i, s := range steps {
				if s.wantDir == "down" {
					os.WriteFile(filepath.Join(dir, "down"), nil, 0644)
				}
				if s.letters != "" {
					testenv.Control(t, dir, s.letters)
				}
				r := testenv.WaitStatus(t, wait, dir, fmt.Sprintf("step %d (%q)", i, s.letters), s.settle)
				// The record's flags must agree with what svstat shows.
				if r.Pid == 0 && r.Paused {
					t.Errorf("step %d: paused byte set while down", i)
				}
				got := svstat(t, dir)
				lines = append(lines, got)
				if got != s.want {
					t.Errorf("step %d (%q): svstat %q, want %q", i, s.letters, got, s.want)
				}
			}
			results[im.name] = lines
		})
	}
	for _, name := range []string{"svkit", "svkit-i"} {
		if a, b := results[name], results["0.76"]; a != nil && b != nil && strings.Join(a, "") != strings.Join(b, "") {
			t.Errorf("%s and 0.76 differ:\n%q\n%q", name, a, b)
		}
	}
}

// TestSignals checks that each signalling letter reaches run, observed by a
// run script that traps and records them.
func TestSignals(t *testing.T) {
	for _, im := range hosts {
		t.Run(im.name, func(t *testing.T) {
			dir := service(t, `echo $$ > pid
for s in HUP ALRM INT TERM CONT USR1; do trap "echo $s >> sigs" $s; done
echo ready >> sigs
while :; do sleep 0.05; done
`)
			startSupervise(t, im, dir)
			testenv.ReadLines(t, wait, filepath.Join(dir, "sigs"))
			sigs := filepath.Join(dir, "sigs")
			for _, c := range []struct{ letter, sig string }{{"h", "HUP"}, {"a", "ALRM"}, {"i", "INT"}, {"t", "TERM"}, {"c", "CONT"}} {
				testenv.Control(t, dir, c.letter)
				testenv.WaitFor(t, wait, "signal "+c.sig, func() bool {
					b, _ := os.ReadFile(sigs)
					return strings.HasSuffix(string(b), c.sig+"\n")
				})
			}
			// p stops the process; c continues it.
			pid := testenv.ReadStatus(t, dir).Pid
			testenv.Control(t, dir, "p")
			testenv.WaitFor(t, wait, "stopped", func() bool { return testenv.ProcState(pid) == 'T' })
			testenv.Control(t, dir, "c")
			testenv.WaitFor(t, wait, "running", func() bool { s := testenv.ProcState(pid); return s == 'S' || s == 'R' })
			// The shell runs the CONT trap once its sleep is over: wait for
			// it, lest it write into the sigs emptied below.
			testenv.WaitFor(t, wait, "CONT trapped", func() bool {
				b, _ := os.ReadFile(sigs)
				return strings.Count(string(b), "CONT\n") == 2
			})
			// d sends TERM then CONT; the trap does not exit, so it stays up.
			os.WriteFile(sigs, nil, 0644)
			testenv.Control(t, dir, "d")
			testenv.WaitFor(t, wait, "TERM and CONT", func() bool {
				b, _ := os.ReadFile(sigs)
				return string(b) == "TERM\nCONT\n"
			})
			// The trap may run before supervise has rewritten status.
			testenv.WaitStatus(t, wait, dir, "want down, still up", func(r svdir.Status) bool { return r.Want == 'd' })
			if r := testenv.ReadStatus(t, dir); r.Pid != pid {
				t.Errorf("after d: %+v", r)
			}
			// k kills it for good: want down, so no restart.
			testenv.Control(t, dir, "k")
			testenv.WaitStatus(t, wait, dir, "down after k", isDown)
		})
	}
}

func TestExit(t *testing.T) {
	for _, im := range both {
		t.Run(im.name, func(t *testing.T) {
			// x alone does not stop the service; supervise exits after the
			// next death, without restarting.
			dir := service(t, "exec sleep 1000\n")
			p := startSupervise(t, im, dir)
			r := testenv.WaitStatus(t, wait, dir, "up", isUp)
			// 0.76 reads no command during the second after a start, and
			// then announces twice in a row; wait that out so that the
			// status file's inode changes exactly once, for x.
			if im.name == "0.76" {
				for time.Since(r.Since()) < 1200*time.Millisecond {
					time.Sleep(20 * time.Millisecond)
				}
			}
			ino := testenv.Inode(t, filepath.Join(dir, svdir.StatusPath))
			testenv.Control(t, dir, "x")
			testenv.WaitFor(t, wait, "x processed", func() bool {
				return testenv.Inode(t, filepath.Join(dir, svdir.StatusPath)) != ino
			})
			if p.Exited() || !testenv.Alive(r.Pid) {
				t.Fatalf("x alone stopped something")
			}
			syscall.Kill(r.Pid, syscall.SIGTERM)
			if code := p.Wait(t, wait); code != 0 {
				t.Fatalf("exit code %d", code)
			}
			if r := testenv.ReadStatus(t, dir); r.Pid != 0 || r.Want != 'u' {
				t.Errorf("final status %+v", r)
			}
			out, _, _ := testenv.Run(t, "", "", testenv.Debian(t, "svstat"), dir)
			if !strings.HasSuffix(out, ": supervise not running\n") {
				t.Errorf("svstat after x: %q", out)
			}

			// dx on a running service: down, then exit 0.
			dir = service(t, "exec sleep 1000\n")
			p = startSupervise(t, im, dir)
			testenv.WaitStatus(t, wait, dir, "up", isUp)
			testenv.Control(t, dir, "dx")
			if code := p.Wait(t, wait); code != 0 {
				t.Fatalf("dx exit code %d", code)
			}
			// x while down exits at once.
			dir = service(t, "exec sleep 1000\n")
			os.WriteFile(filepath.Join(dir, "down"), nil, 0644)
			p = startSupervise(t, im, dir)
			testenv.Control(t, dir, "x")
			if code := p.Wait(t, wait); code != 0 {
				t.Fatalf("x while down: exit code %d", code)
			}
		})
	}
}

// TestOnce: o starts a down service and never restarts it.
func TestOnce(t *testing.T) {
	for _, im := range hosts {
		t.Run(im.name, func(t *testing.T) {
			dir := service(t, "echo run >> runs\nexec sleep 1000\n")
			os.WriteFile(filepath.Join(dir, "down"), nil, 0644)
			startSupervise(t, im, dir)
			if r := testenv.ReadStatus(t, dir); r.Pid != 0 || r.Want != 'd' {
				t.Fatalf("with down file: %+v", r)
			}
			testenv.Control(t, dir, "o")
			r := testenv.WaitStatus(t, wait, dir, "up", isUp)
			if r.Want != 0 {
				t.Errorf("want byte %d after o", r.Want)
			}
			testenv.ReadLines(t, wait, filepath.Join(dir, "runs"))
			syscall.Kill(r.Pid, syscall.SIGKILL)
			testenv.WaitStatus(t, wait, dir, "down", isDown)
			if got := svstat(t, dir); got != "down S seconds\n" {
				t.Errorf("svstat %q", got)
			}
			// Still down a moment after 0.76's one-second restart would have fired.
			time.Sleep(1200 * time.Millisecond)
			if b, _ := os.ReadFile(filepath.Join(dir, "runs")); string(b) != "run\n" {
				t.Errorf("run started %q", b)
			}
		})
	}
}

func TestLockHeld(t *testing.T) {
	for _, im := range both {
		t.Run(im.name, func(t *testing.T) {
			dir := service(t, "exec sleep 1000\n")
			startSupervise(t, im, dir)
			_, stderr, code := testenv.Run(t, "", "", im.path(t), dir)
			want := "supervise: fatal: unable to acquire " + dir + "/supervise/lock: temporary failure\n"
			if code != 111 || stderr != want {
				t.Errorf("second supervise: %d %q, want 111 %q", code, stderr, want)
			}
		})
	}
}

func TestUsageAndSetupErrors(t *testing.T) {
	tmp := t.TempDir()
	notdir := filepath.Join(tmp, "file")
	os.WriteFile(notdir, nil, 0644)
	superviseIsFile := filepath.Join(tmp, "sf")
	os.MkdirAll(superviseIsFile, 0755)
	os.WriteFile(filepath.Join(superviseIsFile, "supervise"), nil, 0644)
	cases := []struct {
		name string
		args []string
	}{
		{"no args", nil},
		{"two args", []string{tmp, tmp}},
		{"missing dir", []string{filepath.Join(tmp, "nope")}},
		{"not a dir", []string{notdir}},
		{"supervise is a file", []string{superviseIsFile}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var res [2]string
			for i, im := range both {
				_, stderr, code := testenv.Run(t, "", "", im.path(t), c.args...)
				res[i] = fmt.Sprintf("%d %s", code, stderr)
			}
			if res[0] != res[1] {
				t.Errorf("svkit %q, 0.76 %q", res[0], res[1])
			}
		})
	}
}

// TestRunFailures: a missing or non-executable run gives 0.76's message and
// is retried about once a second, not in a busy loop.
func TestRunFailures(t *testing.T) {
	for _, c := range []struct{ name, errText string }{{"missing", "file does not exist"}, {"not executable", "access denied"}} {
		t.Run(c.name, func(t *testing.T) {
			for _, im := range both {
				dir := filepath.Join(t.TempDir(), "svc")
				os.MkdirAll(dir, 0755)
				if c.name == "not executable" {
					os.WriteFile(filepath.Join(dir, "run"), []byte("#!/bin/sh\nexec sleep 1000\n"), 0644)
				}
				p := startSupervise(t, im, dir)
				want := "supervise: fatal: unable to start " + dir + "/run: " + c.errText + "\n"
				testenv.WaitFor(t, wait, "two attempts", func() bool {
					return strings.Count(p.Stderr.String(), want) >= 2
				})
				start := time.Now()
				n0 := strings.Count(p.Stderr.String(), want)
				time.Sleep(2 * time.Second)
				n := strings.Count(p.Stderr.String(), want) - n0
				if n < 1 || n > 3 || strings.ReplaceAll(p.Stderr.String(), want, "") != "" {
					t.Errorf("%s: %d attempts in %v; stderr %q", im.name, n, time.Since(start), p.Stderr)
				}
				if r := testenv.ReadStatus(t, dir); r.Pid != 0 && testenv.Alive(r.Pid) {
					t.Errorf("%s: status shows live pid %d", im.name, r.Pid)
				}
			}
		})
	}
}

// TestRestartRate: a run that exits at once is restarted about once a
// second, by both implementations.
func TestRestartRate(t *testing.T) {
	for _, im := range hosts {
		t.Run(im.name, func(t *testing.T) {
			dir := service(t, "date +%s.%N >> starts\nexit 1\n")
			startSupervise(t, im, dir)
			starts := filepath.Join(dir, "starts")
			testenv.WaitFor(t, 10*time.Second, "4 starts", func() bool {
				b, _ := os.ReadFile(starts)
				return strings.Count(string(b), "\n") >= 4
			})
			b, _ := os.ReadFile(starts)
			var ts []float64
			for _, l := range strings.Fields(string(b)) {
				f, _ := strconv.ParseFloat(l, 64)
				ts = append(ts, f)
			}
			for i := 1; i < len(ts); i++ {
				if d := ts[i] - ts[i-1]; d < 0.9 || d > 2.5 {
					t.Errorf("interval %d: %.3fs", i, d)
				}
			}
		})
	}
}

// TestCommandsAtOnce: svkit acts on svc -d right after a start, where 0.76
// is deaf for a second.
func TestCommandsAtOnce(t *testing.T) {
	forHosts(t, func(t *testing.T, im impl) {
		dir := service(t, "exec sleep 1000\n")
		startSupervise(t, im, dir)
		for i := 0; i < 3; i++ {
			r := testenv.WaitStatus(t, wait, dir, "up", isUp)
			start := time.Now()
			bringDown(t, dir)
			testenv.Control(t, dir, "u")
			r2 := testenv.WaitStatus(t, wait, dir, "up again", func(n svdir.Status) bool { return n.Pid != 0 && n.Pid != r.Pid })
			if d := time.Since(start); d > 900*time.Millisecond {
				t.Errorf("down/up round trip took %v", d)
			}
			_ = r2
		}
	})
}

// TestCommandBurst writes 4096 bytes of "c" and then "d" into the control
// FIFO in one write and counts, through inotify, how often the status file
// is replaced until the service is down. svkit writes it once per read of
// the FIFO, so the d behind the burst is acted on at once; 0.76 writes it
// for every byte (4096 times), and a command behind such a burst waited
// seconds on a loaded machine (bench/supervise.sh measures it).
func TestCommandBurst(t *testing.T) {
	for _, im := range both {
		t.Run(im.name, func(t *testing.T) {
			dir := upService(t, im, "exec sleep 1000\n")
			if im.name == "0.76" {
				time.Sleep(1100 * time.Millisecond) // out of 0.76's deaf second after a start
			}
			in, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(in)
			// IN_CREATE of status.new between the renames keeps
			// inotify from merging them into one event.
			if _, err := unix.InotifyAddWatch(in, filepath.Join(dir, "supervise"), unix.IN_MOVED_TO|unix.IN_CREATE); err != nil {
				t.Fatal(err)
			}
			const burst = 4096
			testenv.Control(t, dir, strings.Repeat("c", burst)+"d")
			testenv.WaitStatus(t, wait, dir, "down behind the burst", isDown)
			writes, overflow := 0, false
			buf := make([]byte, 64<<10)
			for {
				n, err := unix.Read(in, buf)
				if n <= 0 || err != nil {
					break
				}
				for off := 0; off+unix.SizeofInotifyEvent <= n; {
					ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
					name := strings.TrimRight(string(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)]), "\x00")
					if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
						overflow = true
					}
					if name == "status" && ev.Mask&unix.IN_MOVED_TO != 0 {
						writes++
					}
					off += unix.SizeofInotifyEvent + int(ev.Len)
				}
			}
			t.Logf("%s: status replaced %d times (queue overflowed: %v) for %d command bytes", im.name, writes, overflow, burst+1)
			if im.name == "svkit" && (overflow || writes > 64) {
				t.Errorf("status replaced %d times (overflow %v) for %d command bytes; want at most one per read of the FIFO", writes, overflow, burst+1)
			}
		})
	}
}

// TestChildEnvironment compares what run inherits from each supervise:
// descriptors, environment, signal mask and dispositions, session.
func TestChildEnvironment(t *testing.T) {
	script := `exec /bin/sh -c '
env | grep -v "^PWD=" | sort > out.env
ps -o sid= -o pgid= -p $$ | tr -s " " > out.sess
ps -o sid= -o pgid= -p $PPID | tr -s " " > out.parent
echo done > out.done
exec sleep 1000'
`
	res := map[string]map[string]string{}
	for _, im := range both {
		dir := service(t, script)
		cmd := exec.Command(im.path(t), dir)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "SVKIT_TEST=a b=c"}
		p := testenv.Start(t, cmd)
		testenv.ReadLines(t, wait, filepath.Join(dir, "out.done"))
		got := map[string]string{}
		r := testenv.WaitStatus(t, wait, dir, "up", isUp)
		// Until sleep is asleep it may hold files of its own start-up
		// open (the dynamic loader's libraries, locale files): look
		// once it waits in nanosleep.
		testenv.WaitFor(t, wait, "run execs sleep, asleep", func() bool {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", r.Pid))
			w, _ := os.ReadFile(fmt.Sprintf("/proc/%d/wchan", r.Pid))
			return string(b) == "sleep\n" && strings.Contains(string(w), "nanosleep")
		})
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", r.Pid))
		for _, fd := range fds {
			got["fds"] += fd.Name() + " "
		}
		// The signal mask and ignored set of what run exec'd, read from
		// outside (a shell reading its own status races with its forks).
		st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", r.Pid))
		for _, l := range strings.Split(string(st), "\n") {
			if strings.HasPrefix(l, "SigBlk:") || strings.HasPrefix(l, "SigIgn:") {
				got["sig"] += l + "\n"
			}
		}
		for _, f := range []string{"env", "sess", "parent"} {
			b, _ := os.ReadFile(filepath.Join(dir, "out."+f))
			got[f] = string(b)
		}
		res[im.name] = got
		if got["sess"] != got["parent"] {
			t.Errorf("%s: run is not in supervise's session/pgrp: %q vs %q", im.name, got["sess"], got["parent"])
		}
		p.KillAndWait(t, syscall.SIGKILL)
		if r := testenv.ReadStatus(t, dir); r.Pid != 0 {
			syscall.Kill(r.Pid, syscall.SIGKILL)
		}
		testenv.RemoveGroup(dir)
	}
	a, b := res["svkit"], res["0.76"]
	if a["fds"] != "0 1 2 " {
		t.Errorf("run's descriptors: %q", a["fds"])
	}
	if !strings.Contains(a["env"], "SVKIT_TEST=a b=c\n") || strings.Contains(a["env"], "GO") {
		t.Errorf("environment: %q", a["env"])
	}
	for _, k := range []string{"fds", "env", "sig"} {
		if b != nil && a[k] != b[k] {
			t.Errorf("%s differs: svkit %q, 0.76 %q", k, a[k], b[k])
		}
	}
}

// TestTermKillsSuperviseNotRun: TERM, HUP and INT kill supervise and leave
// run alone, as in 0.76.
func TestTermKillsSuperviseNotRun(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT} {
		dir := service(t, "exec sleep 1000\n")
		p := startSupervise(t, svkit, dir)
		r := testenv.WaitStatus(t, wait, dir, "up", isUp)
		syscall.Kill(p.Pid(), sig)
		p.Wait(t, wait)
		if st := p.State().Sys().(syscall.WaitStatus); !st.Signaled() || st.Signal() != sig {
			t.Errorf("%v: supervise ended with %v", sig, st)
		}
		if !testenv.Alive(r.Pid) {
			t.Errorf("%v: run died with supervise", sig)
		}
		syscall.Kill(r.Pid, syscall.SIGKILL)
	}
}

// TestSymlinkedFIFOs: a control FIFO replaced by a symlink or a regular
// file is refused rather than followed.
func TestSymlinkedFIFOs(t *testing.T) {
	for _, kind := range []string{"symlink", "regular"} {
		dir := service(t, "exec sleep 1000\n")
		os.MkdirAll(filepath.Join(dir, "supervise"), 0700)
		victim := filepath.Join(t.TempDir(), "victim")
		os.WriteFile(victim, []byte("keep"), 0644)
		ctl := filepath.Join(dir, svdir.ControlPath)
		if kind == "symlink" {
			os.Symlink(victim, ctl)
		} else {
			os.WriteFile(ctl, []byte("d"), 0600)
		}
		_, stderr, code := testenv.Run(t, "", "", testenv.Prog(t, "supervise"), dir)
		if code != 111 || !strings.HasPrefix(stderr, "supervise: fatal: unable to read "+dir+"/supervise/control: ") {
			t.Errorf("%s: %d %q", kind, code, stderr)
		}
		if b, _ := os.ReadFile(victim); string(b) != "keep" {
			t.Errorf("%s: victim changed", kind)
		}
	}
}

// TestDanglingSuperviseSymlink: Debian's 0.76 creates the target of a
// dangling supervise symlink (for supervise/ on /run).
func TestDanglingSuperviseSymlink(t *testing.T) {
	for _, im := range both {
		t.Run(im.name, func(t *testing.T) {
			dir := service(t, "exec sleep 1000\n")
			target := filepath.Join(t.TempDir(), "state")
			os.Symlink(target, filepath.Join(dir, "supervise"))
			startSupervise(t, im, dir)
			if st, err := os.Stat(filepath.Join(target, "status")); err != nil || st.Size() != 18 {
				t.Fatalf("status in symlink target: %v", err)
			}
		})
	}
}

// TestReadOnlyDir: on a read-only file system supervise fails as 0.76 does.
func TestReadOnlyDir(t *testing.T) {
	testenv.RequireRoot(t)
	res := map[string]string{}
	for _, im := range both {
		dir := service(t, "exec sleep 1000\n")
		if out, err := exec.Command("mount", "--bind", dir, dir).CombinedOutput(); err != nil {
			testenv.Require(t, false, "bind mount: "+string(out))
		}
		t.Cleanup(func() { exec.Command("umount", dir).Run() })
		testenv.MustRun(t, "mount", "-o", "remount,bind,ro", dir)
		_, stderr, code := testenv.Run(t, "", "", im.path(t), dir)
		res[im.name] = fmt.Sprintf("%d %s", code, strings.ReplaceAll(stderr, dir, "DIR"))
	}
	if want := "111 supervise: fatal: unable to acquire DIR/supervise/lock: file does not exist\n"; res["svkit"] != want {
		t.Errorf("svkit: %q", res["svkit"])
	}
	if res["svkit"] != res["0.76"] {
		t.Errorf("svkit %q, 0.76 %q", res["svkit"], res["0.76"])
	}
}

// TestDebianToolsDriveSvkit: 0.76's svc, svok and svstat drive and read
// svkit's supervise exactly as they do their own.
func TestDebianToolsDriveSvkit(t *testing.T) {
	svc, svok := testenv.Debian(t, "svc"), testenv.Debian(t, "svok")
	for _, im := range both {
		t.Run(im.name, func(t *testing.T) {
			dir := service(t, "exec sleep 1000\n")
			if _, _, code := testenv.Run(t, "", "", svok, dir); code != 100 {
				t.Errorf("svok before supervise: %d", code)
			}
			p := startSupervise(t, im, dir)
			if _, _, code := testenv.Run(t, "", "", svok, dir); code != 0 {
				t.Errorf("svok: %d", code)
			}
			r := testenv.WaitStatus(t, wait, dir, "up", isUp)
			if im.name == "0.76" {
				// 0.76 is deaf for a second after a start.
				for time.Since(r.Since()) < 1200*time.Millisecond {
					time.Sleep(20 * time.Millisecond)
				}
			}
			for _, c := range []struct {
				opt  string
				cond func(svdir.Status) bool
				line string
			}{
				{"-d", isDown, "down S seconds, normally up\n"},
				{"-u", isUp, "up (pid P) S seconds\n"},
				{"-p", func(r svdir.Status) bool { return r.Paused }, "up (pid P) S seconds, paused\n"},
				{"-c", func(r svdir.Status) bool { return !r.Paused }, "up (pid P) S seconds\n"},
				{"-k", func(n svdir.Status) bool { return n.Pid != 0 && n.Pid != r.Pid }, "up (pid P) S seconds\n"},
			} {
				if _, stderr, code := testenv.Run(t, "", "", svc, c.opt, dir); code != 0 || stderr != "" {
					t.Fatalf("svc %s: %d %q", c.opt, code, stderr)
				}
				r = testenv.WaitStatus(t, wait, dir, "svc "+c.opt, c.cond)
				if got := svstat(t, dir); got != c.line {
					t.Errorf("after svc %s: %q, want %q", c.opt, got, c.line)
				}
				if im.name == "0.76" && c.opt != "-d" && c.opt != "-p" && c.opt != "-c" {
					for time.Since(r.Since()) < 1200*time.Millisecond {
						time.Sleep(20 * time.Millisecond)
					}
				}
			}
			testenv.Run(t, "", "", svc, "-dx", dir)
			if code := p.Wait(t, wait); code != 0 {
				t.Errorf("supervise after svc -dx: exit %d", code)
			}
			if _, _, code := testenv.Run(t, "", "", svok, dir); code != 100 {
				t.Errorf("svok after exit: %d", code)
			}
		})
	}
}

// TestNoGrowth: a supervise whose service is taken down and up again many
// times keeps its descriptors and the threads it made at start-up, and its
// memory levels off (a leak would grow with every cycle).
func TestNoGrowth(t *testing.T) {
	dir := service(t, "exec sleep 1000\n")
	p := startSupervise(t, svkit, dir)
	r := testenv.WaitStatus(t, wait, dir, "up", isUp)
	usage := func() (rssKB, threads, fds int) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) >= 2 && f[0] == "VmRSS:" {
				rssKB, _ = strconv.Atoi(f[1])
			}
			if len(f) >= 2 && f[0] == "Threads:" {
				threads, _ = strconv.Atoi(f[1])
			}
		}
		// The fewest descriptors over a few looks: supervise opens
		// some for an instant (a status file being replaced, /proc).
		fds = -1
		for i := 0; i < 5; i++ {
			ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.Pid()))
			if fds < 0 || len(ents) < fds {
				fds = len(ents)
			}
			time.Sleep(20 * time.Millisecond)
		}
		return rssKB, threads, fds
	}
	cycles := func(n int) {
		for i := 0; i < n; i++ {
			bringDown(t, dir)
			testenv.Control(t, dir, "u")
			old := r.Pid
			r = testenv.WaitStatus(t, wait, dir, "up again", func(n svdir.Status) bool { return n.Pid != 0 && n.Pid != old })
		}
	}
	// supervise makes every thread it needs at start-up.
	_, threads0, _ := usage()
	cycles(10) // warm up: the first cycles open what later ones reuse
	_, _, fds0 := usage()
	cycles(300)
	rss1, _, fds1 := usage()
	cycles(300)
	rss2, threads2, fds2 := usage()
	t.Logf("RSS %d KB after 300 cycles, %d KB after 600; %d threads; fds %d %d %d", rss1, rss2, threads2, fds0, fds1, fds2)
	if fds1 != fds0 || fds2 != fds0 {
		t.Errorf("descriptors %d, %d, %d", fds0, fds1, fds2)
	}
	if rss2-rss1 > 1024 {
		t.Errorf("RSS grew by %d KB over the second 300 cycles", rss2-rss1)
	}
	if threads2 != threads0 {
		t.Errorf("%d threads at start, %d after 600 cycles", threads0, threads2)
	}
}

// TestWorkingDirectory: the supervisor never relies on the process's
// working directory (many supervisors can share one process); it reaches
// the service directory, named relative to where supervise was started,
// through a descriptor. A test build told to put its working directory
// elsewhere (SVKIT_TEST_CWD) still starts run in the service directory and
// resolves a relative supervise symlink from there; the program as users
// run it stays in the service directory, as 0.76's does.
func TestWorkingDirectory(t *testing.T) {
	top := t.TempDir()
	dir := filepath.Join(top, "svc")
	testenv.WriteScript(t, filepath.Join(dir, "run"), "pwd -P > out.pwd\nexec sleep 1000\n")
	os.Symlink("../state-svc", filepath.Join(dir, "supervise"))
	cmd := exec.Command(testenv.Prog(t, "supervise"), "svc")
	cmd.Dir = top
	cmd.Env = append(os.Environ(), "SVKIT_TEST_CWD=/")
	p := testenv.Start(t, cmd)
	t.Cleanup(func() {
		p.KillAndWait(t, syscall.SIGKILL)
		testenv.KillIn(dir)
		testenv.RemoveGroup(dir)
	})
	pwd := testenv.ReadLines(t, wait, filepath.Join(dir, "out.pwd"))
	real, _ := filepath.EvalSymlinks(dir)
	if pwd != real+"\n" {
		t.Errorf("run's working directory %q, want %q", pwd, real)
	}
	if st, err := os.Stat(filepath.Join(top, "state-svc", "status")); err != nil || st.Size() != 18 {
		t.Errorf("status in the relative symlink's target: %v", err)
	}
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", p.Cmd.Process.Pid))
	if err != nil || cwd != "/" {
		t.Errorf("supervise's working directory %q (%v), want / as the test asked", cwd, err)
	}
	testenv.Control(t, dir, "dx")
	testenv.WaitFor(t, wait, "supervise to exit", p.Exited)

	// Without the hook: in the service directory, as 0.76's supervise.
	p = startSupervise(t, svkit, dir)
	if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", p.Cmd.Process.Pid)); err != nil || cwd != real {
		t.Errorf("supervise's working directory %q (%v), want the service directory %q", cwd, err, real)
	}
}
