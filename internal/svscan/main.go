package svscan

import (
	"os"
	"sort"

	"golang.org/x/sys/unix"

	"svkit/internal/inotify"
	"svkit/pkg/svdir"
)

// The main service: when svscan runs as PID 1 or with -o (a container's
// init), the service directory holding a file named main is the one whose
// end ends the tree. Once its supervise (svkit's, which writes
// supervise/info) reports it down and not wanted up after it ran (it exited
// with main saying exit, it was given svc -o or svc -d, supervise gave up on
// it through permafail, or its finish exited 125), svscan takes the whole
// tree down in order and exits with the service's exit code, or 128 plus
// the signal that killed it. On SIGTERM or SIGINT the tree is taken down as
// without a main service, and svscan exits with the code the main service
// ended with in that stop (0 if it never ran), or 111 if the stop needed
// SIGKILL. Only one service is the main one: the first by name; a main file
// in another is warned about once and ignored.

// fileMain is the service directory's file naming the main service.
const fileMain = "main"

// unknownExit is svscan's exit code for a main service whose exit status
// supervise could not know (a process it adopted, not its child).
const unknownExit = 111

// mainService is what svscan knows of the main service.
type mainService struct {
	name    string // its directory, "" if there is none
	sup     int    // the pid of its supervise, when last seen running
	ignored map[string]bool
	notify  int           // inotify descriptor watching its supervise/, or -1
	wd      int           // the watch, or -1
	C       chan struct{} // something in its supervise/ changed
}

// findMain picks the main service among the entries seen in the last
// pass: the first by name with a main file.
func (s *Scanner) findMain() {
	var names []string
	for _, e := range s.entries {
		if e.active && isFile(e.name+"/"+fileMain) {
			names = append(names, e.name)
		}
	}
	sort.Strings(names)
	m := &s.main
	if len(names) == 0 {
		m.name = ""
		return
	}
	if m.name != names[0] {
		m.name, m.sup = names[0], 0
		m.watch()
	}
	if m.ignored == nil {
		m.ignored = map[string]bool{}
	}
	for _, n := range names[1:] {
		if !m.ignored[n] {
			m.ignored[n] = true
			s.warn("ignoring ", n, "/", fileMain, ": ", m.name, " is the main service")
		}
	}
}

// isFile reports whether name is a regular file (not following a symlink).
func isFile(name string) bool {
	var st unix.Stat_t
	return rawLstat(name, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG
}

// mainEnded reports whether the main service ran and ended for good, and
// the exit code svscan then exits with.
func (s *Scanner) mainEnded() (int, bool) {
	m := &s.main
	if m.name == "" {
		return 0, false
	}
	e := s.entryNamed(m.name)
	if e == nil || e.pid == 0 {
		return 0, false
	}
	m.sup = supervisorPid(e.pid)
	r, err := svdir.ReadStatusOf(m.name)
	if err != nil || r.Pid != 0 || r.Want == svdir.WantUp {
		return 0, false
	}
	in := svdir.ReadInfoOf(m.name)
	// The info of this supervise, of the state the status shows, after a
	// run ended (this supervise may have adopted it), with nothing
	// running: not one a supervise of an earlier svscan left.
	if in == nil || in.Supervisor != supervisorPid(e.pid) || in.Since != r.When.Time().UnixNano() ||
		in.State != svdir.StateDown || in.Exited == 0 {
		return 0, false
	}
	return exitCodeOf(in), true
}

// stoppedCode is svscan's exit code after an ordered shutdown that ended
// with code: with a main service, the code its last run ended with.
func (s *Scanner) stoppedCode(code int) int {
	m := &s.main
	if code != ExitShutdown || m.name == "" || m.sup == 0 {
		return code
	}
	in := svdir.ReadInfoOf(m.name)
	if in == nil || in.Supervisor != m.sup || in.Exited == 0 {
		return code
	}
	return exitCodeOf(in)
}

// exitCodeOf is the exit code that stands for how the service's last run
// ended, as a shell reports it.
func exitCodeOf(in *svdir.Info) int {
	switch {
	case in.ExitSignal > 0:
		return 128 + in.ExitSignal
	case in.ExitCode >= 0:
		return in.ExitCode
	}
	return unknownExit
}

// entryNamed returns the entry that had the given name at the last pass.
func (s *Scanner) entryNamed(name string) *entry {
	for _, e := range s.entries {
		if e.active && e.name == name {
			return e
		}
	}
	return nil
}

// watch makes C report changes in the main service's supervise/ (status
// and info are renamed into it), creating the directory as supervise
// would. Without inotify, svscan's passes and SIGCHLD remain.
func (m *mainService) watch() {
	if m.C == nil {
		m.C, m.notify, m.wd = make(chan struct{}, 1), -1, -1
		fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
		if err != nil {
			return
		}
		m.notify = fd
		go m.read(os.NewFile(uintptr(fd), "inotify"))
	}
	if m.notify < 0 {
		return
	}
	if m.wd >= 0 {
		unix.InotifyRmWatch(m.notify, uint32(m.wd))
		m.wd = -1
	}
	svdir.MakeDir(m.name)
	if wd, err := unix.InotifyAddWatch(m.notify, m.name+"/"+svdir.Dir, unix.IN_MOVED_TO|unix.IN_ONLYDIR); err == nil {
		m.wd = wd
	}
}

// read delivers inotify's events on C. It blocks in the runtime's poller.
func (m *mainService) read(f *os.File) {
	buf := make([]byte, 16*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := f.Read(buf)
		if err != nil {
			return
		}
		if len(inotify.ParseEvents(nil, buf[:n])) > 0 {
			select {
			case m.C <- struct{}{}:
			default:
			}
		}
	}
}
