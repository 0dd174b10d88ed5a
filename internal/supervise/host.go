package supervise

import (
	"fmt"
	"io"
	"runtime/debug"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"svkit/internal/cgroup"
	"svkit/internal/proc"
	"svkit/pkg/svdir"
)

// The supervisor runs in one of two hosts. The supervise program (Main) is
// one supervisor in a process of its own, as in 0.76: it is the subreaper
// of its service and collects its children with wait4(-1). svscan -i hosts
// a supervisor for every service in one process (Host): the process's
// children are collected by one Reaper, which hands each exit to the
// supervisor that forked the child, and every service must have a cgroup
// of its own, the only sound way to find its processes when the orphans of
// every service are reparented to one process.

// Reaper collects the children of a process that hosts many supervisors and
// hands each exit status to the supervisor that forked the child. A child
// is registered under the same lock as Reap takes, so its exit cannot be
// collected before its owner is known. Exits of processes nobody forked (the
// services' orphans, reparented to the host as subreaper) are discarded.
type Reaper struct {
	mu     sync.Mutex
	owners map[int]*supervisor
}

// NewReaper returns a reaper for this process's children.
func NewReaper() *Reaper { return &Reaper{owners: map[int]*supervisor{}} }

// Reap collects every exited child without blocking.
func (r *Reaper) Reap() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		e, ok := waitAny()
		if !ok {
			return
		}
		if s := r.owners[e.pid]; s != nil {
			delete(r.owners, e.pid)
			s.exits.Push(e)
		}
	}
}

// waitAny collects one exited child of the process, without blocking. The
// call is raw (it never blocks): through syscall.Syscall it would wake the
// runtime's monitor thread, which then polls every 20 µs for as long as
// the caller runs, as at every 5-second pass of svscan -i.
func waitAny() (childExit, bool) {
	for {
		var ws unix.WaitStatus
		r, _, e := unix.RawSyscall6(unix.SYS_WAIT4, ^uintptr(0), uintptr(unsafe.Pointer(&ws)), unix.WNOHANG, 0, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 || int(r) <= 0 {
			return childExit{}, false
		}
		return childExit{int(r), ws}, true
	}
}

// forkExec starts a child of s and registers it.
func (r *Reaper) forkExec(s *supervisor, argv0 string, argv []string, attr *syscall.ProcAttr) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pid, err := syscall.ForkExec(argv0, argv, attr)
	if err == nil {
		r.owners[pid] = s
	}
	return pid, err
}

// forget drops the children of a supervisor that has ended: their exits,
// should they come, are nobody's.
func (r *Reaper) forget(s *supervisor) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for pid, o := range r.owners {
		if o == s {
			delete(r.owners, pid)
		}
	}
}

// childExit is one exit status collected for a supervisor.
type childExit struct {
	pid int
	ws  unix.WaitStatus
}

// Queue hands values from goroutines that must never block (the reaper, a
// supervisor that has ended) to one event loop, losing none: the reaper's
// exits for a supervisor, the ended supervisors for svscan -i.
type Queue[T any] struct {
	mu   sync.Mutex
	list []T
	c    chan struct{} // has a value while list may be non-empty
}

// NewQueue returns an empty queue.
func NewQueue[T any]() *Queue[T] { return &Queue[T]{c: make(chan struct{}, 1)} }

// C delivers when values may be waiting.
func (q *Queue[T]) C() <-chan struct{} { return q.c }

// Push adds v, without blocking.
func (q *Queue[T]) Push(v T) {
	q.mu.Lock()
	q.list = append(q.list, v)
	q.mu.Unlock()
	select {
	case q.c <- struct{}{}:
	default:
	}
}

// Pop takes the oldest value, if there is one.
func (q *Queue[T]) Pop() (T, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var v T
	if len(q.list) == 0 {
		return v, false
	}
	v = q.list[0]
	q.list = q.list[1:]
	return v, true
}

// Drain takes every value waiting.
func (q *Queue[T]) Drain() []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.list
	q.list = nil
	return out
}

// forkExec starts a child of the service (run, finish, check): through the
// reaper when the supervisor is hosted with others.
func (s *supervisor) forkExec(argv0 string, argv []string, attr *syscall.ProcAttr) (int, error) {
	if s.reaper != nil {
		return s.reaper.forkExec(s, argv0, argv, attr)
	}
	return syscall.ForkExec(argv0, argv, attr)
}

// nextExit returns the next child that has exited: from the reaper when
// hosted, otherwise from wait4(-1) (the process's children are all the
// service's then).
func (s *supervisor) nextExit() (childExit, bool) {
	if s.reaper != nil {
		return s.exits.Pop()
	}
	return waitAny()
}

// Hosted is a supervisor running in a goroutine of a process that hosts
// many (svscan -i).
type Hosted struct {
	Dir  string
	Done chan struct{} // closed when supervision of Dir has ended
}

// HostOptions are what a hosted supervisor gets from its host.
type HostOptions struct {
	Stdio  [3]uintptr // run's descriptors 0, 1 and 2
	Stderr io.Writer  // warnings, as the supervise program's stderr
	Reaper *Reaper
	Ended  func() // called once supervision has ended and everything is released
}

// Host starts supervising dir in a goroutine and returns at once. The
// supervision ends as a supervise process would exit: svc -x once the
// service is down, or a setup failure (said on Stderr, as supervise says
// it). Everything the supervisor holds (the lock, the FIFOs, the
// descriptors, its goroutines) is released by then, so that the next
// supervisor of dir can start. A panic in the supervisor ends its
// supervision only, with a warning; its service keeps running, to be
// adopted by the next.
func Host(dir string, opt HostOptions) *Hosted {
	h := &Hosted{Dir: dir, Done: make(chan struct{})}
	s := &supervisor{dir: dir, stderr: opt.Stderr, want: svdir.WantUp, reaper: opt.Reaper, stdio: opt.Stdio[:]}
	go func() {
		defer close(h.Done)
		if opt.Ended != nil {
			defer opt.Ended()
		}
		defer s.release()
		defer func() {
			if p := recover(); p != nil {
				fmt.Fprintf(opt.Stderr, "svscan: warning: supervision of %s failed: %v\n%s", dir, p, debug.Stack())
			}
		}()
		if s.setup() != 0 {
			return
		}
		s.loop()
		s.flush()
	}()
	return h
}

// flush writes what the last events left unwritten when supervision ends:
// the status and the extended files are otherwise current, and rewriting
// them costs a rename each.
func (s *supervisor) flush() {
	if s.statusDirty {
		s.announce()
	}
	if s.extDirty {
		s.writeInfo()
	}
}

// hostedGroup opens the cgroup a hosted supervisor requires.
func (s *supervisor) hostedGroup() error {
	if s.exists(fileNoCgroup) {
		return fmt.Errorf("%s is present: svscan -i needs a cgroup for every service", fileNoCgroup)
	}
	s.openGroup()
	if s.group == nil {
		return cgroup.ErrUnavailable
	}
	return nil
}

// release closes everything a hosted supervisor holds, and stops its
// goroutines: the FIFOs' readers see the supervisor gone as they would see
// a supervise process gone.
func (s *supervisor) release() {
	if s.reaper == nil {
		return
	}
	s.reaper.forget(s)
	if s.quit != nil {
		close(s.quit)
	}
	if s.control != nil {
		s.control.Close()
	}
	for _, fd := range []*int{&s.okFD, &s.lockFD} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
	if s.notifySock != nil {
		s.notifySock.Close()
	}
	if s.needsFile != nil {
		s.needsFile.Close()
		s.needsFD = -1
	}
	if s.notifyPipe != nil {
		s.notifyPipe.Close()
	}
	if s.main != nil {
		s.main.Close()
	}
	if s.finish != nil {
		s.finish.Close()
	}
	if s.dirfd >= 0 {
		unix.Close(s.dirfd)
		s.dirfd = -1
	}
}

// reaps reports whether the death of the process in comes to this
// supervisor through wait4: it is the supervise program's child. A hosted
// supervisor learns of the processes it did not fork (adopted, or a daemon
// reparented to the host) through their pidfds: the host's reaper collects
// them for nobody.
func (s *supervisor) reaps(in proc.Info) bool {
	return s.reaper == nil && in.PPid == s.self
}
