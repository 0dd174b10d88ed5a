package svscan

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"svkit/internal/cgroup"
	"svkit/internal/proc"
	"svkit/internal/supervise"
	"svkit/pkg/svdir"
)

// inProcess hosts a supervisor for every service and every log in svscan's
// own process (-i), instead of a supervise process each. The entries keep
// their pid and logPid fields: a hosted supervisor has a negative id there,
// never a process's pid, so that nothing sends it a signal.
type inProcess struct {
	reaper *supervise.Reaper
	last   int // the last id handed out (-1, -2, ...)

	ended *supervise.Queue[int] // ids of supervisors whose supervision ended, not yet reaped
}

func newInProcess() *inProcess {
	return &inProcess{reaper: supervise.NewReaper(), ended: supervise.NewQueue[int]()}
}

// hosted reports whether id is a hosted supervisor's.
func hosted(id int) bool { return id < 0 }

// start starts supervising dir in this process, with run's descriptors
// files, and returns the supervisor's id.
func (h *inProcess) start(dir string, files []uintptr, s *Scanner) int {
	h.last--
	id := h.last
	supervise.Host(dir, supervise.HostOptions{
		Stdio:  [3]uintptr{files[0], files[1], files[2]},
		Stderr: s.stderr,
		Reaper: h.reaper,
		Ended:  func() { h.ended.Push(id) },
	})
	return id
}

// reap collects the exits of the services' children for their supervisors
// and returns the ids of the supervisors that ended.
func (h *inProcess) reap() []int {
	h.reaper.Reap()
	return h.ended.Drain()
}

// endedC delivers when a hosted supervisor ended; nil (never) without -i.
func (s *Scanner) endedC() <-chan struct{} {
	if s.inproc == nil {
		return nil
	}
	return s.inproc.ended.C()
}

// supervisorPid is the pid a supervisor of id records in supervise/info:
// svscan's own for a hosted one.
func supervisorPid(id int) int {
	if hosted(id) {
		return os.Getpid()
	}
	return id
}

// killHosted kills every process of the service in dir (its cgroup): a
// hosted supervisor cannot be killed, but it ends once its service is
// gone and it was told "x".
func killHosted(dir string) {
	id, err := svdir.IDOf(dir)
	if err != nil {
		return
	}
	g, err := cgroup.Open(cgroup.ServiceName(id.Dev, id.Ino))
	if err != nil {
		return
	}
	// Frozen, so that nothing forks meanwhile (see cgroup.Freeze).
	g.Freeze(true)
	g.WaitFrozen(100 * time.Millisecond)
	for _, pid := range g.Procs() {
		unix.Kill(pid, unix.SIGKILL)
	}
	g.Freeze(false)
}

// hostInProcess makes the scanner host the supervisors (-i). It needs a
// writable cgroup v2 hierarchy: in one process, the orphans of every
// service are reparented to svscan, and only a cgroup per service tells
// whose they are.
func (s *Scanner) hostInProcess() error {
	g, err := cgroup.Open("svkit-probe-" + strconv.Itoa(os.Getpid()))
	if err != nil {
		return fmt.Errorf("a writable cgroup v2 hierarchy is needed: %w", err)
	}
	g.Remove()
	proc.SetChildSubreaper()
	s.inproc = newInProcess()
	return nil
}
