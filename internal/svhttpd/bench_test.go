package svhttpd

import (
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"svkit/pkg/svdir"
)

// fakeTree makes n services that look supervised: a status and an info
// file, and ok and control FIFOs held open for reading by the test.
func fakeTree(b *testing.B, n int) string {
	scan := filepath.Join(b.TempDir(), "sv")
	for i := 0; i < n; i++ {
		d := filepath.Join(scan, "s"+strconv.Itoa(i))
		os.MkdirAll(d+"/supervise", 0700)
		dfd, _ := svdir.OpenDir(d)
		svdir.WriteStatus(dfd, svdir.Status{Pid: os.Getpid(), Want: 'u'})
		unix.Close(dfd)
		for _, f := range []string{svdir.OKPath, svdir.ControlPath} {
			unix.Mkfifo(d+"/"+f, 0600)
			fd, err := unix.Open(d+"/"+f, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { unix.Close(fd) })
		}
	}
	return scan
}

func benchPath(b *testing.B, path string) {
	scan := fakeTree(b, 500)
	s, err := NewServer(scan, "/nonexistent", io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	h := s.Handler()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}

// BenchmarkList: GET /v1/services over 500 services.
func BenchmarkList(b *testing.B) { benchPath(b, "/v1/services") }

// BenchmarkMetrics: GET /metrics over 500 services.
func BenchmarkMetrics(b *testing.B) { benchPath(b, "/metrics") }
