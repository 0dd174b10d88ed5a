package supervise

import (
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"svkit/internal/cgroup"
	"svkit/internal/proc"
)

// followPoll is how often supervise looks for the pid file named by
// pidfile, for followWait after a run that exited 0.
const followPoll = 50 * time.Millisecond

// tree returns the live processes of the service other than supervise:
// the members of its cgroup, or else the descendants of supervise (run,
// its children, and orphans reparented to supervise) and of an adopted
// process. supervise's own helpers, finish and check, are not the service:
// they are not in the cgroup, and their subtrees are left out of
// supervise's.
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
	ids := proc.DescendantsExcept(roots, s.helpers())
	if s.main != nil && !s.mainChild {
		ids = append(ids, s.main.ID)
	}
	return ids
}

// helpers returns the pids of supervise's running helpers.
func (s *supervisor) helpers() []int {
	var pids []int
	if s.finish != nil {
		pids = append(pids, s.finish.Pid)
	}
	if s.checkPid != 0 {
		pids = append(pids, s.checkPid)
	}
	return pids
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

// signalTree sends the signals to every process of the service. A cgroup
// is frozen meanwhile, and listed once frozen, so that nothing in it
// escapes by forking (a fork bomb would fill every slot the signals free),
// and the signals take effect at once when it is thawed.
func (s *supervisor) signalTree(sigs ...unix.Signal) {
	if len(s.tree()) == 0 {
		// Nothing to freeze for: an empty cgroup stays empty, since
		// only its members (and supervise's start) put processes in.
		return
	}
	defer s.freeze()()
	s.signalAll(s.tree(), sigs...)
}

// freeze freezes the service's cgroup, if it has one, and waits until it
// is frozen; the function it returns thaws it.
func (s *supervisor) freeze() (thaw func()) {
	if s.group == nil || s.group.Freeze(true) != nil {
		return func() {}
	}
	s.group.WaitFrozen(frozenWait)
	return func() { s.group.Freeze(false) }
}

// signalAll sends the signals to the processes of the service found, each
// through a pidfd checked to name the process that was found.
func (s *supervisor) signalAll(ids []proc.ID, sigs ...unix.Signal) {
	for _, id := range ids {
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
	s.endedAt = time.Time{}
}

// Leftovers are processes of the service still there while its process is
// not: a helper run started in the background, a daemon that never wrote
// its pid file (a daemon that did is followed as the service, not a
// leftover). They get the down signal (and CONT) when the service's process
// ends, whether or not the service is wanted up, and again on svc -d or -x.
// A start waits for them to go and gives them KILL if they are not gone
// within timeout-kill, or leftoverWait (the pace of automatic restarts)
// without one, since they got the signal: two generations of the service
// never run together. Wanted down, they get KILL after timeout-kill, as run
// does, and supervise does not exit before they are gone.
const sweepPoll = 100 * time.Millisecond

// leftovers is what supervise knows of the leftovers.
type leftovers struct {
	endedAt   time.Time // when they got the down signal; zero if none are known
	heldUntil time.Time // in phaseHeld: when they get KILL and the start happens
	sweep     timer     // next check on them while a start or the exit waits
}

// endLeftovers sends the down signal and CONT to what is left of the
// service and reports whether anything was.
func (s *supervisor) endLeftovers() bool {
	ids := s.tree()
	if len(ids) > 0 {
		// Listed again and signalled frozen, so that none escapes
		// by forking. An empty tree needs no freezing (see
		// signalTree): the common case, a service whose one process
		// has exited, costs one read of cgroup.procs.
		defer s.freeze()()
		ids = s.tree()
	}
	if len(ids) == 0 {
		s.endedAt = time.Time{}
		return false
	}
	s.signalAll(ids, s.downSignal(), unix.SIGCONT)
	s.endedAt = clock()
	if s.exit {
		s.watchLeftovers()
	}
	return true
}

// endDown ends what is left of a service that is wanted down, or of
// supervise on its way out: the down signal, and KILL after timeout-kill.
func (s *supervisor) endDown() {
	if s.endLeftovers() {
		s.armKill()
	}
}

// holdStart reports whether a start must wait for leftovers. What is left
// of a stop in progress gets KILL at once; other leftovers get the down
// signal if they have not had it, and KILL once their time is up.
func (s *supervisor) holdStart() bool {
	if s.kill.pending() {
		s.cancelKill()
		s.killTree()
		return false
	}
	if len(s.tree()) == 0 {
		s.endedAt = time.Time{}
		return false
	}
	if s.endedAt.IsZero() && !s.endLeftovers() {
		return false
	}
	wait := s.timeoutKill()
	if wait <= 0 {
		wait = leftoverWait
	}
	until := s.endedAt.Add(wait)
	if !clock().Before(until) {
		s.killTree()
		return false
	}
	s.phase, s.heldUntil = phaseHeld, until
	s.statusDirty, s.extDirty = true, true
	s.watchLeftovers()
	return true
}

// checkLeftovers looks at the service again after one of its processes
// died: a stop in progress is over once nothing of the service is left.
func (s *supervisor) checkLeftovers() {
	if s.main == nil && (s.kill.pending() || !s.endedAt.IsZero()) {
		s.sweepLeftovers()
	}
}

// sweepLeftovers checks on the leftovers: once they are gone a stop in
// progress is over, and a start that waits for them happens then or when
// their time is up.
func (s *supervisor) sweepLeftovers() {
	s.sweep.stop()
	if s.main == nil && len(s.tree()) == 0 {
		s.cancelKill()
		s.endedAt = time.Time{}
	}
	if s.phase == phaseHeld && (s.endedAt.IsZero() || !clock().Before(s.heldUntil)) {
		s.phase = phaseDown
		s.start()
	}
	if s.phase == phaseHeld || (s.exit && !s.endedAt.IsZero()) {
		s.watchLeftovers()
	}
}

// watchLeftovers schedules the next check on the leftovers, within
// sweepPoll or at the end of a start's wait: they need not be children of
// supervise, whose deaths it hears of at once.
func (s *supervisor) watchLeftovers() {
	d := sweepPoll
	if s.phase == phaseHeld {
		d = min(d, max(s.heldUntil.Sub(clock()), 0))
	}
	s.sweep.set(d)
}

// startFollowing begins polling for the pid file of a daemon that put
// itself in the background, started by a run that started at since.
// Meanwhile the record says a start is under way since then, so that a
// successor finds the daemon in the cgroup.
func (s *supervisor) startFollowing(since uint64) {
	s.writeStarting(since, s.pgrp, s.sess)
	s.phase = phaseFollowing
	s.followEnd = clock().Add(followWait)
	s.tryFollow()
}

func (s *supervisor) stopFollowing() {
	if s.phase == phaseFollowing {
		s.phase = phaseDown
	}
	s.follow.stop()
}

// tryFollow adopts the process named by the pid file if it is alive and
// belongs to the service (a descendant reparented to supervise, or a
// member of its cgroup); a pid file naming any other process is ignored.
func (s *supervisor) tryFollow() {
	if pid := readPidfile(s.dirfd, s.readConfig(filePidfile)); pid > 1 && pid != s.self {
		if in, err := proc.Stat(pid); err == nil && in.Live() && s.owns(in) {
			if h, err := proc.Open(in.ID); err == nil {
				s.stopFollowing()
				s.setMain(h, s.reaps(in))
				s.announce()
				return
			}
		}
	}
	if clock().After(s.followEnd) {
		s.abandonFollowing()
		return
	}
	s.follow.set(followPoll)
}

// abandonFollowing gives up waiting for the daemon: the service is down.
func (s *supervisor) abandonFollowing() {
	s.stopFollowing()
	s.removeRecord()
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

// readPidfile returns the pid in the first line of the named file (relative
// to the service directory dirfd), or 0.
func readPidfile(dirfd int, path string) int {
	if path == "" {
		return 0
	}
	b := make([]byte, 64)
	fd, err := unix.Openat(dirfd, path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
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
