package svscan

import (
	"os"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"svkit/internal/diag"
	"svkit/internal/eintr"
	"svkit/internal/proc"
)

// A log pipe's lines live in the kernel only while some process holds the
// pipe open. With a supervise process per service, the two supervise
// processes hold it whatever happens to svscan; under -i the supervisors
// are svscan, and a pipe whose logger and service were both gone when
// svscan died (the logger killed, the service killed before a new svscan
// opened the FIFO again) took its lines with it. The keeper is a process
// that holds the read end of every log FIFO of svscan -i and outlives it:
// svscan starts a new one whenever the set of FIFOs changes (the new one
// has inherited every descriptor before the old one is killed), and a
// svscan that starts retires the keepers of a predecessor once it holds
// the FIFOs itself (its first pass).
//
// The keeper does nothing while svscan lives: svscan stops it (SIGSTOP), so
// it costs no wakeup. Its parent-death signal is SIGCONT: when svscan dies,
// it runs again, sees its parent gone and waits, through inotify, for the
// FIFOs it holds to be removed, closing each one whose last link is gone
// and exiting once it holds none; a successor svscan kills it before that.
// It holds read ends only, so the logger's end of file at an ordered
// shutdown is unchanged, and svscan kills it once that shutdown is over.

// KeeperName is the keeper's argv[0] and command name (no "svscan" in it,
// so that pgrep svscan does not count it as a live svscan).
const KeeperName = "logpipe-keeper"

// keeperProc is the keeper svscan started.
type keeperProc struct {
	h *proc.Handle
}

// keep starts a keeper holding the read end of every log FIFO and then
// kills the keeper it replaces. A failure is said and leaves the old keeper
// in place, which still holds every FIFO that existed when it started.
func (s *Scanner) keep() {
	s.keepDirty = false
	var fds []uintptr
	for _, e := range s.entries {
		if e.fifo && e.pr >= 0 {
			fds = append(fds, uintptr(e.pr))
		}
	}
	old := s.keeper
	if len(fds) == 0 {
		s.keeper = nil
		old.kill()
		return
	}
	null, err := eintr.Retry(func() (int, error) { return unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0) })
	if err != nil {
		s.keepDirty = true // tried again at the next pass
		s.warn("unable to start the log pipe keeper: unable to open /dev/null: ", diag.Str(err))
		return
	}
	defer unix.Close(null)
	// The keeper says on this pipe that it is ready to be stopped: svscan
	// stops it only then, so that it is never stopped before it has
	// named itself and learnt who its parent is.
	var ready [2]int
	if err := unix.Pipe2(ready[:], unix.O_CLOEXEC); err != nil {
		s.keepDirty = true
		s.warn("unable to start the log pipe keeper: unable to create pipe: ", diag.Str(err))
		return
	}
	defer unix.Close(ready[1])
	files := append([]uintptr{uintptr(null), uintptr(null), uintptr(null), uintptr(ready[1])}, fds...)
	pidfd := -1
	attr := &syscall.ProcAttr{
		Files: files,
		Sys: &syscall.SysProcAttr{
			Setsid:    true,
			Pdeathsig: syscall.SIGCONT,
			PidFD:     &pidfd,
		},
	}
	argv := []string{KeeperName, strconv.Itoa(os.Getpid()), strconv.Itoa(len(fds))}
	pid, err := syscall.ForkExec("/proc/self/exe", argv, attr)
	if err != nil || pidfd < 0 {
		unix.Close(ready[0])
		s.keepDirty = true // tried again at the next pass
		if err == nil {
			unix.Kill(pid, unix.SIGKILL) // no pidfd: nothing would ever stop it safely
			err = unix.ENOSYS
		}
		s.warn("unable to start the log pipe keeper: ", diag.Str(err))
		return
	}
	h := proc.FromFD(proc.ID{Pid: pid}, pidfd)
	if stopper, err := unix.Dup(pidfd); err == nil {
		unix.CloseOnExec(stopper)
		go stopWhenReady(ready[0], stopper)
	} else {
		unix.Close(ready[0])
	}
	s.keeper = &keeperProc{h: h}
	old.kill()
}

// stopWhenReady stops the keeper of pidfd once it has written to (or
// closed) its end of the ready pipe, and closes both descriptors.
func stopWhenReady(ready, pidfd int) {
	defer unix.Close(pidfd)
	unix.SetNonblock(ready, true) // read through the runtime's poller
	f := os.NewFile(uintptr(ready), "keeper ready")
	defer f.Close()
	var b [1]byte
	if n, _ := f.Read(b[:]); n == 1 {
		unix.PidfdSendSignal(pidfd, unix.SIGSTOP, nil, 0)
	}
}

// kill ends a keeper svscan started (nil for none).
func (k *keeperProc) kill() {
	if k == nil || k.h == nil {
		return
	}
	k.h.Signal(unix.SIGKILL)
	k.h.Close()
}

// retireKeepers kills the keepers that other svscan processes started for
// this scan directory (they died, or this one would not be running there):
// this svscan holds every FIFO by now, through its own keeper or its
// supervise processes.
func (s *Scanner) retireKeepers() {
	var here unix.Stat_t
	if unix.Stat(".", &here) != nil {
		return
	}
	mine := 0
	if s.keeper != nil && s.keeper.h != nil {
		mine = s.keeper.h.Pid
	}
	for _, pid := range keepersOf(here, mine) {
		id, err := proc.Lookup(pid)
		if err != nil {
			continue
		}
		h, err := proc.Open(id)
		if err != nil {
			continue
		}
		// Checked again through the pidfd's process: the pid was not
		// handed to another process since it was found.
		if isKeeperOf(pid, here) {
			h.Signal(unix.SIGKILL)
		}
		h.Close()
	}
}

// keepersOf lists the keepers, other than skip, of this user whose
// working directory is the directory here.
func keepersOf(here unix.Stat_t, skip int) []int {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	var out []int
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil || pid == skip || pid == os.Getpid() {
			continue
		}
		if isKeeperOf(pid, here) {
			out = append(out, pid)
		}
	}
	return out
}

// isKeeperOf reports whether pid is a keeper of this user working in the
// directory here.
func isKeeperOf(pid int, here unix.Stat_t) bool {
	p := "/proc/" + strconv.Itoa(pid)
	b, err := os.ReadFile(p + "/comm")
	if err != nil || string(b) != KeeperName+"\n" {
		return false
	}
	var st unix.Stat_t
	if unix.Stat(p, &st) != nil || int(st.Uid) != os.Geteuid() {
		return false
	}
	if unix.Stat(p+"/cwd", &st) != nil {
		return false
	}
	return st.Dev == here.Dev && st.Ino == here.Ino
}

// Keep is the keeper (argv: KeeperName, svscan's pid, the number of
// descriptors it holds from 4 on; 3 is the ready pipe). It returns when it holds nothing more.
func Keep(argv []string) int {
	if len(argv) != 3 {
		return 100
	}
	parent, err1 := strconv.Atoi(argv[1])
	n, err2 := strconv.Atoi(argv[2])
	if err1 != nil || err2 != nil || n < 0 {
		return 100
	}
	name := []byte(KeeperName + "\x00")
	unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&name[0])), 0, 0, 0)
	const ready = 3 // the pipe on which it says svscan may stop it
	held := map[int]bool{}
	for fd := ready + 1; fd < ready+1+n; fd++ {
		unix.CloseOnExec(fd)
		held[fd] = true
	}
	// Until svscan dies: blocked on its pidfd, and stopped by it once it
	// was told it may. A pidfd opened after svscan died would name another
	// process that took its pid, hence the check of the parent after
	// opening.
	pfd, err := unix.PidfdOpen(parent, 0)
	if err == nil && unix.Getppid() == parent {
		unix.Write(ready, []byte{'k'})
		unix.Close(ready)
		waitReadable(pfd)
	} else {
		unix.Close(ready)
	}
	if err == nil {
		unix.Close(pfd)
	}
	return release(held)
}

// waitReadable blocks until fd is readable (a pidfd: its process ended).
func waitReadable(fd int) {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, -1)
		if err == nil && n > 0 {
			return
		}
		if err != nil && err != unix.EINTR {
			return
		}
	}
}

// release holds the descriptors until the file each one was opened from
// has no link left, and returns once none is held. Without inotify it holds
// them until it is killed.
func release(held map[int]bool) int {
	in, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		holdForever()
	}
	byWatch := map[int]int{}
	for fd := range held {
		wd, err := unix.InotifyAddWatch(in, "/proc/self/fd/"+strconv.Itoa(fd), unix.IN_ATTRIB)
		if err == nil {
			byWatch[wd] = fd
		}
		dropIfUnlinked(held, fd)
	}
	buf := make([]byte, 64<<10)
	for len(held) > 0 {
		m, err := unix.Read(in, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			holdForever()
		}
		for off := 0; off+unix.SizeofInotifyEvent <= m; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			if fd, ok := byWatch[int(ev.Wd)]; ok {
				dropIfUnlinked(held, fd)
			}
			off += unix.SizeofInotifyEvent + int(ev.Len)
		}
	}
	return 0
}

// dropIfUnlinked closes fd if its file has no link left.
func dropIfUnlinked(held map[int]bool, fd int) {
	if !held[fd] {
		return
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Nlink == 0 {
		unix.Close(fd)
		delete(held, fd)
	}
}

// holdForever keeps the descriptors until the keeper is killed.
func holdForever() {
	for {
		unix.Pause()
	}
}
