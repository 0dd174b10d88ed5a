// Package supervise is the supervisor of one service directory, daemontools
// 0.76's supervise: it starts ./run, restarts it when it dies, obeys the
// one-letter commands written to supervise/control and publishes the 18-byte
// supervise/status record that svstat and svok read.
//
// Beyond 0.76 (README, "Differences from daemontools 0.76"): it acts on every
// command at once, limiting only automatic restarts to one a second; it
// records the service's process in supervise/process and re-adopts it after
// a crash of supervise instead of starting a second copy; it stops the whole
// process tree (through the service's cgroup where there is one, else as the
// subreaper of its orphans); it keeps the opt-in per-service files of
// config.go (readiness, back-off, pidfile, finish, down-signal,
// timeout-kill) and those of permafail.go that keep a dead service down
// (permafail, finish exiting 125, main); it holds ./run back until the
// services of needs/ and binds/ are ready (needs.go); and it writes svkit's
// extended files (supervise/info, runit's pid and stat).
//
// The supervisor keeps its state as an explicit phase (phase.go) with one
// deadline for all of its timers (timer.go), and reaches the service
// directory only through a descriptor, never through the process's working
// directory.
package supervise

import (
	"errors"
	"io"
	"os"
	"os/signal"
	"path"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"svkit/internal/cgroup"
	"svkit/internal/diag"
	"svkit/internal/proc"
	"svkit/internal/threads"
	"svkit/pkg/svdir"
	"svkit/pkg/tai64"
)

const prog = "supervise"

// spareThreads is how many idle OS threads supervise makes at start-up
// besides those busy then (sysmon, os/signal's two, the running one). The
// Go runtime needs one thread per goroutine in a system call, one running
// Go code and one waiting in the poller: for supervise's event loop, its
// control FIFO and signal delivery, under a machine loaded enough to stall
// any system call, up to 8 in all (a supervise with fewer died at 7). Five
// more than at start-up cover that with room for a watched pidfd or a
// readiness reader; every thread is a task against the limit, so no more.
const spareThreads = 5

// Main runs supervise with its arguments (without the program name) and
// returns the exit code. It changes the process's working directory and
// never returns while the service is supervised, so it is meant to own the
// process; tests run the built binary.
func Main(argv []string, _ io.Reader, _, stderr io.Writer) int {
	if len(argv) != 2 {
		return diag.Usage(stderr, prog, "supervise dir")
	}
	s := &supervisor{dir: argv[1], stderr: stderr, want: svdir.WantUp, stdio: runFiles}
	if code := s.setup(); code != 0 {
		return code
	}
	s.loop()
	s.flush()
	return 0
}

type supervisor struct {
	dir    string // the service directory as named to supervise (for messages)
	dirfd  int    // the service directory: every file of the service is opened relative to it
	here   string // the service directory as /proc/self/fd/N, for calls with no *at form
	stderr io.Writer
	self   int // supervise's own pid
	pgrp   int // supervise's (and run's) process group
	sess   int // and session

	phase     phase        // what the supervisor is doing with the service (phase.go)
	main      *proc.Handle // the service's process: run, adopted or followed; nil unless phase.running()
	mainChild bool         // main is our child, so its death comes through wait4
	mainIsRun bool         // main is the ./run we forked (not adopted or followed)
	paused    bool         // meaningful only while main != nil
	want      byte         // svdir.WantUp, WantDown or WantOnce
	exit      bool         // svc -x: exit once the service is down
	when      tai64.Label  // time of the last state change

	group   *cgroup.Group // the service's own cgroup, where available
	control *os.File      // read end of supervise/control
	okFD    int           // read end of supervise/ok, held so that svok sees a supervisor
	lockFD  int           // supervise/lock, locked
	stdio   []uintptr     // run's descriptors 0, 1 and 2
	chld    chan os.Signal

	reaper *Reaper           // the host's reaper when hosted with others (host.go), else nil
	exits  *Queue[childExit] // the exits the reaper collected for this supervisor
	quit   chan struct{}     // closed when a hosted supervisor ends

	lastStart time.Time
	actions   []timedAction // every timer below and elsewhere, with its action
	restart   timer         // pending automatic start
	kill      timer         // pending KILL of a stopping service's tree

	leftovers // what run left behind, ended before supervise exits or starts run again

	followEnd time.Time // in phaseFollowing: when the pid file is given up
	follow    timer     // next look for the pid file

	exited chan int // pids of watched non-child processes that exited

	gotTerm      bool // TERM was sent to the service's process (runit's stat flag)
	statusDirty  bool // status needs rewriting once the commands at hand are done
	extDirty     bool // info, stat and pid need rewriting
	ext          extFiles
	history      // exit history, back-off and the finish script
	failedStarts // failed starts of ./run
	readiness    // whether and how the service says it is ready
	giveUp       // deaths counted by permafail, the failed mark
	needing      // what must be ready before run starts (needs.go)
}

// setup performs 0.76's start-up sequence. It returns 0 or an exit code.
func (s *supervisor) setup() int {
	s.dirfd, s.okFD, s.lockFD = -1, -1, -1
	s.quit = make(chan struct{})
	s.exits = NewQueue[childExit]()
	s.self = os.Getpid()
	s.pgrp = unix.Getpgrp()
	s.sess, _ = unix.Getsid(0)
	s.exited = make(chan int, 1)
	s.readyC = make(chan int, 1)
	s.notifyC = make(chan notifyMsg, 1)
	s.notifyW = -1
	s.exitCode = -1 // no run has ended yet
	// The supervisor reaches every file of the service through this
	// descriptor, never through the working directory, so that any number
	// of supervisors can share one process.
	dirfd, err := svdir.OpenDir(s.dir)
	if err != nil {
		return s.fatal("unable to chdir to ", s.dir, ": ", diag.Str(err))
	}
	s.dirfd, s.here = dirfd, "/proc/self/fd/"+strconv.Itoa(dirfd)
	// The supervise process still stays in the service directory, as
	// 0.76's does: ps, lsof and /proc/PID/cwd show it there.
	if s.reaper != nil {
		err = nil // hosted: the host's directory is not the supervisor's to change
	} else if hostDir != "" {
		err = os.Chdir(hostDir)
	} else {
		err = unix.Fchdir(dirfd)
	}
	if err != nil {
		return s.fatal("unable to chdir to ", s.dir, ": ", diag.Str(err))
	}
	var down unix.Stat_t
	if err := unix.Fstatat(s.dirfd, svdir.DownFile, &down, 0); err == nil {
		s.want = svdir.WantDown
	} else if err != unix.ENOENT {
		return s.fatal("unable to stat ", s.dir, "/down: ", diag.Str(err))
	}
	s.restoreFailed()
	svdir.MakeDir(s.here)

	lock, err := unix.Openat(s.dirfd, svdir.LockPath, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0600)
	if err == nil {
		err = unix.Flock(lock, unix.LOCK_EX|unix.LOCK_NB)
	}
	if err != nil {
		if lock >= 0 {
			unix.Close(lock)
		}
		return s.fatal("unable to acquire ", s.dir, "/", svdir.LockPath, ": ", diag.Str(err))
	}
	s.lockFD = lock
	// The lock fd stays open for the life of the process; it is
	// close-on-exec, so run does not hold it.

	unix.Mkfifoat(s.dirfd, svdir.ControlPath, 0600)
	// One descriptor, open for reading and writing: being a writer too,
	// its reads never see end of file (0.76 holds a second, write-only
	// descriptor for that), and a host of many supervisors spends one
	// descriptor less on each.
	rfd, err := s.openFIFO(svdir.ControlPath, unix.O_RDWR)
	if err != nil {
		return s.fatal("unable to read ", s.dir, "/", svdir.ControlPath, ": ", fifoErr(err))
	}
	s.control = os.NewFile(uintptr(rfd), svdir.ControlPath)

	// Orphans of the service are reparented to supervise, so that a stop
	// can reach them; where cgroup v2 is writable the service also gets a
	// cgroup of its own, named after the directory's identity.
	if s.reaper != nil {
		if err := s.hostedGroup(); err != nil {
			text := err.Error()
			if diag.Errno(err) != 0 {
				text = diag.Str(err)
			}
			return s.fatal("unable to supervise ", s.dir, ": ", text)
		}
	} else {
		proc.SetChildSubreaper()
		s.openGroup()
	}

	s.stamp()
	s.adopt()
	s.announce()
	s.setupReadiness()
	s.setupNeeds()

	// Every thread supervise will need is made before supervise/ok
	// opens and before the service can fill a task limit: see package
	// threads. os/signal's threads come first.
	if s.reaper == nil {
		s.chld = make(chan os.Signal, 1)
		signal.Notify(s.chld, syscall.SIGCHLD)
		threads.Spare(spareThreads)
	}

	unix.Mkfifoat(s.dirfd, svdir.OKPath, 0600)
	if s.okFD, err = s.openFIFO(svdir.OKPath, unix.O_RDONLY); err != nil {
		return s.fatal("unable to read ", s.dir, "/", svdir.OKPath, ": ", fifoErr(err))
	}
	return 0
}

// openGroup opens the service's cgroup, if cgroup v2 is there to use and
// the service directory has no no-cgroup file. The cgroup is named after
// the directory's identity (device and inode).
func (s *supervisor) openGroup() {
	if s.exists(fileNoCgroup) {
		return
	}
	var st unix.Stat_t
	if unix.Fstat(s.dirfd, &st) != nil {
		return
	}
	g, err := cgroup.Open(cgroup.ServiceName(st.Dev, st.Ino))
	if err != nil {
		return
	}
	// A predecessor killed while it had the cgroup frozen (killTree)
	// left it so: the service, and every run started into it, would
	// stay stopped.
	g.Freeze(false)
	s.group = g
}

// adopt takes over a service that a previous supervise of this directory
// left running, as named by the process record, instead of starting a
// second copy.
func (s *supervisor) adopt() {
	r, ok := s.readRecord()
	id := r.id
	if ok && id.Pid == 0 {
		// The previous supervise was killed while it started run.
		if s.group != nil {
			id, ok = startedIn(s.group, id.Start)
		} else {
			id, ok = startedHere(r, s.self, s.dirfd)
		}
	}
	var in proc.Info
	alive := false
	if ok {
		var err error
		in, err = proc.Stat(id.Pid)
		alive = err == nil && in.Start == id.Start && in.Live()
	}
	if ok && r.id.Pid != 0 && !alive && s.want != svdir.WantDown && s.readConfig(filePidfile) != "" {
		// run is gone, but the previous supervise may have been killed
		// before it saw run exit 0 and leave the daemon of pidfile: look
		// for the daemon as it would have.
		s.startFollowing(id.Start)
		return
	}
	if !alive {
		s.removeRecord()
		return
	}
	h, err := proc.Open(id)
	if err != nil {
		s.removeRecord()
		return
	}
	if r.id.Pid != 0 && r.inode != 0 && h.Inode() != r.inode {
		// The pid was taken again within the same clock tick.
		h.Close()
		s.removeRecord()
		return
	}
	s.setMain(h, s.reaps(in))
	if r, err := svdir.ReadStatus(s.dirfd); err == nil && r.Pid == id.Pid {
		s.when, s.paused = r.When, r.Paused
	} else {
		// Its start was never announced: it has been up since it
		// started.
		s.when = tai64.FromTime(clock().Add(-id.Age()))
	}
}

// openFIFO opens one of supervise's FIFOs without following a symlink and
// checks that it is a FIFO.
func (s *supervisor) openFIFO(path string, mode int) (int, error) {
	return svdir.OpenFIFO(s.dirfd, path, mode)
}

// fifoErr is the text for an error of openFIFO.
func fifoErr(err error) string { return svdir.ErrText(err) }

// warn says a warning as supervise ("supervise: warning: ..."), or under
// svscan -i as svscan, whose process it is.
func (s *supervisor) warn(parts ...string) { diag.Warn(s.stderr, s.prog(), parts...) }

// fatal says why the supervisor cannot go on and returns supervise's exit
// code for it; under svscan -i it is a warning of svscan, which goes on
// with the other services and tries this one again at its next pass.
func (s *supervisor) fatal(parts ...string) int {
	if s.reaper != nil {
		diag.Warn(s.stderr, s.prog(), parts...)
		return diag.ExitTemp
	}
	return diag.Fatal(s.stderr, prog, diag.ExitTemp, parts...)
}

func (s *supervisor) prog() string {
	if s.reaper != nil {
		return "svscan"
	}
	return prog
}

// pid is the pid status shows: the service's process, or 0.
func (s *supervisor) pid() int {
	if s.main == nil {
		return 0
	}
	return s.main.Pid
}

// done reports whether supervise may exit: svc -x was received, the service
// is down, no stop is still in progress and nothing of the service is left
// (or it got KILL).
func (s *supervisor) done() bool {
	return s.exit && s.phase == phaseDown && !s.kill.pending() && s.endedAt.IsZero()
}

// loop supervises until done.
func (s *supervisor) loop() {
	chld := s.chld
	if chld != nil {
		defer signal.Stop(chld)
	}

	commands := make(chan []byte)
	go s.readControl(commands)
	s.actions = s.timedActions()
	wake := newAlarm()
	defer wake.t.Stop()

	if s.idle() && s.want != svdir.WantDown {
		s.start()
	}
	for !s.done() {
		if s.extDirty {
			// The extended files follow the status record, written
			// once the events at hand are handled: a command or a
			// death arriving meanwhile is handled first, and the
			// files are written once for both.
			select {
			case <-chld:
				s.reap()
				continue
			case cmds := <-commands:
				s.commands(cmds)
				commands <- nil
				continue
			default:
			}
			s.writeInfo()
		}
		wake.arm(s.wakeAt())
		select {
		case <-chld:
			s.reap()
		case <-s.exits.C():
			s.reap()
		case pid := <-s.exited:
			if s.main != nil && !s.mainChild && s.main.Pid == pid {
				s.mainDied(nil)
				s.checkLeftovers()
			}
		case gen := <-s.readyC:
			if gen == s.generation && s.main != nil {
				s.becomeReady()
			}
		case m := <-s.notifyC:
			s.notified(m)
		case <-wake.t.C:
			wake.rang()
			s.expire()
		case <-s.needsC:
			s.needsChanged()
		case cmds := <-commands:
			s.commands(cmds)
			commands <- nil // hand the buffer back
		}
		if checkPhases {
			if e := s.phaseError(); e != "" {
				panic("supervise: " + s.dir + ": " + e)
			}
		}
	}
	if s.group != nil && s.main == nil && len(s.group.Procs()) == 0 {
		s.group.Remove()
	}
}

// readControl delivers the bytes written to supervise/svdir. The file is
// non-blocking, so reads wait in the runtime's poller and cost nothing while
// idle.
func (s *supervisor) readControl(out chan []byte) {
	buf := make([]byte, 512)
	for {
		n, err := s.control.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			s.warn("unable to read ", s.dir, "/", svdir.ControlPath, ": ", diag.Str(err))
			time.Sleep(time.Second)
			continue
		}
		select {
		case out <- buf[:n]:
		case <-s.quit:
			return
		}
		select {
		case <-out:
		case <-s.quit:
			return
		}
	}
}

// commands acts on the bytes of one read from supervise/svdir. The
// status file is written once for all of them: a burst of commands (a
// script's loop, or junk written into the FIFO) costs one write per read,
// not one per byte, so a command queued behind it is not kept waiting.
func (s *supervisor) commands(cmds []byte) {
	for _, c := range cmds {
		s.command(c)
	}
	if s.statusDirty {
		s.announce()
	}
}

// command acts on one control byte. Unknown bytes are ignored, as in 0.76.
func (s *supervisor) command(c byte) {
	if c == panicLetter && c != 0 {
		panic("injected panic")
	}
	switch c {
	case svdir.CmdDown:
		s.want = svdir.WantDown
		s.cancelRestart()
		if s.phase == phaseHeld {
			s.phase = phaseDown
		}
		if s.phase.running() {
			s.stopMain()
		} else if s.phase == phaseFollowing {
			s.abandonFollowing()
		} else {
			s.endDown()
		}
		s.statusDirty = true
	case svdir.CmdUp:
		s.want = svdir.WantUp
		s.restarts, s.deaths = 0, 0
		s.clearFailed()
		s.startNow()
	case svdir.CmdOnce:
		s.want = svdir.WantOnce
		s.restarts, s.deaths = 0, 0
		s.clearFailed()
		s.startNow()
	case svdir.CmdAlarm:
		s.signal(unix.SIGALRM)
	case svdir.CmdHangup:
		s.signal(unix.SIGHUP)
	case svdir.CmdKill:
		s.signal(unix.SIGKILL)
	case svdir.CmdTerm:
		s.signal(unix.SIGTERM)
		s.gotTerm = s.main != nil
	case svdir.CmdInterrupt:
		s.signal(unix.SIGINT)
	case svdir.CmdPause:
		s.paused = true
		s.statusDirty = true
		s.signal(unix.SIGSTOP)
	case svdir.CmdContinue:
		s.paused = false
		s.statusDirty = true
		s.signal(unix.SIGCONT)
	case svdir.CmdExit:
		s.exit = true
		s.statusDirty = true
		if s.phase == phaseDown || s.phase == phaseFinishing {
			s.endDown()
		}
	}
}

// stopMain sends the running service its down signal (down-signal, or
// TERM) and CONT, as svc -d does, and arms the kill timer.
func (s *supervisor) stopMain() {
	sig := s.downSignal()
	if s.phase == phaseUp {
		s.phase = phaseStopping
	}
	s.signal(sig)
	s.signal(unix.SIGCONT)
	s.gotTerm = sig == unix.SIGTERM
	s.paused = false
	s.armKill()
}

// signal sends sig to the service's process, if it is up, through its
// pidfd: a recycled pid is never signalled.
func (s *supervisor) signal(sig unix.Signal) {
	if s.main != nil {
		s.main.Signal(sig)
	}
}

// reap collects every exited child: run, and orphans of the service that
// were reparented to supervise.
func (s *supervisor) reap() {
	for {
		e, ok := s.nextExit()
		if !ok {
			break
		}
		pid, ws := e.pid, e.ws
		switch {
		case s.main != nil && s.mainChild && pid == s.main.Pid:
			s.mainDied(&ws)
		case s.finish != nil && pid == s.finish.Pid:
			s.finishDone(ws)
		case s.checkPid != 0 && pid == s.checkPid:
			s.checkDone(ws)
		}
	}
	s.checkLeftovers()
}

// mainDied handles the end of the service's process. ws is nil when it was
// not our child and its exit status is unknown.
func (s *supervisor) mainDied(ws *unix.WaitStatus) {
	wasRun, started := s.mainIsRun, s.main.Start
	s.main.Close()
	s.main = nil
	s.phase = phaseDown
	s.gotTerm = false
	s.stopReadiness()
	s.recordExit(ws)
	s.onceOK = s.want == svdir.WantOnce && s.exitCode == 0
	if wasRun && ws != nil && ws.Exited() && ws.ExitStatus() == 0 && s.want != svdir.WantDown && s.readConfig(filePidfile) != "" {
		// A daemon that puts itself in the background: wait for its
		// pid file before calling the service down.
		s.startFollowing(started)
		return
	}
	s.removeRecord()
	s.serviceDown()
}

// serviceDown publishes that the service is down, finishes a stop (the rest
// of the tree goes too), runs ./finish if there is one, and then schedules
// the restart.
func (s *supervisor) serviceDown() {
	s.stamp()
	s.diedAt = clock()
	s.died() // permafail or main may keep it down
	if s.want != svdir.WantUp || s.exit {
		s.endDown()
	} else {
		// What run left behind goes before the next run starts.
		s.endLeftovers()
		s.restartAt = s.nextStart()
	}
	if s.startFinish() {
		s.announce()
		return
	}
	s.announce()
	s.afterDown()
}

// afterDown schedules the automatic restart of a service that is down and
// wanted up.
func (s *supervisor) afterDown() {
	if s.want == svdir.WantUp && !s.exit && s.idle() {
		s.scheduleStart(s.restartAt)
	}
}

// startNow starts run for svc -u or -o: at once if nothing runs, or as
// soon as finish is done. The start announces the new wanted state with
// the new pid; otherwise it is announced once the commands at hand are
// done.
func (s *supervisor) startNow() {
	if s.idle() {
		s.start()
		return
	}
	if s.finish != nil {
		s.startAfterFinish = true
	}
	s.statusDirty = true
}

// idle reports whether nothing of the service runs or is about to: run is
// down, no pid file is awaited, finish is not running and no start waits
// for the previous run's leftovers.
func (s *supervisor) idle() bool {
	return s.phase == phaseDown
}

// scheduleStart starts run at the given time, or now if that has passed.
func (s *supervisor) scheduleStart(at time.Time) {
	d := at.Sub(clock())
	if d <= 0 {
		s.start()
		return
	}
	s.cancelRestart()
	s.restart.set(d)
	s.backoffUntil = at
	s.extDirty = true
}

func (s *supervisor) cancelRestart() {
	if s.restart.pending() {
		s.restart.stop()
		s.backoffUntil = time.Time{}
	}
}

// armKill schedules KILL for the whole tree after timeout-kill, if set.
func (s *supervisor) armKill() {
	if s.kill.pending() {
		return
	}
	if d := s.timeoutKill(); d > 0 {
		s.kill.set(d)
	}
}

func (s *supervisor) cancelKill() { s.kill.stop() }

// restartDue starts run when the automatic restart is due.
func (s *supervisor) restartDue() {
	s.backoffUntil = time.Time{}
	if s.idle() && s.want == svdir.WantUp && !s.exit {
		s.restarts++
		s.start()
	}
}

var runArgv = []string{"./run"}

// start forks and execs ./run with supervise's stdio and environment, in
// supervise's session and process group (and the service's cgroup).
func (s *supervisor) start() {
	s.cancelRestart()
	if s.holdStart() || s.holdForNeeds() {
		return
	}
	s.lastStart = clock()
	// Should supervise die before the new pid is recorded, the record
	// tells its successor to look for the run in the cgroup.
	s.writeStarting(proc.Now(), s.pgrp, s.sess)
	files, env := s.prepareReadiness()
	pid, pidfd, err := s.fork(files, env)
	s.startedReadiness(err == nil)
	if err != nil {
		if e := diag.Errno(err); e == unix.EAGAIN || e == unix.ENOMEM {
			// As 0.76, which announces svc -u before it tries to
			// fork: status shows the service wanted up and down.
			s.forkFailed(err)
			s.removeRecord()
			s.scheduleStart(clock().Add(forkRetryDelay))
			s.announce()
			return
		}
		// In 0.76 the forked child reports the failed exec and exits 111:
		// run was up for an instant. Say the same (startFailed) and retry
		// a second later.
		s.startFailed(err)
		s.removeRecord()
		s.stamp()
		s.announce()
		if s.want == svdir.WantUp && !s.exit {
			s.scheduleStart(s.lastStart.Add(restartDelay))
		}
		return
	}
	// The child is not reaped before we do it, so its pid cannot be
	// reused while we read its start time.
	id, _ := proc.Lookup(pid)
	id.Pid = pid
	var h *proc.Handle
	if pidfd >= 0 {
		h = proc.FromFD(id, pidfd)
	} else if h, err = proc.Open(id); err != nil {
		h = proc.FromFD(id, -1)
	}
	s.setMain(h, true)
	s.mainIsRun = true
	s.startSucceeded()
	s.startedNeeds()
	s.stamp()
	s.announce()
}

// runFiles are run's descriptors when no readiness fd is asked for.
var runFiles = []uintptr{0, 1, 2}

// startHelper starts one of the service's helper programs (./finish,
// ./check) in the service directory with supervise's stdio and
// environment. Helpers are not part of the service: they run outside its
// cgroup.
func (s *supervisor) startHelper(argv ...string) (int, error) {
	return s.forkExec(argv[0], argv, &syscall.ProcAttr{Dir: s.here, Env: os.Environ(), Files: s.stdio})
}

// fork starts ./run, in the service's cgroup if there is one. If starting
// into the cgroup fails where starting without it works, the cgroup is
// given up for good.
func (s *supervisor) fork(files []uintptr, env []string) (pid, pidfd int, err error) {
	try := func(useGroup bool) (int, int, error) {
		pidfd := -1
		sys := &syscall.SysProcAttr{PidFD: &pidfd}
		if useGroup {
			dir, err := s.group.Dir()
			if err != nil {
				return -1, -1, err
			}
			defer unix.Close(dir)
			sys.UseCgroupFD = true
			sys.CgroupFD = dir
		}
		pid, err := s.forkExec("./run", runArgv, &syscall.ProcAttr{
			Dir:   s.here,
			Env:   env,
			Files: files,
			Sys:   sys,
		})
		return pid, pidfd, err
	}
	if s.group == nil {
		return try(false)
	}
	pid, pidfd, err = try(true)
	if err == nil || s.reaper != nil {
		return // hosted, a service has its cgroup or does not start
	}
	if pid, pidfd, err2 := try(false); err2 == nil {
		s.warn("unable to start ", s.dir, "/run in cgroup ", s.group.Path, ": ", diag.Str(err), "; not using cgroups")
		s.group = nil
		return pid, pidfd, nil
	}
	return pid, pidfd, err
}

// setMain makes h the service's process and records it for a successor.
func (s *supervisor) setMain(h *proc.Handle, child bool) {
	s.main, s.mainChild, s.mainIsRun = h, child, false
	s.phase = phaseUp
	s.paused = false
	if err := s.writeRecord(h); err != nil {
		s.warn("unable to write ", s.dir, "/", recordFile, ": ", diag.Str(err))
	}
	if !child {
		s.watch(h)
	}
}

// watch reports on s.exited when a process that is not our child exits:
// its pidfd becomes readable, which the runtime's poller waits for.
func (s *supervisor) watch(h *proc.Handle) {
	fd, err := unix.FcntlInt(uintptr(h.Fd()), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	pid := h.Pid
	go func() {
		defer f.Close()
		if rc, err := f.SyscallConn(); err == nil {
			rc.Read(func(fd uintptr) bool {
				p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
				n, _ := unix.Poll(p, 0)
				return n > 0
			})
		}
		select {
		case s.exited <- pid:
		case <-s.quit:
		}
	}()
}

// stamp records now as the time of the last state change.
func (s *supervisor) stamp() { s.when = tai64.FromTime(clock()) }

// announce replaces supervise/status with the current state, through
// status.new and a rename as 0.76 does, so readers never see a torn record.
func (s *supervisor) announce() {
	s.statusDirty = false
	rec := svdir.Status{When: s.when, Pid: s.pid(), Paused: s.paused, Want: s.want}
	if err := svdir.WriteStatus(s.dirfd, rec); err != nil {
		s.warnReplace(err)
	}
	s.extDirty = true
}

// warnReplace warns of a failed svdir.Replace in 0.76's words: "unable to
// open DIR/supervise/spare: ...", "unable to write ...", "unable to rename
// DIR/supervise/spare to status: ...".
func (s *supervisor) warnReplace(err error) {
	var re *svdir.ReplaceError
	if !errors.As(err, &re) {
		s.warn("unable to write ", s.dir, "/", svdir.Dir, ": ", diag.Str(err))
		return
	}
	text := diag.Str(re.Err)
	if diag.Errno(re.Err) == 0 {
		text = re.Err.Error()
	}
	if re.Op == "rename" {
		s.warn("unable to rename ", s.dir, "/", re.Spare, " to ", path.Base(re.Name), ": ", text)
		return
	}
	s.warn("unable to ", re.Op, " ", s.dir, "/", re.Spare, ": ", text)
}
