package svscan

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"svkit/pkg/svdir"
)

// TestLogPipe: the pipe between a service and its logger is the FIFO
// DIR/supervise/logpipe, created 0600 (with supervise/) where missing, and
// a second open of it reaches the same pipe; anything else at that path
// (a planted FIFO open to others, a regular file, a symlink, or no
// supervise directory to put it in) gives an anonymous pipe, and a warning
// that says why.
func TestLogPipe(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(t *testing.T, svc string)
		fifo   bool   // the FIFO is used
		warned string // part of the warning, "" for none
	}{
		{name: "fresh", setup: func(t *testing.T, svc string) {}, fifo: true},
		{name: "existing", setup: func(t *testing.T, svc string) {
			mkdir(t, filepath.Join(svc, "supervise"))
			if err := unix.Mkfifo(filepath.Join(svc, svdir.LogPipePath), 0600); err != nil {
				t.Fatal(err)
			}
		}, fifo: true},
		{name: "open to others", setup: func(t *testing.T, svc string) {
			mkdir(t, filepath.Join(svc, "supervise"))
			p := filepath.Join(svc, svdir.LogPipePath)
			if err := unix.Mkfifo(p, 0600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, 0666); err != nil {
				t.Fatal(err)
			}
		}, warned: "mode 0600"},
		{name: "regular file", setup: func(t *testing.T, svc string) {
			mkdir(t, filepath.Join(svc, "supervise"))
			if err := os.WriteFile(filepath.Join(svc, svdir.LogPipePath), nil, 0600); err != nil {
				t.Fatal(err)
			}
		}, warned: "; using an anonymous pipe"},
		{name: "symlink", setup: func(t *testing.T, svc string) {
			mkdir(t, filepath.Join(svc, "supervise"))
			other := filepath.Join(svc, "other")
			if err := unix.Mkfifo(other, 0600); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(other, filepath.Join(svc, svdir.LogPipePath)); err != nil {
				t.Fatal(err)
			}
		}, warned: "; using an anonymous pipe"},
		{name: "supervise is a file", setup: func(t *testing.T, svc string) {
			if err := os.WriteFile(filepath.Join(svc, "supervise"), nil, 0600); err != nil {
				t.Fatal(err)
			}
		}, warned: "; using an anonymous pipe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scan := t.TempDir()
			svc := filepath.Join(scan, "svc")
			mkdir(t, svc)
			tc.setup(t, svc)
			t.Chdir(scan)
			var warnings []string
			r, w, fifo, err := logPipe("svc", func(parts ...string) { warnings = append(warnings, strings.Join(parts, "")) })
			if err != nil {
				t.Fatal(err)
			}
			if fifo != tc.fifo {
				t.Errorf("logPipe says FIFO %v, want %v", fifo, tc.fifo)
			}
			defer unix.Close(r)
			defer unix.Close(w)
			var st unix.Stat_t
			if err := unix.Fstat(r, &st); err != nil {
				t.Fatal(err)
			}
			var fst unix.Stat_t
			isFIFO := unix.Lstat(filepath.Join(svc, svdir.LogPipePath), &fst) == nil &&
				fst.Mode&unix.S_IFMT == unix.S_IFIFO && fst.Ino == st.Ino && fst.Dev == st.Dev
			if isFIFO != tc.fifo {
				t.Fatalf("the pipe is supervise/logpipe: %v, want %v", isFIFO, tc.fifo)
			}
			if tc.fifo && fst.Mode&0777 != 0600 {
				t.Errorf("mode %o, want 0600", fst.Mode&0777)
			}
			if got := strings.Join(warnings, "\n"); (tc.warned == "") != (got == "") || !strings.Contains(got, tc.warned) {
				t.Errorf("warnings %q, want one containing %q", got, tc.warned)
			}
			// Both ends blocking, close-on-exec, and joined.
			for _, fd := range []int{r, w} {
				fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
				fdfl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
				if fl&unix.O_NONBLOCK != 0 || fdfl&unix.FD_CLOEXEC == 0 {
					t.Errorf("fd %d: flags %#x, fd flags %#x", fd, fl, fdfl)
				}
			}
			if _, err := unix.Write(w, []byte("line\n")); err != nil {
				t.Fatal(err)
			}
			if tc.fifo {
				// Another open (a later svscan) reaches the same pipe.
				r2, err := syscall.Open(filepath.Join(svc, svdir.LogPipePath), syscall.O_RDONLY|syscall.O_NONBLOCK, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer syscall.Close(r2)
				buf := make([]byte, 16)
				n, err := syscall.Read(r2, buf)
				if err != nil || string(buf[:n]) != "line\n" {
					t.Fatalf("second open read %q, %v", buf[:n], err)
				}
			} else {
				buf := make([]byte, 16)
				if n, err := unix.Read(r, buf); err != nil || string(buf[:n]) != "line\n" {
					t.Fatalf("read %q, %v", buf[:n], err)
				}
			}
		})
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0755); err != nil {
		t.Fatal(err)
	}
}
