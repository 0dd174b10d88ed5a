package svprof

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"svkit/internal/testenv"
	"svkit/pkg/svdir"
)

// TestCgroupFallback: when the kernel refuses the service's cgroup (here a
// directory that is no cgroup at all, as a cgroup v2 directory is on a host
// whose perf_event controller sits in a v1 hierarchy), svprof samples the
// service's threads instead.
func TestCgroupFallback(t *testing.T) {
	a := attr(1e6, false, true)
	a.Size = uint32(unsafe.Sizeof(*a))
	fd, err := unix.PerfEventOpen(a, 0, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
	testenv.Require(t, err == nil, "the kernel refuses perf events here")
	unix.Close(fd)

	dir := t.TempDir()
	busy := testenv.Start(t, exec.Command("/bin/sh", "-c", "while :; do :; done"))
	if err := os.Mkdir(filepath.Join(dir, "supervise"), 0700); err != nil {
		t.Fatal(err)
	}
	rec := svdir.Status{Pid: busy.Pid(), Want: svdir.WantUp}.Encode()
	if err := os.WriteFile(filepath.Join(dir, svdir.StatusPath), rec[:], 0644); err != nil {
		t.Fatal(err)
	}
	cpus, err := onlineCPUs()
	if err != nil {
		t.Fatal(err)
	}
	s := &sampler{
		svc:     &service{dir: dir, group: t.TempDir()},
		cpus:    cpus,
		period:  uint64(time.Second / 499),
		rings:   map[int]*ring{},
		covered: map[int]bool{},
		b:       newBuilder(),
	}
	defer s.close()
	if err := s.attach(true); err != nil {
		t.Fatalf("attach: %v", err)
	}
	if s.cgroupMode || !s.covered[busy.Pid()] {
		t.Fatalf("cgroup mode %v, covered %v; want thread mode on pid %d", s.cgroupMode, s.covered, busy.Pid())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	deadline := time.Now().Add(3 * time.Second)
	for s.b.samples < 5 && time.Now().Before(deadline) {
		s.loop(ctx, 200*time.Millisecond)
	}
	if s.b.samples < 5 || !s.b.pids[busy.Pid()] {
		t.Errorf("%d samples, pids %v; want samples of pid %d", s.b.samples, s.b.pids, busy.Pid())
	}
}
