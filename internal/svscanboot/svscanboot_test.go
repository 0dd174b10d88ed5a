package svscanboot_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"svkit/internal/svscanboot"
	"svkit/internal/testenv"
)

// TestGlobLikeSh checks the arguments of `svc -dx DIR/* DIR/*/log` against
// what /bin/sh expands them to.
func TestGlobLikeSh(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	scan := filepath.Join(dir, "sv")
	other := filepath.Join(dir, "other")
	for _, d := range []string{empty, scan, other + "/log", scan + "/b/log", scan + "/.dot/log", scan + "/e", scan + "/sp ace/log", scan + "/A"} {
		if err := os.MkdirAll(d, 0755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(scan+"/c", nil, 0644)
	os.WriteFile(scan+"/e/log", nil, 0644) // a file called log matches too
	os.Symlink(other, scan+"/d")
	os.Symlink("/nonexistent", scan+"/f")
	for _, d := range []string{scan, empty, filepath.Join(dir, "missing")} {
		cmd := exec.Command("/bin/sh", "-c", `for f in "$1"/* "$1"/*/log; do printf '%s\n' "$f"; done`, "sh", d)
		cmd.Env = []string{"LC_ALL=C", "PATH=/bin:/usr/bin"}
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
		p, ok := svscanboot.MakePlan([]string{d}, "")
		if !ok {
			t.Fatal("MakePlan failed")
		}
		got := p.SvcArgs[2:]
		if strings.Join(got, "|") != strings.Join(want, "|") || p.SvcArgs[0] != "svc" || p.SvcArgs[1] != "-dx" {
			t.Errorf("svc arguments for %s:\n got %q\nwant %q", d, got, want)
		}
	}
}

func TestMakePlan(t *testing.T) {
	p, ok := svscanboot.MakePlan(nil, "/usr/bin")
	if !ok || p.Dir != "/service" || p.Path != svscanboot.Path || strings.Join(p.SvscanArgs, " ") != "svscan /service" {
		t.Errorf("no arguments: %+v", p)
	}
	p, ok = svscanboot.MakePlan([]string{"-o", "-k", "20", "/etc/service"}, "/opt/svkit/bin")
	if !ok || p.Path != "/opt/svkit/bin:"+svscanboot.Path || strings.Join(p.SvscanArgs, " ") != "svscan -o -k 20 /etc/service" {
		t.Errorf("-o -k 20: %+v", p)
	}
	p, ok = svscanboot.MakePlan([]string{"-oi", "/etc/service"}, "")
	if !ok || strings.Join(p.SvscanArgs, " ") != "svscan -o -i /etc/service" {
		t.Errorf("-oi: %+v", p)
	}
	if _, ok := svscanboot.MakePlan([]string{"-k"}, ""); ok {
		t.Errorf("-k without a value accepted")
	}
	if len(svscanboot.Title) != 3 || svscanboot.Title[2] != strings.Repeat(".", 400) {
		t.Errorf("readproctitle arguments %q", svscanboot.Title)
	}
}

// TestBoot runs svscanboot on a scan directory holding a stale service
// whose supervise is still running: that supervise is told to exit, the
// process becomes svscan (environment: PATH only; output: a pipe into
// readproctitle, which shows a service's errors), and with -o SIGTERM takes
// everything down.
func TestBoot(t *testing.T) {
	root := t.TempDir()
	t.Cleanup(func() { testenv.KillUnder(t, root) })
	scan := filepath.Join(root, "sv")
	stale := filepath.Join(scan, "stale")
	noisy := filepath.Join(scan, "noisy")
	testenv.WriteScript(t, filepath.Join(stale, "run"), "exec sleep 1000\n")
	testenv.WriteScript(t, filepath.Join(noisy, "run"), "echo noisy complains >&2\nexec sleep 1000\n")

	old := exec.Command(testenv.Prog(t, "supervise"), "stale")
	old.Dir = scan
	oldp := testenv.Start(t, old)
	testenv.WaitFor(t, 5*time.Second, "the stale service up", func() bool { return testenv.PidOf(stale) != 0 })
	oldRun := testenv.PidOf(stale)

	bin := testenv.Bin(t)
	cmd := exec.Command(filepath.Join(bin, "svscanboot"), "-o", scan)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := testenv.Start(t, cmd)
	if code := oldp.Wait(t, 5*time.Second); code != 0 {
		t.Errorf("the stale supervise exited %d after svc -dx", code)
	}
	if testenv.Alive(oldRun) {
		t.Errorf("the stale service is still running")
	}
	// svc -dx does not wait: svscan's first pass may find the old
	// supervise still holding the lock, and then the next pass, 5 s later,
	// starts the new one (as with 0.76).
	testenv.WaitFor(t, 15*time.Second, "stale restarted by svscan", func() bool {
		pid := testenv.PidOf(stale)
		return pid != 0 && pid != oldRun && testenv.Alive(pid)
	})

	if got := strings.Join(testenv.Cmdline(p.Pid()), " "); got != "svscan -o "+scan {
		t.Errorf("svscanboot's process runs %q, want svscan -o %s", got, scan)
	}
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", p.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	if want := "PATH=" + bin + ":" + svscanboot.Path + "\x00"; string(env) != want {
		t.Errorf("svscan's environment is %q, want %q", env, want)
	}
	fd0, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/0", p.Pid()))
	fd1, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/1", p.Pid()))
	fd2, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/2", p.Pid()))
	if fd0 != "/dev/null" || !strings.HasPrefix(fd1, "pipe:") || fd1 != fd2 {
		t.Errorf("svscan's descriptors: 0 %s, 1 %s, 2 %s", fd0, fd1, fd2)
	}

	var title []string
	testenv.WaitFor(t, 5*time.Second, "readproctitle to show noisy's complaint", func() bool {
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid := atoi(e.Name())
			a := testenv.Cmdline(pid)
			if len(a) == 4 && a[0] == "readproctitle" && a[1] == "service" && a[2] == "errors:" && len(a[3]) == 400 && ppid(pid) == p.Pid() {
				title = a
				return strings.HasSuffix(a[3], "noisy complains\n")
			}
		}
		return false
	})
	if !strings.HasPrefix(title[3], "...") {
		t.Errorf("title %q", title[3])
	}

	syscall.Kill(p.Pid(), syscall.SIGTERM)
	if code := p.Wait(t, 10*time.Second); code != 0 {
		t.Errorf("svscan -o exited %d after SIGTERM", code)
	}
}

func atoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
}

// ppid returns the parent of pid.
func ppid(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0
	}
	return atoi(f[1])
}
