package supervise

import (
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"svkit/pkg/cgroup"
	"svkit/pkg/proc"
)

// followWait is how long supervise waits, after a run that exited 0, for
// the pid file named by pidfile to name a live process of the service.
const (
	followWait = 5 * time.Second
	followPoll = 50 * time.Millisecond
)

// tree returns the live processes of the service other than supervise:
// the members of its cgroup, or else the descendants of supervise (run,
// its children, and orphans reparented to supervise) and of an adopted
// process.
func (s *supervisor) tree() []proc.ID {
	if s.group != nil {
		var ids []proc.ID
		for _, in := range members(s.group) {
			ids = append(ids, in.ID)
		}
		return ids
	}
	if (s.main == nil || s.mainChild) && !hasChildren() {
		// Everything of the service descends from supervise, and
		// supervise has no child left: no need to walk /proc.
		return nil
	}
	roots := []int{s.self}
	if s.main != nil && !s.mainChild {
		roots = append(roots, s.main.Pid)
	}
	ids := proc.Descendants(roots...)
	if s.main != nil && !s.mainChild {
		ids = append(ids, s.main.ID)
	}
	return ids
}

// members returns the live processes of the group.
func members(g *cgroup.Group) []proc.Info {
	var out []proc.Info
	for _, pid := range g.Procs() {
		if in, err := proc.Stat(pid); err == nil && in.Live() {
			out = append(out, in)
		}
	}
	return out
}

// hasChildren reports whether supervise has any child, live or not yet
// reaped, without reaping it.
func hasChildren() bool {
	var info unix.Siginfo
	err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	return err != unix.ECHILD
}

// frozenWait bounds how long signalTree waits for the cgroup to freeze.
const frozenWait = 200 * time.Millisecond

// signalTree sends the signals to every process of the service, each
// through a pidfd checked to name the process that was found. A cgroup is
// frozen meanwhile, so that nothing in it escapes by forking (a fork bomb
// would fill every slot the signals free), and the signals take effect at
// once when it is thawed.
func (s *supervisor) signalTree(sigs ...unix.Signal) {
	if s.group != nil && s.group.Freeze(true) == nil {
		defer s.group.Freeze(false)
		s.group.WaitFrozen(frozenWait)
	}
	for _, id := range s.tree() {
		h, err := proc.Open(id)
		if err != nil {
			continue
		}
		if s.group == nil || s.group.Contains(id.Pid) {
			for _, sig := range sigs {
				h.Signal(sig)
			}
		}
		h.Close()
	}
}

// killTree sends KILL to the service's process and its whole tree.
func (s *supervisor) killTree() {
	s.signal(unix.SIGKILL)
	s.signalTree(unix.SIGKILL)
}

// startFollowing begins polling for the pid file of a daemon that put
// itself in the background, started by a run that started at since.
// Meanwhile the record says a start is under way since then, so that a
// successor finds the daemon in the cgroup.
func (s *supervisor) startFollowing(since uint64) {
	writeStarting(since, s.pgrp, s.sess)
	s.following = true
	s.followEnd = time.Now().Add(followWait)
	s.followTick = time.NewTicker(followPoll)
	s.followC = s.followTick.C
	s.tryFollow()
}

func (s *supervisor) stopFollowing() {
	if s.followTick != nil {
		s.followTick.Stop()
	}
	s.following, s.followTick, s.followC = false, nil, nil
}

// tryFollow adopts the process named by the pid file if it is alive and
// belongs to the service (a descendant reparented to supervise, or a
// member of its cgroup); a pid file naming any other process is ignored.
func (s *supervisor) tryFollow() {
	if pid := readPidfile(readConfig(filePidfile)); pid > 1 && pid != s.self {
		if in, err := proc.Stat(pid); err == nil && in.Live() && s.owns(in) {
			if h, err := proc.Open(in.ID); err == nil {
				s.stopFollowing()
				s.setMain(h, in.PPid == s.self)
				s.announce()
				return
			}
		}
	}
	if time.Now().After(s.followEnd) {
		s.abandonFollowing()
	}
}

// abandonFollowing gives up waiting for the daemon: the service is down.
func (s *supervisor) abandonFollowing() {
	s.stopFollowing()
	removeRecord()
	s.serviceDown()
}

// owns reports whether a process belongs to the service: it is in the
// service's cgroup, or descends from supervise (through run, or reparented
// to it) or from an adopted process.
func (s *supervisor) owns(in proc.Info) bool {
	if s.group != nil {
		return s.group.Contains(in.Pid)
	}
	if in.PPid == s.self {
		return true
	}
	for _, id := range s.tree() {
		if id == in.ID {
			return true
		}
	}
	return false
}

// readPidfile returns the pid in the first line of the named file, or 0.
func readPidfile(path string) int {
	if path == "" {
		return 0
	}
	b := make([]byte, 64)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return 0
	}
	n, _ := unix.Read(fd, b)
	unix.Close(fd)
	if n <= 0 {
		return 0
	}
	line, _, _ := strings.Cut(string(b[:n]), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return 0
	}
	return pid
}
