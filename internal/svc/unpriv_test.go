package svc

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"svkit/internal/testenv"
)

// runAs runs prog as uid/gid 65534 (nobody) in dir.
func runAs(t *testing.T, dir, prog string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	code := testenv.ExitCode(t, cmd, cmd.Run())
	return out.String(), code
}

// TestUnprivileged compares Debian's svc, svstat and svok with svkit's when
// permissions fail: a directory without search permission, FIFOs and a
// status file the user may not open, and an unreadable cwd (the 111 exit of
// all three).
func TestUnprivileged(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	os.Chmod(filepath.Dir(root), 0755)
	os.Chmod(root, 0755)
	mk := func(p string, mode uint32) {
		os.MkdirAll(filepath.Dir(p), 0755)
		if err := unix.Mkfifo(p, mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, os.FileMode(mode))
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
	}
	os.Mkdir(filepath.Join(root, "noexec"), 0644)
	os.Chmod(filepath.Join(root, "noexec"), 0644)
	mk(filepath.Join(root, "okperm/supervise/ok"), 0600)
	mk(filepath.Join(root, "okperm/supervise/control"), 0600)
	mk(filepath.Join(root, "stperm/supervise/ok"), 0666)
	mk(filepath.Join(root, "stperm/supervise/control"), 0666)
	os.WriteFile(filepath.Join(root, "stperm/supervise/status"), make([]byte, 18), 0600)
	noread := filepath.Join(root, "noread")
	os.Mkdir(noread, 0311)
	os.Chmod(noread, 0311)

	// The build dir is private (0700): copy svkit's programs out for nobody.
	bin := filepath.Join(root, "bin")
	os.Mkdir(bin, 0755)
	ours := func(name string) string {
		b, err := os.ReadFile(testenv.Prog(t, name))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(bin, name)
		if err := os.WriteFile(p, b, 0755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, n := range []string{"svc", "svstat", "svok"} {
		ours(n)
	}

	dirs := []string{"noexec", "okperm", "stperm"}
	type call struct {
		dir  string
		prog string
		args []string
	}
	calls := []call{
		{root, "svstat", dirs},
		{root, "svc", append([]string{"-u"}, dirs...)},
		{noread, "svstat", []string{"../okperm"}},
		{noread, "svc", []string{"-u", "../okperm"}},
		{noread, "svok", []string{"../okperm"}},
	}
	for _, d := range dirs {
		calls = append(calls, call{root, "svok", []string{d}})
	}
	for _, c := range calls {
		o1, c1 := runAs(t, c.dir, testenv.Debian(t, c.prog), c.args...)
		o2, c2 := runAs(t, c.dir, filepath.Join(bin, c.prog), c.args...)
		if o1 != o2 || c1 != c2 {
			t.Errorf("%s %q in %s: Debian %d %q, svkit %d %q", c.prog, c.args, c.dir, c1, o1, c2, o2)
		}
		if o2 == "" && c.prog != "svok" {
			t.Errorf("%s %q: no output", c.prog, c.args)
		}
	}
}
