package svscan

import (
	"os"
	"sort"
	"time"

	"golang.org/x/sys/unix"

	"svkit/internal/diag"
	"svkit/internal/eintr"
	"svkit/internal/needs"
	"svkit/internal/proc"
	"svkit/pkg/svdir"
)

// retry is how often an ordered shutdown retries a control write that
// failed (a supervise that has not opened its FIFO yet).
const retry = 50 * time.Millisecond

// Shutdown takes the whole tree down in order and returns svscan's exit
// code. Every service is told "dx" (down, then exit) through its
// supervise/control FIFO; once a service's supervise has exited, its log
// supervise is told "x" and svscan closes its copy of the pipe's write end,
// so the logger reads what is left in the pipe, sees end of file and exits,
// and its supervise exits after it. Nothing is restarted meanwhile. A
// supervise that an earlier svscan started (this one was started again
// while it ran) is told the same and waited for through supervise/ok: it
// holds the same pipe, so the logger sees end of file only once it is gone
// too. What is still running after killAfter gets SIGKILL: as PID 1 every
// process in the namespace, otherwise the supervise processes this svscan
// started and the service processes their status files name.
//
// Services go down in reverse dependency order (package needs): a service
// is told "dx" only once every service whose needs/ or binds/ links to it
// has gone, so dependents stop first and what they need after them.
// Services outside any dependency, a tree without needs/ included, all go
// at once, as before.
func (s *Scanner) Shutdown(sigs signals, killAfter time.Duration) int {
	deadline := time.NewTimer(killAfter)
	defer deadline.Stop()
	tick := time.NewTicker(retry)
	defer tick.Stop()
	s.Reap()
	s.orderStop()
	full := true
	for !s.advance(full) {
		full = false
		select {
		case <-sigs.chld:
			s.Reap()
		case <-tick.C:
			s.Reap()
			full = true
		case <-s.endedC():
			s.Reap()
		case <-deadline.C:
			s.killAll(os.Getpid() == 1)
			return ExitKilled
		}
	}
	return ExitShutdown
}

// allDown reports whether no supervise svscan started is running.
func (s *Scanner) allDown() bool { return len(s.byPid) == 0 }

// advance sends what each entry needs next in an ordered shutdown and
// reports whether every supervise is gone. A round that is not full, after
// a supervisor exited, only moves on the entries that event concerns: the
// letters sent again and the statuses read again (file system calls for
// every service) wait for the next full round, so that the exits of N
// supervisors cost N cheap rounds, not N times N system calls.
func (s *Scanner) advance(full bool) bool {
	done := s.allDown()
	for _, e := range s.entries {
		if e.finished {
			continue
		}
		// A supervise this svscan started just before the shutdown may
		// still be waiting for the lock that an earlier svscan's
		// supervise holds, take it once that one has obeyed "dx" and
		// exited, and start the service (or the logger) again. So "dx"
		// is sent again when the status was rewritten since and says the
		// service is wanted up: a new supervise, not one that has yet to
		// read the letters (a second TERM could cut a graceful stop
		// short). "x", which sends no signal, goes on every round.
		if !e.serviceGone {
			if !e.downSent && e.dependentsUp() {
				done = false
				continue
			}
			if e.downSent && e.pid != 0 && !full {
				done = false
				continue
			}
			if e.pid != 0 || supervised(e.name) {
				r, err := svdir.ReadStatusOf(e.name)
				again := err == nil && r.Want != svdir.WantDown && r != e.downStatus
				if !e.downSent || again {
					if tell(e.name, "dx") == nil {
						e.downSent, e.downStatus = true, r
					}
				}
				done = false
				continue
			}
			e.serviceGone = true
		}
		if e.log && e.logSent && e.logPid != 0 && !full {
			done = false
			continue
		}
		if e.log && (e.logPid != 0 || supervised(e.name+"/log")) {
			done = false
			if tell(e.name+"/log", "x") == nil {
				e.logSent = true
			}
			if e.logSent {
				e.closeWrite()
			}
			continue
		}
		e.closeWrite()
		e.finished = true
	}
	return done
}

// orderStop finds, for each entry, the entries that need it (the needs
// graph among the scan directory's services, cycles broken as supervise
// breaks them).
func (s *Scanner) orderStop() {
	list := make([]*entry, 0, len(s.entries))
	for _, e := range s.entries {
		list = append(list, e)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].name < list[j].name })
	dirs := make([]string, len(list))
	for i, e := range list {
		dirs[i] = e.name
		e.dependents = nil
	}
	g := needs.Build(dirs)
	for _, c := range g.Cycle {
		diag.Warn(s.stderr, "svscan", "needs cycle: ", c)
	}
	for i, deps := range g.Dependents() {
		for _, j := range deps {
			list[i].dependents = append(list[i].dependents, list[j])
		}
	}
}

// dependentsUp reports whether a service that needs e is not gone yet.
func (e *entry) dependentsUp() bool {
	for _, d := range e.dependents {
		if !d.serviceGone {
			return true
		}
	}
	return false
}

// supervised reports whether a supervise runs in dir (it holds
// supervise/ok open), as svok does.
func supervised(dir string) bool {
	ok, _ := svdir.OK(dir)
	return ok
}

// tell writes letters to DIR/supervise/control, as svc does, but without
// ever blocking: a write that does not fit now is tried again later.
func tell(dir, letters string) error {
	fd, err := svdir.OpenFIFO(unix.AT_FDCWD, dir+"/"+svdir.ControlPath, unix.O_WRONLY)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	_, err = eintr.Retry(func() (int, error) { return unix.Write(fd, []byte(letters)) })
	return err
}

// killAll sends SIGKILL to what is left and reaps it, waiting at most a
// second.
func (s *Scanner) killAll(pid1 bool) {
	if pid1 {
		unix.Kill(-1, unix.SIGKILL)
	} else {
		for _, e := range s.entries {
			if hosted(e.pid) {
				killHosted(e.name)
			} else if e.pid != 0 {
				killService(e.name, e.pid)
			}
			if hosted(e.logPid) {
				killHosted(e.name + "/log")
			} else if e.logPid != 0 {
				killService(e.name+"/log", e.logPid)
			}
		}
	}
	end := time.Now().Add(time.Second)
	for time.Now().Before(end) {
		s.Reap()
		if s.allDown() && !pid1 {
			return
		}
		var ws unix.WaitStatus
		if _, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil); err == unix.ECHILD && s.inproc == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// killService kills a supervise process and the service process its status
// file names, if that process is still the supervise's child.
func killService(dir string, supervisePid int) {
	if r, err := svdir.ReadStatusOf(dir); err == nil && r.Pid > 0 {
		if parentOf(int(r.Pid)) == supervisePid {
			unix.Kill(int(r.Pid), unix.SIGKILL)
		}
	}
	unix.Kill(supervisePid, unix.SIGKILL)
}

// parentOf returns the parent pid of pid from /proc, or 0.
func parentOf(pid int) int {
	in, err := proc.Stat(pid)
	if err != nil {
		return 0
	}
	return in.PPid
}
