package svc

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"golang.org/x/sys/unix"

	"svkit/internal/testenv"
	"svkit/pkg/svdir"
)

// TestOneWrite checks with strace that the letters reach the control FIFO
// in a single write(2), as in 0.76, for each directory.
func TestOneWrite(t *testing.T) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		testenv.Require(t, false, "strace is not installed (scripts/deps installs it)")
	}
	root := t.TempDir()
	for _, n := range []string{"a", "b"} {
		p := filepath.Join(root, n, svdir.ControlPath)
		os.MkdirAll(filepath.Dir(p), 0700)
		if err := unix.Mkfifo(p, 0600); err != nil {
			t.Fatal(err)
		}
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
	}
	out := filepath.Join(root, "trace")
	_, stderr, code := testenv.Run(t, root, "", strace, "-f", "-qq", "-o", out, "-e", "trace=write",
		testenv.Prog(t, "svc"), "-d", "-dux", "-kh", "-xxx", "a", "b")
	if code != 0 {
		t.Fatalf("strace svc: %d %s", code, stderr)
	}
	b, _ := os.ReadFile(out)
	writes := regexp.MustCompile(`write\(\d+, "([a-z]*)", \d+\)`).FindAllStringSubmatch(string(b), -1)
	if len(writes) != 2 || writes[0][1] != "duxkh" || writes[1][1] != "duxkh" {
		t.Errorf("writes: %q\ntrace:\n%s", writes, b)
	}
}
