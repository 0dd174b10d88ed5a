package multilog

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"svkit/internal/testenv"
)

// startLogger runs prog in dir with a pipe on stdin; the test keeps the
// read end too, to see what the logger left unread.
func startLogger(t *testing.T, prog, dir string, args ...string) (*testenv.Proc, *os.File, *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	cmd := exec.Command(prog, args...)
	cmd.Dir = dir
	cmd.Stdin = r
	return testenv.Start(t, cmd), r, w
}

func TestProcessorCompat(t *testing.T) {
	real := testenv.Debian(t, "multilog")
	ours := testenv.Prog(t, "multilog")
	var in strings.Builder
	for i := 0; i < 600; i++ {
		fmt.Fprintf(&in, "line number %d\n", i)
	}
	proc := "!tr a-z A-Z && { cat <&4; echo run; } >&5"
	for _, prog := range []string{real, ours} {
		dir := t.TempDir()
		_, errs, code := testenv.Run(t, dir, in.String(), prog, "s4096", "n100", proc, "./log")
		if code != 0 || errs != "" {
			t.Fatalf("%s: exit %d %q", prog, code, errs)
		}
		names, _ := filepath.Glob(dir + "/log/@*.s")
		sort.Strings(names)
		var all []byte
		for _, n := range names {
			b, _ := os.ReadFile(n)
			all = append(all, b...)
		}
		all = append(all, testenv.Peek(dir+"/log/current")...)
		up := strings.ToUpper(in.String())
		// current is not processed
		cur := testenv.Peek(dir + "/log/current")
		want := up[:len(up)-len(cur)] + cur
		if string(all) != want {
			t.Errorf("%s: processed content differs", prog)
		}
		if st := testenv.Peek(dir + "/log/state"); st != strings.Repeat("run\n", len(names)) {
			t.Errorf("%s: state %q after %d runs", prog, st, len(names))
		}
		for _, f := range []string{"previous", "processed", "newstate"} {
			if _, err := os.Lstat(dir + "/log/" + f); err == nil {
				t.Errorf("%s: %s left", prog, f)
			}
		}
	}
}

func TestLockHeld(t *testing.T) {
	real := testenv.Debian(t, "multilog")
	ours := testenv.Prog(t, "multilog")
	for _, pair := range [][2]string{{ours, real}, {real, ours}, {ours, ours}} {
		dir := t.TempDir()
		p, _, w := startLogger(t, pair[0], dir, "./log")
		testenv.WaitFor(t, 5*time.Second, "current", func() bool { _, err := os.Stat(dir + "/log/current"); return err == nil })
		_, errs, code := testenv.Run(t, dir, "x\n", pair[1], "./log")
		if code != 111 || errs != "multilog: fatal: unable to lock directory ./log: temporary failure\n" {
			t.Errorf("%s while %s holds the lock: exit %d %q", pair[1], pair[0], code, errs)
		}
		w.Close()
		if c := p.Wait(t, 5*time.Second); c != 0 {
			t.Errorf("exit %d", c)
		}
	}
}

func TestAlarmRotates(t *testing.T) {
	real := testenv.Debian(t, "multilog")
	ours := testenv.Prog(t, "multilog")
	for _, prog := range []string{real, ours} {
		dir := t.TempDir()
		p, _, w := startLogger(t, prog, dir, "./log")
		w.Write([]byte("before alarm\n"))
		testenv.WaitFor(t, 5*time.Second, "line in current", func() bool { return testenv.Peek(dir+"/log/current") == "before alarm\n" })
		syscall.Kill(p.Pid(), syscall.SIGALRM)
		want := "before alarm\n"
		if prog == real {
			// 0.76 acts on an ALRM that arrives while it waits in read
			// only after the next read: give it one.
			time.Sleep(100 * time.Millisecond)
			w.Write([]byte("next\n"))
		}
		testenv.WaitFor(t, 15*time.Second, "rotation", func() bool {
			names, _ := filepath.Glob(dir + "/log/@*.s")
			return len(names) == 1 && strings.HasPrefix(testenv.Peek(names[0]), want)
		})
		if prog == ours {
			names, _ := filepath.Glob(dir + "/log/@*.s")
			if got := testenv.Peek(names[0]); got != want {
				t.Errorf("svkit archive %q, want %q", got, want)
			}
		}
		w.Close()
		if c := p.Wait(t, 10*time.Second); c != 0 {
			t.Errorf("%s: exit %d", prog, c)
		}
		// an empty current is not rotated
		dir = t.TempDir()
		p, _, w = startLogger(t, prog, dir, "./log")
		testenv.WaitFor(t, 5*time.Second, "current", func() bool { _, err := os.Stat(dir + "/log/current"); return err == nil })
		syscall.Kill(p.Pid(), syscall.SIGALRM)
		time.Sleep(300 * time.Millisecond) // the alarm must be handled before the line arrives
		w.Write([]byte("after\n"))
		w.Close()
		if c := p.Wait(t, 10*time.Second); c != 0 {
			t.Errorf("%s: exit %d", prog, c)
		}
		// 0.76 acts on an ALRM that came while it waited in read only
		// after that read, so with its current then holding "after" it
		// may or may not rotate: only svkit's outcome is certain.
		if names, _ := filepath.Glob(dir + "/log/@*"); prog == ours && (len(names) != 0 || testenv.Peek(dir+"/log/current") != "after\n") {
			t.Errorf("%s: archives %v after ALRM on an empty current", prog, names)
		}
	}
}

func TestTermFinishesLine(t *testing.T) {
	real := testenv.Debian(t, "multilog")
	ours := testenv.Prog(t, "multilog")
	for _, prog := range []string{real, ours} {
		for _, script := range [][]string{{"./log"}, {"t", "-x*", "./log"}} {
			dir := t.TempDir()
			args := append([]string{}, script...)
			p, r, w := startLogger(t, prog, dir, args...)
			w.Write([]byte("line1\npart"))
			testenv.WaitFor(t, 5*time.Second, "line1", func() bool { return strings.Contains(testenv.Peek(dir+"/log/current"), "line1\n") })
			syscall.Kill(p.Pid(), syscall.SIGTERM)
			time.Sleep(500 * time.Millisecond) // let the signal land before more input
			if p.Exited() {
				t.Fatalf("%s %q exited on TERM in the middle of a line", prog, script)
			}
			w.Write([]byte("ial\nnext line\n"))
			if c := p.Wait(t, 5*time.Second); c != 0 {
				t.Errorf("%s: exit %d", prog, c)
			}
			// 0.76 finishes the line it is in, but handles the rest of
			// the read that brought its end too when the TERM landed
			// while it waited in read: only svkit's outcome is certain.
			cur := stampRE.ReplaceAllString(testenv.Peek(dir+"/log/current"), "@S")
			if prog == ours && cur != "line1\npartial\n" && cur != "@S line1\n@S partial\n" {
				t.Errorf("%s %q: current %q", prog, script, cur)
			}
			fi, _ := os.Stat(dir + "/log/current")
			if fi.Mode().Perm() != 0744 {
				t.Errorf("%s: current mode %v", prog, fi.Mode())
			}
			w.Close()
			rest, _ := io.ReadAll(r)
			if prog == ours && string(rest) != "next line\n" {
				t.Errorf("%s %q: left in the pipe %q", prog, script, rest)
			}
		}
		// TERM while idle: exit at once
		dir := t.TempDir()
		p, _, w := startLogger(t, prog, dir, "./log")
		w.Write([]byte("x\n"))
		testenv.WaitFor(t, 5*time.Second, "x", func() bool { return testenv.Peek(dir+"/log/current") == "x\n" })
		syscall.Kill(p.Pid(), syscall.SIGTERM)
		if c := p.Wait(t, 5*time.Second); c != 0 {
			t.Errorf("%s: exit %d after TERM", prog, c)
		}
	}
}

func TestSymlinksNotFollowed(t *testing.T) {
	ours := testenv.Prog(t, "multilog")
	for _, name := range []string{"current", "lock"} {
		dir := t.TempDir()
		os.Mkdir(dir+"/log", 0700)
		victim := dir + "/victim"
		os.WriteFile(victim, []byte("precious\n"), 0600)
		os.Symlink(victim, dir+"/log/"+name)
		if name == "current" {
			os.Chmod(victim, 0700) // looks cleanly closed through the link
		}
		_, errs, code := testenv.Run(t, dir, "attack\n", ours, "./log")
		if code != 111 || !strings.Contains(errs, "symbolic link loop") {
			t.Errorf("%s symlink: exit %d %q", name, code, errs)
		}
		fi, _ := os.Stat(victim)
		if testenv.Peek(victim) != "precious\n" || (name == "lock" && fi.Mode().Perm() != 0600) {
			t.Errorf("%s symlink: victim changed: %q %v", name, testenv.Peek(victim), fi.Mode())
		}
	}
}

// TestDiskFull fills a small tmpfs: multilog warns and pauses, the
// producer blocks, and nothing is lost once space is freed.
func TestDiskFull(t *testing.T) {
	testenv.RequireRoot(t)
	ours := testenv.Prog(t, "multilog")
	dir := t.TempDir()
	mnt := dir + "/mnt"
	os.Mkdir(mnt, 0755)
	err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=256k")
	testenv.Require(t, err == nil, fmt.Sprintf("mount tmpfs: %v", err))
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	filler := bytes.Repeat([]byte("f"), 200<<10)
	if err := os.WriteFile(mnt+"/filler", filler, 0644); err != nil {
		t.Fatal(err)
	}
	var in bytes.Buffer
	for i := 0; in.Len() < 150<<10; i++ {
		fmt.Fprintf(&in, "%06d disk full test line\n", i)
	}
	p, _, w := startLogger(t, ours, mnt, "s16777215", "./log")
	go func() { w.Write(in.Bytes()); w.Close() }()
	testenv.WaitFor(t, 10*time.Second, "pausing warning", func() bool {
		return strings.Contains(p.Stderr.String(), "multilog: warning: unable to write to ./log/current, pausing: out of disk space\n")
	})
	if p.Exited() {
		t.Fatal("exited on a full disk")
	}
	os.Remove(mnt + "/filler")
	if c := p.Wait(t, 20*time.Second); c != 0 {
		t.Fatalf("exit %d", c)
	}
	if got := testenv.Peek(mnt + "/log/current"); got != in.String() {
		t.Errorf("current has %d bytes, want %d", len(got), in.Len())
	}
}
