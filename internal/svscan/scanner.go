package svscan

import (
	"errors"
	"io"
	"os"
	"sort"
	"syscall"

	"golang.org/x/sys/unix"

	"svkit/internal/cgroup"
	"svkit/internal/diag"
	"svkit/internal/eintr"
	"svkit/internal/pathexec"
	"svkit/pkg/svdir"
)

const prog = "svscan"

// MaxServices is the number of service directories svscan runs at once.
// 0.76 stops at 1000 because its table is a static array; svkit's table
// grows as needed, so the limit only guards against a runaway generator of
// directories: a logged service costs four processes (two supervise, run and
// the logger) and two descriptors in svscan, so 10000 services are 40000
// processes, beyond the default pid_max (32768) of many systems.
const MaxServices = 10000

// maxServices is MaxServices, a variable so that tests can lower it.
var maxServices = MaxServices

// key identifies a service directory, so that renaming it restarts nothing.
type key struct{ dev, ino uint64 }

// entry is one service directory svscan knows.
type entry struct {
	key
	logKey key    // the identity of NAME/log, when it has one
	name   string // the name it had at the last pass
	active bool   // seen in the current pass
	log    bool   // has a log service, joined by the pipe pr/pw
	fifo   bool   // the pipe is the FIFO supervise/logpipe, not an anonymous one
	pid    int    // supervise NAME, 0 when not running
	logPid int    // supervise log in NAME, 0 when not running
	pr, pw int    // the pipe, kept for the life of the entry

	// ordered shutdown state
	downSent    bool         // "dx" written to NAME/supervise/control
	downStatus  svdir.Status // NAME's status when "dx" was last written
	logSent     bool         // "x" written to NAME/log/supervise/control
	serviceGone bool         // NAME's supervise has exited
	finished    bool         // both sides gone
	dependents  []*entry     // the services that need this one: they go down first
}

// Scanner holds the services of one scan directory (the current directory).
type Scanner struct {
	stderr  io.Writer
	env     []string
	stdio   [3]uintptr
	entries map[key]*entry
	byPid   map[int]*entry
	cands   []string // where supervise may be, computed at each pass
	dirbuf  []byte   // getdents buffer, reused
	names   []string // directory names, reused
	main    mainService
	inproc  *inProcess // -i: the supervisors run in this process
	started int        // supervisors started so far

	keeper    *keeperProc // -i: the process that holds the log FIFOs (keeper.go)
	keepDirty bool        // the set of log FIFOs changed since the keeper started
	retired   bool        // the keepers of earlier svscan processes were killed
}

// NewScanner returns a scanner for the current directory. Children get env
// and svscan's descriptors 0, 1 and 2; warnings go to stderr.
func NewScanner(stderr io.Writer, env []string) *Scanner {
	return &Scanner{
		stderr:  stderr,
		env:     env,
		stdio:   [3]uintptr{0, 1, 2},
		entries: make(map[key]*entry),
		byPid:   make(map[int]*entry),
		dirbuf:  make([]byte, 32<<10),
	}
}

func (s *Scanner) warn(parts ...string) { diag.Warn(s.stderr, prog, parts...) }

// Reap collects every child that has exited, without blocking, and returns
// the entries whose supervise processes exited.
func (s *Scanner) Reap() []*entry {
	var changed []*entry
	if s.inproc != nil {
		for _, id := range s.inproc.reap() {
			if e := s.ended(id); e != nil {
				changed = append(changed, e)
			}
		}
		return changed
	}
	for {
		var ws unix.WaitStatus
		pid, err := rawWait4(&ws)
		if err != nil || pid <= 0 {
			return changed
		}
		if e := s.ended(pid); e != nil {
			changed = append(changed, e)
		}
	}
}

// ended forgets the supervisor pid (or hosted id) that has ended, and
// returns its entry, nil if it was none of svscan's (an orphan as PID 1,
// or readproctitle under svscanboot).
func (s *Scanner) ended(pid int) *entry {
	e := s.byPid[pid]
	if e == nil {
		return nil
	}
	delete(s.byPid, pid)
	if e.pid == pid {
		e.pid = 0
	} else if e.logPid == pid {
		e.logPid = 0
	}
	return e
}

// Pass is one scan: reap, read the directory, start what is new or not
// running (reaping after each start), and forget entries whose directory is gone and whose supervise
// processes have exited.
func (s *Scanner) Pass() {
	s.Reap()
	for _, e := range s.entries {
		e.active = false
	}
	names, err := rawReadNames(s.dirbuf, s.names[:0])
	s.names = names[:0]
	if err != nil {
		s.warn("unable to read directory: ", diag.Str(err))
		return
	}
	s.cands = s.candidates()
	sort.Strings(names)
	for _, n := range names {
		started := s.started
		s.start(n)
		// A pass that starts many supervise processes takes a while
		// under load (a fork and exec each), and a child that has
		// exited meanwhile (a supervise that found its lock taken by
		// one an earlier svscan started) is reaped after each start
		// rather than at the end of the pass: one wait4 when none has.
		// A pass that starts nothing makes no such call.
		if s.started != started {
			s.Reap()
		}
	}
	for k, e := range s.entries {
		if !e.active && e.pid == 0 && e.logPid == 0 {
			s.keepDirty = s.keepDirty || e.fifo
			e.closePipe()
			e.removeGroups()
			delete(s.entries, k)
		}
	}
	if s.inproc != nil && s.keepDirty {
		s.keep()
	}
	if !s.retired {
		s.retired = true
		s.retireKeepers()
	}
}

// start makes sure the service called fn is running, as 0.76's start() does.
func (s *Scanner) start(fn string) {
	if fn == "" || fn[0] == '.' {
		return
	}
	var st unix.Stat_t
	if err := rawStat(fn, &st); err != nil {
		s.warn("unable to stat ", fn, ": ", diag.Str(err))
		return
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return
	}
	k := key{uint64(st.Dev), st.Ino}
	e := s.entries[k]
	if e == nil {
		if len(s.entries) >= maxServices {
			s.warn("unable to start ", fn, ": running too many services")
			return
		}
		e = &entry{key: k, pr: -1, pw: -1}
		if len(fn) <= 255 {
			err := rawStat(fn+"/log", &st)
			if err == nil {
				e.log = true
				e.logKey = key{uint64(st.Dev), st.Ino}
			} else if err != unix.ENOENT {
				s.warn("unable to stat ", fn, "/log: ", diag.Str(err))
				return
			}
		}
		if e.log {
			var err error
			if e.pr, e.pw, e.fifo, err = logPipe(fn, s.warn); err != nil {
				s.warn("unable to create pipe for ", fn, ": ", diag.Str(err))
				return
			}
			s.keepDirty = s.keepDirty || e.fifo
		}
		s.entries[k] = e
	}
	e.active = true
	e.name = fn

	if e.pid == 0 {
		out := s.stdio[1]
		if e.log {
			out = uintptr(e.pw)
		}
		pid, err := s.supervise("", fn, []uintptr{s.stdio[0], out, s.stdio[2]})
		switch {
		case err == unix.EAGAIN:
			s.warn("unable to fork for ", fn, ": ", diag.Str(err))
			return
		case err != nil:
			// 0.76's child prints this and exits 111; the entry is
			// tried again at the next pass.
			s.warn("unable to start supervise ", fn, ": ", diag.Str(err))
		default:
			e.pid = pid
			s.byPid[pid] = e
		}
	}

	if e.log && e.logPid == 0 {
		if err := checkDir(fn); err != nil {
			s.warn("unable to switch to ", fn, ": ", diag.Str(err))
			return
		}
		pid, err := s.supervise(fn, "log", []uintptr{uintptr(e.pr), s.stdio[1], s.stdio[2]})
		switch {
		case err == unix.EAGAIN:
			s.warn("unable to fork for ", fn, "/log: ", diag.Str(err))
		case err != nil:
			s.warn("unable to start supervise ", fn, "/log: ", diag.Str(err))
		default:
			e.logPid = pid
			s.byPid[pid] = e
		}
	}
}

// logPipe returns the read and write ends of the pipe between the service
// fn and its logger. It is the FIFO fn/supervise/logpipe: while any process
// holds it open, every open of it reaches the same pipe, so a service and a
// logger started by different svscan processes (svscan was killed and
// started again, and one of the two supervise processes was replaced) still
// talk to each other, and the lines in the pipe stay there for the logger.
// With 0.76's anonymous pipe, a service restarted under the new svscan
// writes into a pipe that the old logger never reads. Where the FIFO cannot
// be made (a read-only directory), the pipe is an anonymous one, as in 0.76.
func logPipe(fn string, warn func(...string)) (r, w int, fifo bool, err error) {
	r, w, err = openLogFIFO(fn)
	if err == nil {
		return r, w, true, nil
	}
	// Said whatever the cause: an anonymous pipe does not outlive
	// svscan, so lines can then be lost where the FIFO keeps them.
	why := err.Error()
	if diag.Errno(err) != 0 {
		why = diag.Str(err)
	}
	warn("unable to use ", fn, "/", svdir.LogPipePath, ": ", why, "; using an anonymous pipe")
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return -1, -1, false, err
	}
	return p[0], p[1], false, nil
}

// errForeignFIFO: supervise/logpipe belongs to another user or is open
// to others.
var errForeignFIFO = errors.New("not a FIFO of svscan's user with mode 0600")

// openLogFIFO creates the FIFO fn/supervise/logpipe (and fn/supervise) if
// missing and opens both of its ends, blocking (as a pipe's are) and
// close-on-exec.
func openLogFIFO(fn string) (r, w int, err error) {
	svdir.MakeDir(fn)
	name := fn + "/" + svdir.LogPipePath
	if err := unix.Mkfifo(name, 0600); err != nil && err != unix.EEXIST {
		return -1, -1, err
	}
	// Opening the read end first, without blocking, means the write
	// end's open finds a reader and does not block either.
	if r, err = svdir.OpenFIFO(unix.AT_FDCWD, name, unix.O_RDONLY); err != nil {
		return -1, -1, err
	}
	// Only a FIFO of ours that nobody else may open: another user's, or
	// one open to others, could be read or written by them.
	var st unix.Stat_t
	if err = unix.Fstat(r, &st); err == nil && (int(st.Uid) != os.Geteuid() || st.Mode&0077 != 0) {
		err = errForeignFIFO
	}
	if err != nil {
		unix.Close(r)
		return -1, -1, err
	}
	// The service's end is opened for reading too, and is never read: a
	// service writing to a pipe that nobody else holds (svscan, both
	// supervise processes and the logger all killed before a new svscan
	// opens the FIFO) then fills it and waits, as it does when only the
	// logger is gone, instead of dying of SIGPIPE and taking with it the
	// lines the pipe held. End of file for the logger is unchanged: it
	// comes when the last descriptor of this end is closed.
	if w, err = svdir.OpenFIFO(unix.AT_FDCWD, name, unix.O_RDWR); err != nil {
		unix.Close(r)
		return -1, -1, err
	}
	if err = unix.SetNonblock(r, false); err == nil {
		err = unix.SetNonblock(w, false)
	}
	if err != nil {
		unix.Close(r)
		unix.Close(w)
		return -1, -1, err
	}
	return r, w, nil
}

// removeGroups removes the cgroups that supervise made for the service and
// its logger, if they are empty, when svscan forgets the entry: a
// supervise removes its cgroup when it exits, but not one that was killed.
func (e *entry) removeGroups() {
	cgroup.RemoveIfEmpty(cgroup.ServiceName(e.dev, e.ino))
	if e.log {
		cgroup.RemoveIfEmpty(cgroup.ServiceName(e.logKey.dev, e.logKey.ino))
	}
}

func (e *entry) closePipe() {
	if e.pr >= 0 {
		unix.Close(e.pr)
		e.pr = -1
	}
	if e.pw >= 0 {
		unix.Close(e.pw)
		e.pw = -1
	}
}

// closeWrite closes svscan's copy of the pipe's write end, so that the
// logger sees end of file once the service side has gone.
func (e *entry) closeWrite() {
	if e.pw >= 0 {
		unix.Close(e.pw)
		e.pw = -1
	}
}

// checkDir reports why a child could not chdir to dir.
func checkDir(dir string) error {
	fd, err := eintr.Retry(func() (int, error) { return unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0) })
	if err != nil {
		return err
	}
	unix.Close(fd)
	return nil
}

// candidates lists, in PATH order, the files svscan tries as supervise.
// Absolute names that do not exist are left out, so that a start costs one
// fork however long PATH is; relative ones depend on the child's working
// directory and are always tried.
func (s *Scanner) candidates() []string {
	all := pathexec.Candidates("supervise", pathexec.SearchPath(s.env))
	out := all[:0:0]
	var st unix.Stat_t
	for _, c := range all {
		if c[0] == '/' && rawStat(c, &st) == unix.ENOENT {
			continue
		}
		out = append(out, c)
	}
	return out
}

// supervise starts the supervisor of dir/arg: a supervise process, or
// with -i a supervisor in this process.
func (s *Scanner) supervise(dir, arg string, files []uintptr) (int, error) {
	s.started++
	if s.inproc == nil {
		return s.spawn(dir, arg, files)
	}
	if dir != "" {
		arg = dir + "/" + arg
	}
	return s.inproc.start(arg, files, s), nil
}

// spawn starts "supervise arg" in dir with the given descriptors as 0, 1
// and 2, searching PATH as 0.76's pathexec_run does. Every other descriptor
// svscan has is close-on-exec.
func (s *Scanner) spawn(dir, arg string, files []uintptr) (int, error) {
	attr := &syscall.ProcAttr{Dir: dir, Env: s.env, Files: files}
	argv := []string{"supervise", arg}
	var saved error
	for _, c := range s.cands {
		pid, err := syscall.ForkExec(c, argv, attr)
		if err == nil {
			return pid, nil
		}
		if err == syscall.ENOENT {
			continue
		}
		saved = err
		if err != syscall.EACCES && err != syscall.EPERM && err != syscall.EISDIR {
			return 0, err
		}
	}
	if saved != nil {
		return 0, saved
	}
	return 0, syscall.ENOENT
}
