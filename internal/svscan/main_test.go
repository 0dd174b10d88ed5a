package svscan_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"svkit/internal/testenv"
	"svkit/pkg/svdir"
)

// containerTree makes, in a new tree, a logged service "other" that writes
// numbered lines until it is stopped, and a logged main service "app" whose
// run waits until other has written lines, writes 50 of its own and then
// runs body. It returns the tree and the files of other's counter and of
// both logs.
func containerTree(t *testing.T, body string) (tr *tree, counter, otherLog, appLog string) {
	t.Helper()
	tr = newTree(t, svkitPair)
	counter = filepath.Join(tr.root, "counter")
	otherLog = filepath.Join(tr.root, "other.log")
	appLog = filepath.Join(tr.root, "app.log")
	tr.service("other", producer(counter, "0.01"), "exec cat >> "+otherLog+"\n")
	app := filepath.Join(tr.root, "stage-app")
	if err := os.MkdirAll(app, 0755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "main"), nil, 0644); err != nil {
		t.Fatal(err)
	}
	tr.service("app", `while [ "$(cat `+counter+` 2>/dev/null || echo 0)" -lt 20 ]; do sleep 0.01; done
i=0; while [ $i -lt 50 ]; do i=$((i+1)); echo "line $i"; done
`+body, "exec cat >> "+appLog+"\n")
	return tr, counter, otherLog, appLog
}

// checkTreeEnded checks that no line of either service was lost and that
// nothing of the tree is left.
func checkTreeEnded(t *testing.T, tr *tree, counter, otherLog, appLog string) {
	t.Helper()
	checkAll(t, appLog, 50)
	b, err := os.ReadFile(counter)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if _, err := fmt.Sscan(strings.TrimSpace(string(b)), &n); err != nil || n < 20 {
		t.Fatalf("other's counter %q", b)
	}
	checkContiguous(t, otherLog, n)
	testenv.WaitFor(t, 2*time.Second, "no process left", func() bool { return len(under(tr.root)) == 0 })
}

// TestPID1MainExit: svscan as PID 1 of a new PID namespace, with a main
// service that exits 7: svscan stops the other service and both loggers,
// every line written reaches its log, and svscan exits 7.
func TestPID1MainExit(t *testing.T) {
	tr, counter, otherLog, appLog := containerTree(t, "exit 7\n")
	p := tr.startCmd(unshare(t, testenv.Prog(t, "svscan"), tr.scan))
	if code := p.Wait(t, 20*time.Second); code != 7 {
		t.Fatalf("PID 1 svscan exited %d, want 7; stderr: %s", code, tr.stderr())
	}
	checkTreeEnded(t, tr, counter, otherLog, appLog)
	if e := tr.stderr(); e != "" {
		t.Errorf("stderr: %s", e)
	}
}

// TestPID1MainKilled: a main service killed by a signal ends the tree with
// 128 plus the signal.
func TestPID1MainKilled(t *testing.T) {
	tr, counter, otherLog, appLog := containerTree(t, "kill -USR1 $$\n")
	p := tr.startCmd(unshare(t, testenv.Prog(t, "svscan"), tr.scan))
	if code := p.Wait(t, 20*time.Second); code != 128+int(syscall.SIGUSR1) {
		t.Fatalf("PID 1 svscan exited %d, want %d; stderr: %s", code, 128+int(syscall.SIGUSR1), tr.stderr())
	}
	checkTreeEnded(t, tr, counter, otherLog, appLog)
}

// TestPID1MainTerm: SIGTERM to PID 1 (docker stop) takes the tree down in
// order; svscan exits with the code of the main service's end in that stop:
// 143 for a main service that dies of the TERM, 0 for one that exits 0.
func TestPID1MainTerm(t *testing.T) {
	for _, c := range []struct {
		body string
		want int
	}{
		{"exec sleep 1000\n", 128 + int(syscall.SIGTERM)},
		{"trap 'exit 0' TERM\nsleep 1000 & wait\n", 0},
	} {
		tr, counter, otherLog, appLog := containerTree(t, c.body)
		svscan := testenv.Prog(t, "svscan")
		p := tr.startCmd(unshare(t, svscan, tr.scan))
		pid1 := childOf(t, p.Pid(), svscan)
		testenv.WaitFor(t, 10*time.Second, "app's lines logged", func() bool { return len(seqs(t, appLog)) == 50 })
		if c.want == 0 {
			// The shell has set its trap once it waits for sleep.
			testenv.WaitFor(t, 5*time.Second, "sleep under app", func() bool {
				for _, q := range under(filepath.Join(tr.scan, "app")) {
					if len(q.argv) == 2 && q.argv[0] == "sleep" {
						return true
					}
				}
				return false
			})
		}
		syscall.Kill(pid1, syscall.SIGTERM)
		if code := p.Wait(t, 20*time.Second); code != c.want {
			t.Fatalf("%q: PID 1 svscan exited %d after SIGTERM, want %d; stderr: %s", c.body, code, c.want, tr.stderr())
		}
		checkTreeEnded(t, tr, counter, otherLog, appLog)
	}
}

// TestOrderedMainOnce: with -o (not PID 1), a main service that says
// restart runs on until it is given svc -o and killed: then svscan exits
// 128+9. A second main file is warned about once and ignored.
func TestOrderedMainOnce(t *testing.T) {
	tr := newTree(t, svkitPair)
	a := tr.service("a", "exec sleep 1000\n", "")
	os.WriteFile(filepath.Join(a, "main"), []byte("restart\n"), 0644)
	b := tr.service("b", "exit 5\n", "")
	os.WriteFile(filepath.Join(b, "main"), nil, 0644)
	p := tr.start(testenv.Prog(t, "svscan"), "-o")
	waitUp(t, a, 10*time.Second)
	want := "svscan: warning: ignoring b/main: a is the main service\n"
	testenv.WaitFor(t, 10*time.Second, "the warning", func() bool { return tr.stderr() == want })
	testenv.Control(t, a, "k")
	waitUp(t, a, 10*time.Second)
	if p.Exited() {
		t.Fatalf("svscan exited when main was killed and restarted: %s", tr.stderr())
	}
	testenv.Control(t, a, "ok")
	if code := p.Wait(t, 20*time.Second); code != 128+int(syscall.SIGKILL) {
		t.Fatalf("svscan exited %d, want %d; stderr: %s", code, 128+int(syscall.SIGKILL), tr.stderr())
	}
	if got := tr.stderr(); got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
	testenv.WaitFor(t, 2*time.Second, "no process left", func() bool { return len(under(tr.root)) == 0 })
}

// TestMainIgnoredWithoutOrdered: without -o and not PID 1, svscan does not
// end when the main service does.
func TestMainIgnoredWithoutOrdered(t *testing.T) {
	tr := newTree(t, svkitPair)
	a := tr.service("a", "echo x >> ran\nexit 3\n", "")
	os.WriteFile(filepath.Join(a, "main"), nil, 0644)
	p := tr.start(testenv.Prog(t, "svscan"))
	testenv.WaitFor(t, 10*time.Second, "a ran", func() bool { _, err := os.Stat(filepath.Join(a, "ran")); return err == nil })
	time.Sleep(500 * time.Millisecond)
	alarm(t, p)
	time.Sleep(100 * time.Millisecond)
	if p.Exited() {
		t.Fatalf("svscan exited: %s", tr.stderr())
	}
}

// TestOrderedMainAdopted: a main service whose supervise was killed and
// replaced (the new one adopts the running service) still ends the tree
// when it exits; its exit code is not known to the new supervise, so
// svscan exits 111.
func TestOrderedMainAdopted(t *testing.T) {
	tr := newTree(t, svkitPair)
	a := tr.service("a", "while [ ! -e stop ]; do sleep 0.05; done\nexit 4\n", "")
	os.WriteFile(filepath.Join(a, "main"), []byte("exit\n"), 0644)
	p := tr.start(testenv.Prog(t, "svscan"), "-o")
	run := waitUp(t, a, 10*time.Second)
	old := superviseOf(a, "a")
	if old == 0 {
		t.Fatal("no supervise for a") // and no kill(0): that is the test's own group
	}
	syscall.Kill(old, syscall.SIGKILL)
	alarm(t, p)
	testenv.WaitFor(t, 10*time.Second, "a new supervise that adopted run", func() bool {
		sup := superviseOf(a, "a")
		in := svdir.ReadInfoOf(a)
		return sup != 0 && sup != old && in != nil && in.Supervisor == sup && in.Pid == run
	})
	if p.Exited() {
		t.Fatalf("svscan exited: %s", tr.stderr())
	}
	os.WriteFile(filepath.Join(a, "stop"), nil, 0644)
	if code := p.Wait(t, 20*time.Second); code != 111 {
		t.Fatalf("svscan exited %d, want 111; stderr: %s", code, tr.stderr())
	}
	testenv.WaitFor(t, 2*time.Second, "no process left", func() bool { return len(under(tr.root)) == 0 })
}
