// Package supervise is the supervisor of one service directory, daemontools
// 0.76's supervise: it starts ./run, restarts it when it dies, obeys the
// one-letter commands written to supervise/control and publishes the 18-byte
// supervise/status record that svstat and svok read.
//
// It differs from 0.76 in one observable way: 0.76 sleeps a second after
// every start and reads no command meanwhile, so `svc -d; svc -u` takes a
// second. This supervisor acts on every command at once and applies the
// once-a-second limit only to automatic restarts.
package supervise

import (
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"svkit/pkg/diag"
	"svkit/pkg/status"
	"svkit/pkg/tai64"
)

const prog = "supervise"

// Delays between starts.
const (
	restartDelay   = time.Second      // at most one automatic start a second
	forkRetryDelay = 60 * time.Second // after fork itself failed, as 0.76
)

// Main runs supervise with its arguments (without the program name) and
// returns the exit code. It changes the process's working directory and
// never returns while the service is supervised, so it is meant to own the
// process; tests run the built binary.
func Main(args []string, stderr io.Writer) int {
	if len(args) != 1 {
		return diag.Usage(stderr, prog, "supervise dir")
	}
	s := &supervisor{dir: args[0], stderr: stderr, want: status.WantUp}
	if code := s.setup(); code != 0 {
		return code
	}
	s.loop()
	s.announce()
	return 0
}

type supervisor struct {
	dir    string
	stderr io.Writer

	pid    int  // pid of run, 0 when down
	paused bool // meaningful only while pid != 0
	want   byte // status.WantUp, WantDown or WantOnce
	exit   bool // svc -x: exit once run is down
	when   tai64.Label

	control   *os.File // read end of supervise/control
	lastStart time.Time
	restart   *time.Timer // pending automatic start, or nil
	restartC  <-chan time.Time
}

// setup performs 0.76's start-up sequence. It returns 0 or an exit code.
func (s *supervisor) setup() int {
	if err := os.Chdir(s.dir); err != nil {
		return diag.Fatal(s.stderr, prog, diag.ExitTemp, "unable to chdir to ", s.dir, ": ", diag.Str(err))
	}
	if _, err := os.Stat("down"); err == nil {
		s.want = status.WantDown
	} else if !errors.Is(err, os.ErrNotExist) {
		return diag.Fatal(s.stderr, prog, diag.ExitTemp, "unable to stat ", s.dir, "/down: ", diag.Str(err))
	}
	makeSuperviseDir()

	lock, err := unix.Open("supervise/lock", unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0600)
	if err == nil {
		err = unix.Flock(lock, unix.LOCK_EX|unix.LOCK_NB)
	}
	if err != nil {
		return diag.Fatal(s.stderr, prog, diag.ExitTemp, "unable to acquire ", s.dir, "/supervise/lock: ", diag.Str(err))
	}
	// The lock fd stays open for the life of the process; it is
	// close-on-exec, so run does not hold it.

	unix.Mkfifo("supervise/control", 0600)
	rfd, err := openFIFO("supervise/control", unix.O_RDONLY)
	if err != nil {
		return diag.Fatal(s.stderr, prog, diag.ExitTemp, "unable to read ", s.dir, "/supervise/control: ", fifoErr(err))
	}
	// Holding a write end open means reads never see end of file.
	if _, err := openFIFO("supervise/control", unix.O_WRONLY); err != nil {
		return diag.Fatal(s.stderr, prog, diag.ExitTemp, "unable to write ", s.dir, "/supervise/control: ", fifoErr(err))
	}
	s.control = os.NewFile(uintptr(rfd), "supervise/control")

	s.stamp()
	s.announce()

	unix.Mkfifo("supervise/ok", 0600)
	if _, err := openFIFO("supervise/ok", unix.O_RDONLY); err != nil {
		return diag.Fatal(s.stderr, prog, diag.ExitTemp, "unable to read ", s.dir, "/supervise/ok: ", fifoErr(err))
	}
	return 0
}

// makeSuperviseDir creates supervise/ (mode 0700). Like Debian's 0.76, a
// dangling symlink named supervise gets its target directory created, so
// supervise/ can live on a tmpfs such as /run.
func makeSuperviseDir() {
	if err := unix.Mkdir("supervise", 0700); err == nil || !errors.Is(err, unix.EEXIST) {
		return
	}
	target, err := os.Readlink("supervise")
	if err != nil {
		return
	}
	if _, err := os.Stat("supervise"); errors.Is(err, os.ErrNotExist) {
		unix.Mkdir(target, 0700)
	}
}

// errNotFIFO reports a control or ok file that is not a named pipe.
var errNotFIFO = errors.New("not a named pipe")

func fifoErr(err error) string {
	if err == errNotFIFO {
		return err.Error()
	}
	return diag.Str(err)
}

// openFIFO opens a FIFO non-blocking without following a symlink and checks
// that what it opened is a FIFO.
func openFIFO(path string, mode int) (int, error) {
	fd, err := unix.Open(path, mode|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFIFO {
		unix.Close(fd)
		return -1, errNotFIFO
	}
	return fd, nil
}

// loop supervises until svc -x has been received and run is down.
func (s *supervisor) loop() {
	chld := make(chan os.Signal, 1)
	signal.Notify(chld, syscall.SIGCHLD)
	defer signal.Stop(chld)

	commands := make(chan []byte)
	go s.readControl(commands)

	if s.want != status.WantDown {
		s.start()
	}
	for !(s.exit && s.pid == 0) {
		select {
		case <-chld:
			s.reap()
		case <-s.restartC:
			s.restart, s.restartC = nil, nil
			if s.pid == 0 && s.want == status.WantUp && !s.exit {
				s.start()
			}
		case cmds := <-commands:
			for _, c := range cmds {
				s.command(c)
				if s.exit && s.pid == 0 {
					break
				}
			}
			commands <- nil // hand the buffer back
		}
	}
}

// readControl delivers the bytes written to supervise/control. The file is
// non-blocking, so reads wait in the runtime's poller and cost nothing while
// idle.
func (s *supervisor) readControl(out chan []byte) {
	buf := make([]byte, 64)
	for {
		n, err := s.control.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			diag.Warn(s.stderr, prog, "unable to read ", s.dir, "/supervise/control: ", diag.Str(err))
			time.Sleep(time.Second)
			continue
		}
		out <- buf[:n]
		<-out
	}
}

// command acts on one control byte. Unknown bytes are ignored, as in 0.76.
func (s *supervisor) command(c byte) {
	switch c {
	case 'd':
		s.want = status.WantDown
		if s.pid != 0 {
			s.kill(unix.SIGTERM)
			s.kill(unix.SIGCONT)
			s.paused = false
		}
		s.announce()
	case 'u':
		s.want = status.WantUp
		s.announce()
		if s.pid == 0 {
			s.start()
		}
	case 'o':
		s.want = status.WantOnce
		s.announce()
		if s.pid == 0 {
			s.start()
		}
	case 'a':
		s.kill(unix.SIGALRM)
	case 'h':
		s.kill(unix.SIGHUP)
	case 'k':
		s.kill(unix.SIGKILL)
	case 't':
		s.kill(unix.SIGTERM)
	case 'i':
		s.kill(unix.SIGINT)
	case 'p':
		s.paused = true
		s.announce()
		s.kill(unix.SIGSTOP)
	case 'c':
		s.paused = false
		s.announce()
		s.kill(unix.SIGCONT)
	case 'x':
		s.exit = true
		s.announce()
	}
}

// kill sends sig to run, if it is up.
func (s *supervisor) kill(sig unix.Signal) {
	if s.pid != 0 {
		unix.Kill(s.pid, sig)
	}
}

// reap collects every exited child; supervise may inherit children that are
// not run (for instance after an exec into supervise), and reaps them too.
func (s *supervisor) reap() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
		if pid == s.pid {
			s.pid = 0
			s.stamp()
			s.announce()
			if s.want == status.WantUp && !s.exit {
				s.scheduleStart(s.lastStart.Add(restartDelay))
			}
		}
	}
}

// scheduleStart starts run at the given time, or now if that has passed.
func (s *supervisor) scheduleStart(at time.Time) {
	d := time.Until(at)
	if d <= 0 {
		s.start()
		return
	}
	s.cancelRestart()
	s.restart = time.NewTimer(d)
	s.restartC = s.restart.C
}

func (s *supervisor) cancelRestart() {
	if s.restart != nil {
		s.restart.Stop()
		s.restart, s.restartC = nil, nil
	}
}

var runArgv = []string{"./run"}

// start forks and execs ./run with supervise's stdio and environment, in
// supervise's session and process group.
func (s *supervisor) start() {
	s.cancelRestart()
	s.lastStart = time.Now()
	pid, err := syscall.ForkExec("./run", runArgv, &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
	})
	if err != nil {
		if e := diag.Errno(err); e == unix.EAGAIN || e == unix.ENOMEM {
			diag.Warn(s.stderr, prog, "unable to fork for ", s.dir, ", sleeping 60 seconds: ", diag.Str(err))
			s.scheduleStart(time.Now().Add(forkRetryDelay))
			return
		}
		// In 0.76 the forked child reports the failed exec and exits 111:
		// run was up for an instant. Say the same and retry a second later.
		diag.Fatal(s.stderr, prog, diag.ExitTemp, "unable to start ", s.dir, "/run: ", diag.Str(err))
		s.stamp()
		s.announce()
		if s.want == status.WantUp && !s.exit {
			s.scheduleStart(s.lastStart.Add(restartDelay))
		}
		return
	}
	s.paused = false
	s.pid = pid
	s.stamp()
	s.announce()
}

// stamp records now as the time of the last state change.
func (s *supervisor) stamp() { s.when = tai64.FromTime(time.Now()) }

// announce replaces supervise/status with the current state, through
// status.new and a rename as 0.76 does, so readers never see a torn record.
func (s *supervisor) announce() {
	rec := status.Record{When: s.when, Pid: s.pid, Paused: s.paused, Want: s.want}
	b := rec.Encode()
	fd, err := unix.Open("supervise/status.new", unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0644)
	if err != nil {
		diag.Warn(s.stderr, prog, "unable to open ", s.dir, "/supervise/status.new: ", diag.Str(err))
		return
	}
	n, err := unix.Write(fd, b[:])
	unix.Close(fd)
	if err != nil {
		diag.Warn(s.stderr, prog, "unable to write ", s.dir, "/supervise/status.new: ", diag.Str(err))
		return
	}
	if n < len(b) {
		diag.Warn(s.stderr, prog, "unable to write ", s.dir, "/supervise/status.new: partial write")
		return
	}
	if err := unix.Rename("supervise/status.new", "supervise/status"); err != nil {
		diag.Warn(s.stderr, prog, "unable to rename ", s.dir, "/supervise/status.new to status: ", diag.Str(err))
	}
}
