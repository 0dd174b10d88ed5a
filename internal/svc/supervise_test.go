package svc

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"svkit/internal/testenv"
	"svkit/pkg/svdir"
)

// The run script records the signals it gets; TERM makes it exit.
const runScript = `echo "start $$" >> log
for s in HUP ALRM INT USR1 CONT; do trap "echo $s >> log" $s; done
trap 'echo TERM >> log; exit 0' TERM
while :; do sleep 0.02; done
`

// supervisors lists the supervise implementations to test against:
// Debian's, and svkit's once it is built.
func supervisors(t *testing.T) map[string]string {
	m := map[string]string{"debian": testenv.Debian(t, "supervise")}
	if p := filepath.Join(testenv.Bin(t), "supervise"); fileExists(p) {
		m["svkit"] = p
	}
	return m
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestAgainstSupervise drives a real supervise with svkit's svc through
// every command letter and checks each effect on the run process (signals
// trapped by the run script, the STOP state in /proc) and on
// supervise/status, comparing svkit's svstat and svok with Debian's at each
// step.
func TestAgainstSupervise(t *testing.T) {
	testenv.RequireRoot(t)
	if signal.Ignored(syscall.SIGINT) {
		// Ignored dispositions survive exec and sh cannot trap a signal
		// ignored on entry; with a handler installed the child gets SIG_DFL.
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGINT)
		defer signal.Stop(c)
	}
	for name, sup := range supervisors(t) {
		t.Run(name, func(t *testing.T) { drive(t, sup) })
	}
}

type svcEnv struct {
	t    *testing.T
	root string
	dir  string // service dir name below root
	svc  string
}

func (e *svcEnv) svcRun(letters string) {
	e.t.Helper()
	o, er, code := testenv.Run(e.t, e.root, "", e.svc, "-"+letters, e.dir)
	if code != 0 || o != "" || er != "" {
		e.t.Fatalf("svc -%s: %d %q %q", letters, code, o, er)
	}
}

func (e *svcEnv) status() svdir.Status {
	r, err := svdir.ReadStatusOf(filepath.Join(e.root, e.dir))
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *svcEnv) raw() string {
	b, _ := os.ReadFile(filepath.Join(e.root, e.dir, svdir.StatusPath))
	return string(b)
}

func (e *svcEnv) log() string {
	b, _ := os.ReadFile(filepath.Join(e.root, e.dir, "log"))
	return string(b)
}

var secs = regexp.MustCompile(`[0-9]+ seconds`)

// svstat compares Debian's and svkit's svstat on the service and returns
// svkit's line with the seconds masked.
func (e *svcEnv) svstat() string {
	e.t.Helper()
	var d, s string
	for i := 0; i < 3; i++ {
		d, _, _ = testenv.Run(e.t, e.root, "", testenv.Debian(e.t, "svstat"), e.dir)
		s, _, _ = testenv.Run(e.t, e.root, "", testenv.Prog(e.t, "svstat"), e.dir)
		if d == s {
			break
		}
	}
	if d != s {
		e.t.Errorf("svstat differs: Debian %q, svkit %q", d, s)
	}
	return secs.ReplaceAllString(s, "N seconds")
}

func (e *svcEnv) svok() int {
	e.t.Helper()
	_, _, d := testenv.Run(e.t, e.root, "", testenv.Debian(e.t, "svok"), e.dir)
	_, _, s := testenv.Run(e.t, e.root, "", testenv.Prog(e.t, "svok"), e.dir)
	if d != s {
		e.t.Errorf("svok: Debian %d, svkit %d", d, s)
	}
	return s
}

func drive(t *testing.T, supervise string) {
	root := t.TempDir()
	e := &svcEnv{t: t, root: root, dir: "svc1", svc: testenv.Prog(t, "svc")}
	testenv.WriteScript(t, filepath.Join(root, "svc1", "run"), runScript)
	cmd := exec.Command(supervise, "svc1")
	cmd.Dir = root
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := testenv.Start(t, cmd)
	// supervise, run and run's sleeps share the new process group: kill it
	// by its id (the supervise pid) at the end, whatever happened.
	t.Cleanup(func() { syscall.Kill(-p.Pid(), syscall.SIGKILL) })
	const wait = 5 * time.Second

	var pid int
	testenv.WaitFor(t, wait, "run to start", func() bool {
		if !fileExists(filepath.Join(root, "svc1", svdir.StatusPath)) {
			return false
		}
		pid = e.status().Pid
		return pid != 0 && strings.Contains(e.log(), fmt.Sprintf("start %d\n", pid))
	})
	if got := e.svstat(); got != "svc1: up (pid "+fmt.Sprint(pid)+") N seconds\n" {
		t.Errorf("svstat after start: %q", got)
	}
	if e.svok() != 0 {
		t.Errorf("svok: not running")
	}
	down := filepath.Join(root, "svc1", "down")
	os.WriteFile(down, nil, 0644)
	if got := e.svstat(); got != "svc1: up (pid "+fmt.Sprint(pid)+") N seconds, normally down\n" {
		t.Errorf("svstat with down: %q", got)
	}
	os.Remove(down)

	// h a i: a signal each, status not rewritten.
	for _, c := range []struct{ letter, sig string }{{"h", "HUP"}, {"a", "ALRM"}, {"i", "INT"}} {
		before := e.raw()
		e.svcRun(c.letter)
		testenv.WaitFor(t, wait, c.sig+" in the run log", func() bool { return strings.Contains(e.log(), c.sig+"\n") })
		if after := e.raw(); after != before {
			t.Errorf("svc -%s rewrote the status: %x -> %x", c.letter, before, after)
		}
	}

	// p: STOP and the paused flag; c: CONT and the flag cleared.
	e.svcRun("p")
	testenv.WaitFor(t, wait, "run stopped and paused", func() bool { return testenv.ProcState(pid) == 'T' && e.status().Paused })
	if got := e.svstat(); got != "svc1: up (pid "+fmt.Sprint(pid)+") N seconds, paused\n" {
		t.Errorf("svstat paused: %q", got)
	}
	e.svcRun("c")
	testenv.WaitFor(t, wait, "run continued", func() bool {
		return testenv.ProcState(pid) != 'T' && !e.status().Paused && strings.Contains(e.log(), "CONT\n")
	})

	// t: TERM, run exits, supervise restarts it.
	e.svcRun("t")
	testenv.WaitFor(t, wait, "restart after TERM", func() bool {
		r := e.status()
		return strings.Contains(e.log(), "TERM\n") && r.Pid != 0 && r.Pid != pid
	})
	pid = e.status().Pid

	// k: KILL (untrappable), restart.
	e.svcRun("k")
	testenv.WaitFor(t, wait, "restart after KILL", func() bool {
		r := e.status()
		return !testenv.Alive(pid) && r.Pid != 0 && r.Pid != pid
	})
	pid = e.status().Pid
	if n := strings.Count(e.log(), "TERM\n"); n != 1 {
		t.Errorf("k sent TERM? log:\n%s", e.log())
	}

	// d: down, want down; u: up again.
	e.svcRun("d")
	testenv.WaitFor(t, wait, "down", func() bool { r := e.status(); return r.Pid == 0 && r.Want == 'd' })
	if got := e.svstat(); got != "svc1: down N seconds, normally up\n" {
		t.Errorf("svstat down: %q", got)
	}
	e.svcRun("u")
	testenv.WaitFor(t, wait, "up", func() bool { r := e.status(); return r.Pid != 0 && r.Want == 'u' })
	pid = e.status().Pid

	// o: once; after TERM it stays down.
	e.svcRun("o")
	testenv.WaitFor(t, wait, "want once", func() bool { return e.status().Want == 0 })
	if got := e.svstat(); got != "svc1: up (pid "+fmt.Sprint(pid)+") N seconds\n" {
		t.Errorf("svstat once: %q", got)
	}
	e.svcRun("t")
	testenv.WaitFor(t, wait, "down after TERM in once mode", func() bool { return e.status().Pid == 0 })
	time.Sleep(300 * time.Millisecond)
	if r := e.status(); r.Pid != 0 {
		t.Errorf("restarted in once mode: %+v", r)
	}
	if got := e.svstat(); got != "svc1: down N seconds, normally up\n" {
		t.Errorf("svstat once, down: %q", got)
	}
	// o while down starts it once.
	e.svcRun("o")
	testenv.WaitFor(t, wait, "started once", func() bool { return e.status().Pid != 0 })
	pid = e.status().Pid

	// x alone does not stop the service; with d, supervise exits 0.
	e.svcRun("ux")
	time.Sleep(300 * time.Millisecond)
	if p.Exited() || e.status().Pid != pid {
		t.Fatalf("x alone stopped something: exited %v, status %+v", p.Exited(), e.status())
	}
	e.svcRun("dx")
	if code := p.Wait(t, wait); code != 0 {
		t.Errorf("supervise exit code %d after -dx; stderr %q", code, p.Stderr.String())
	}
	if got := e.svstat(); got != "svc1: supervise not running\n" {
		t.Errorf("svstat after exit: %q", got)
	}
	if e.svok() != 100 {
		t.Errorf("svok after exit: not 100")
	}
	if o, er, code := testenv.Run(t, root, "", e.svc, "-u", "svc1"); code != 0 || o != "" || er != "svc: warning: unable to control svc1: supervise not running\n" {
		t.Errorf("svc after exit: %d %q %q", code, o, er)
	}
}
