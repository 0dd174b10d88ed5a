package svwait

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"svkit/internal/svstat"
	"svkit/internal/testenv"
	"svkit/pkg/svdir"
)

// watching reports whether process pid has at least n inotify watches,
// i.e. svwait has passed its start checks' watch step.
func watching(pid, n int) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fdinfo"
	ents, _ := os.ReadDir(dir)
	count := 0
	for _, e := range ents {
		b, _ := os.ReadFile(dir + "/" + e.Name())
		count += strings.Count(string(b), "inotify wd:")
	}
	return count >= n
}

// bg starts svwait with args and waits until it watches every dir (two
// watches each).
func bg(t *testing.T, ndirs int, args ...string) *testenv.Proc {
	t.Helper()
	p := testenv.Start(t, exec.Command(testenv.Prog(t, "svwait"), args...))
	testenv.WaitFor(t, 15*time.Second, "svwait to watch", func() bool { return p.Exited() || watching(p.Pid(), 2*ndirs) })
	return p
}

// exitAt waits for p and returns its exit code and about when it exited.
func exitAt(t *testing.T, p *testenv.Proc) (int, time.Time) {
	t.Helper()
	code := p.Wait(t, 15*time.Second)
	return code, time.Now()
}

func runSvwait(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return testenv.Run(t, "", "", testenv.Prog(t, "svwait"), args...)
}

// TestDebianSupervise: svwait against 0.76's supervise, which writes no
// supervise/info: -U is -u and -D is -d.
func TestDebianSupervise(t *testing.T) {
	sup := testenv.Debian(t, "supervise")
	dir := filepath.Join(t.TempDir(), "svc")
	testenv.WriteScript(t, dir+"/run", "exec sleep 1000\n")
	os.WriteFile(dir+"/down", nil, 0644)
	testenv.StartSupervise(t, sup, dir)

	for _, mode := range []string{"-d", "-D"} {
		if out, errb, code := runSvwait(t, mode, dir); code != 0 || out != "" || errb != "" {
			t.Fatalf("%s while down: %d %q %q", mode, code, out, errb)
		}
	}
	u, U := bg(t, 1, "-u", dir), bg(t, 1, "-U", dir)
	if u.Exited() || U.Exited() {
		t.Fatal("svwait -u or -U returned while down")
	}
	svdir.Send(dir, "u")
	for _, p := range []*testenv.Proc{u, U} {
		if code, _ := exitAt(t, p); code != 0 {
			t.Errorf("%v: exit %d, stderr %q", p.Cmd.Args, code, p.Stderr)
		}
	}
	r, err := svdir.ReadStatusOf(dir)
	if err != nil || r.Pid == 0 {
		t.Fatalf("status after svwait -u: %+v %v", r, err)
	}
	// svstat -j: up, with everything from supervise/info null.
	out, _, _ := testenv.Run(t, "", "", testenv.Prog(t, "svstat"), "-j", dir)
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("svstat -j: %q: %v", out, err)
	}
	if m["state"] != "up" || m["pid"] != float64(r.Pid) || m["ready"] != nil || m["restarts"] != nil || m["normally_up"] != false {
		t.Errorf("svstat -j: %s", out)
	}

	d, D := bg(t, 1, "-d", dir), bg(t, 1, "-D", dir)
	svdir.Send(dir, "d")
	for _, p := range []*testenv.Proc{d, D} {
		if code, _ := exitAt(t, p); code != 0 {
			t.Errorf("%v: exit %d, stderr %q", p.Cmd.Args, code, p.Stderr)
		}
	}
	if r, _ := svdir.ReadStatusOf(dir); r.Pid != 0 {
		t.Errorf("svwait -d returned while up: %+v", r)
	}

	// Timeout, through the program.
	start := time.Now()
	out, errb, code := runSvwait(t, "-u", "-t", "300", dir)
	took := time.Since(start)
	if code != 1 || out != "" || !strings.HasPrefix(errb, "svwait: warning: timed out waiting for "+dir+": down ") {
		t.Errorf("-t 300: %d %q %q", code, out, errb)
	}
	if took < 300*time.Millisecond || took > 5*time.Second {
		t.Errorf("-t 300 took %v", took)
	}

	// After svc -x, supervise is gone: svwait refuses to start.
	svdir.Send(dir, "x")
	testenv.WaitFor(t, 15*time.Second, "supervise to exit", func() bool {
		ok, _ := svdir.OK(dir)
		return !ok
	})
	want := "svwait: fatal: unable to wait for " + dir + ": supervise not running\n"
	if out, errb, code := runSvwait(t, "-d", dir); code != 111 || out != "" || errb != want {
		t.Errorf("no supervise: %d %q %q", code, out, errb)
	}
}

// TestSvkitSupervise: readiness through notification-fd and the finish
// script of svkit's supervise, which publishes supervise/info.
func TestSvkitSupervise(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "svc")
	testenv.WriteScript(t, dir+"/run", "sleep 0.3; echo >&3; exec sleep 1000\n")
	testenv.WriteScript(t, dir+"/finish", "exec sleep 0.3\n")
	os.WriteFile(dir+"/notification-fd", []byte("3\n"), 0644)
	os.WriteFile(dir+"/down", nil, 0644)
	testenv.StartSupervise(t, testenv.Prog(t, "supervise"), dir)
	testenv.WaitFor(t, 15*time.Second, "supervise/info", func() bool {
		_, err := os.Stat(dir + "/supervise/info")
		return err == nil
	})

	u, U := bg(t, 1, "-u", dir), bg(t, 1, "-U", dir)
	if u.Exited() || U.Exited() {
		t.Fatal("svwait -u or -U returned while down")
	}
	svdir.Send(dir, "u")
	codeU, upAt := exitAt(t, u)
	codeR, readyAt := exitAt(t, U)
	if codeU != 0 || codeR != 0 {
		t.Fatalf("exit codes -u %d (%q), -U %d (%q)", codeU, u.Stderr, codeR, U.Stderr)
	}
	o, ok := svstat.JSON(dir).(svstat.Object)
	if !ok || o.State != "up" || o.Ready == nil || !*o.Ready || o.ReadySinceNs == nil || o.StartedNs == nil {
		t.Fatalf("after svwait -U: %+v", svstat.JSON(dir))
	}
	readySince := time.Unix(0, *o.ReadySinceNs)
	if readyAt.Before(readySince) {
		t.Errorf("svwait -U exited at %v, before the service was ready at %v", readyAt, readySince)
	}
	if *o.ReadySinceNs-*o.StartedNs < int64(250*time.Millisecond) {
		t.Errorf("ready %v after start, run sleeps 0.3 s first", time.Duration(*o.ReadySinceNs-*o.StartedNs))
	}
	if readyAt.Sub(upAt) < 200*time.Millisecond {
		t.Errorf("svwait -U returned %v after svwait -u; the service gets ready 0.3 s after it starts", readyAt.Sub(upAt))
	}
	t.Logf("svwait -U exited %v after supervise/info said ready (process exit seen by the test)", readyAt.Sub(readySince))

	// svstat -j through the program.
	out, _, _ := testenv.Run(t, "", "", testenv.Prog(t, "svstat"), "-j", dir)
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("svstat -j: %q: %v", out, err)
	}
	if m["state"] != "up" || m["ready"] != true || m["wanted"] != "up" || m["restarts"] != float64(0) || m["last_exit_code"] != nil {
		t.Errorf("svstat -j: %s", out)
	}

	// -d returns when run is dead, -D only when finish is done too.
	d, D := bg(t, 1, "-d", dir), bg(t, 1, "-D", dir)
	svdir.Send(dir, "d")
	codeD, downAt := exitAt(t, d)
	codeF, finalAt := exitAt(t, D)
	if codeD != 0 || codeF != 0 {
		t.Fatalf("exit codes -d %d (%q), -D %d (%q)", codeD, d.Stderr, codeF, D.Stderr)
	}
	if finalAt.Sub(downAt) < 200*time.Millisecond {
		t.Errorf("svwait -D returned %v after svwait -d; finish runs 0.3 s", finalAt.Sub(downAt))
	}
	o, ok = svstat.JSON(dir).(svstat.Object)
	if !ok || o.State != "down" || o.LastExitSignal == nil || *o.LastExitSignal != int(syscall.SIGTERM) {
		t.Errorf("after svwait -D: %+v", svstat.JSON(dir))
	}
}

// TestProgram runs the built svwait on fabricated directories: usage
// errors, and the latency from a status rename to the process's exit.
func TestProgram(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{nil, usage},
		{[]string{"-x", "a"}, "svwait: illegal option -- x\n" + usage},
		{[]string{"-t", "soon", "a"}, usage},
	} {
		if out, errb, code := runSvwait(t, tc.args...); code != 100 || out != "" || errb != tc.stderr {
			t.Errorf("svwait %q: %d %q %q", tc.args, code, out, errb)
		}
	}

	f := newFake(t, filepath.Join(t.TempDir(), "svc"), rec(0, 'u'), nil)
	var worst, sum time.Duration
	const rounds = 10
	for i := 0; i < rounds; i++ {
		p := bg(t, 1, "-u", f.dir)
		at := time.Now()
		f.set(rec(100+i, 'u'), nil)
		code, end := exitAt(t, p)
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, p.Stderr)
		}
		lat := end.Sub(at)
		sum += lat
		worst = max(worst, lat)
		f.set(rec(0, 'u'), nil)
	}
	t.Logf("status rename to svwait's exit (as the test sees it), %d rounds: mean %v, max %v", rounds, sum/rounds, worst)
}

// A service held back for its needs: svwait's timeout says what it waits
// for.
func TestWaitingForNeeds(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "web")
	testenv.WriteScript(t, filepath.Join(dir, "run"), "exec sleep 100\n")
	os.MkdirAll(filepath.Join(dir, "needs"), 0755)
	os.Symlink("../../db", filepath.Join(dir, "needs", "db"))
	testenv.StartSupervise(t, testenv.Prog(t, "supervise"), dir)
	testenv.WaitFor(t, 15*time.Second, "web waiting", func() bool {
		in := svdir.ReadInfoOf(dir)
		return in != nil && len(in.WaitingFor) == 1
	})
	_, errb, code := runSvwait(t, "-U", "-t", "100", dir)
	if code != 1 || !strings.HasPrefix(errb, "svwait: warning: timed out waiting for "+dir+": down ") ||
		!strings.HasSuffix(errb, " seconds, normally up, want up, waiting for db\n") {
		t.Errorf("svwait: %d %q", code, errb)
	}
}
