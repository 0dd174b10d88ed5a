package readproctitle_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"svkit/internal/readproctitle"
	"svkit/internal/testenv"
)

// model is readproctitle's title update written the obvious way: each
// non-NUL byte is shifted in at the end, the first three bytes stay dots.
func model(size int, input []byte) []byte {
	b := bytes.Repeat([]byte{'.'}, size)
	for _, c := range input {
		if c == 0 {
			continue
		}
		copy(b[3:], b[4:])
		b[size-1] = c
	}
	return b
}

func check(t *testing.T, size int, chunks [][]byte) {
	t.Helper()
	buf := make([]byte, size)
	for i := range buf {
		buf[i] = 'x'
	}
	title := readproctitle.NewTitle(buf)
	var all []byte
	for _, c := range chunks {
		title.Write(c)
		all = append(all, c...)
	}
	if want := model(size, all); !bytes.Equal(title.Bytes(), want) {
		t.Fatalf("size %d, input %q: got %q, want %q", size, all, title.Bytes(), want)
	}
}

func TestTitle(t *testing.T) {
	for _, size := range []int{5, 6, 10, 403} {
		check(t, size, nil)
		check(t, size, [][]byte{[]byte("a")})
		check(t, size, [][]byte{[]byte("err one\nerr two\n")})
		check(t, size, [][]byte{[]byte("ab\x00c"), []byte("\x00\x00"), []byte("de")})
		check(t, size, [][]byte{bytes.Repeat([]byte("0123456789"), 50), []byte("tail")})
		check(t, size, [][]byte{[]byte("x\x00"), bytes.Repeat([]byte("y"), size), []byte("\x00z")})
	}
}

func FuzzTitle(f *testing.F) {
	f.Add(7, []byte("err one\nerr two\n"), []byte("\x00more"))
	f.Add(5, []byte(""), []byte("abcdefgh"))
	f.Fuzz(func(t *testing.T, size int, a, b []byte) {
		if size < readproctitle.MinLen || size > 2000 {
			return
		}
		check(t, size, [][]byte{a, b})
	})
}

// TestExitCodes compares readproctitle's argument checks and exit codes
// with 0.76's.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	cases := [][]string{
		{},
		{"a"},
		{"...."},
		{"....."},
		{"x", "...."},
		{"x", "....."},
		{"service", "errors:", "abcdefghij"},
	}
	for _, args := range cases {
		for _, in := range []string{"", "some input\n"} {
			wo, we, wc := testenv.Run(t, dir, in, testenv.Debian(t, "readproctitle"), args...)
			go_, ge, gc := testenv.Run(t, dir, in, testenv.Prog(t, "readproctitle"), args...)
			if wo != go_ || we != ge || wc != gc {
				t.Errorf("readproctitle %q <%q: got %q %q exit %d; 0.76 gives %q %q exit %d", args, in, go_, ge, gc, wo, we, wc)
			}
		}
	}
	// A read error (stdin is a directory) exits 111.
	for _, prog := range []string{testenv.Debian(t, "readproctitle"), testenv.Prog(t, "readproctitle")} {
		d, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(prog, "x", ".....")
		cmd.Stdin = d
		err = cmd.Run()
		d.Close()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 111 {
			t.Errorf("%s with a directory on stdin: %v, want exit 111", prog, err)
		}
	}
}

// lastArg returns the last argument of pid as the kernel shows it.
func lastArg(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return ""
	}
	args := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	return args[len(args)-1]
}

// TestCmdline feeds the same input to svkit's and 0.76's readproctitle and
// reads what ps would show, /proc/PID/cmdline, after each chunk.
func TestCmdline(t *testing.T) {
	chunks := []string{"err one\n", "err two\n", "with\x00nul\n", strings.Repeat("long line ", 20) + "\n", "end"}
	dots := strings.Repeat(".", 40)
	type run struct {
		p *testenv.Proc
		w io.WriteCloser
	}
	var runs []run
	for _, prog := range []string{testenv.Debian(t, "readproctitle"), testenv.Prog(t, "readproctitle")} {
		cmd := exec.Command(prog, "service", "errors:", dots)
		w, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, run{testenv.Start(t, cmd), w})
	}
	var all []byte
	for _, c := range chunks {
		all = append(all, c...)
		want := string(model(len(dots), all))
		for _, r := range runs {
			if _, err := io.WriteString(r.w, c); err != nil {
				t.Fatal(err)
			}
			testenv.WaitFor(t, 5*time.Second, fmt.Sprintf("%s to show %q", r.p.Cmd.Path, want), func() bool {
				return lastArg(r.p.Pid()) == want
			})
		}
	}
	for _, r := range runs {
		r.w.Close()
		if code := r.p.Wait(t, 5*time.Second); code != 0 {
			t.Errorf("%s exited %d at end of input", r.p.Cmd.Path, code)
		}
	}
}
