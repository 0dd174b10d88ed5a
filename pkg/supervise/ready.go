package supervise

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"svkit/pkg/diag"
	"svkit/pkg/proc"
)

// Readiness sources, each a file in the service directory. A service with
// none of them is ready as soon as it is up.
const (
	fileNotificationFD = "notification-fd" // s6: fd number on which the daemon writes a newline when ready
	fileNotifySocket   = "notify-socket"   // systemd: sd_notify datagrams, READY=1 and STATUS=
	fileCheck          = "check"           // runit: a script polled until it exits 0
)

// checkInterval is how often ./check runs until it succeeds.
const checkInterval = 200 * time.Millisecond

// notifyMsg is one sd_notify datagram with its sender.
type notifyMsg struct {
	pid  int
	data []byte
}

// readiness is what supervise tracks of the service's readiness.
type readiness struct {
	ready      bool
	readySince time.Time
	statusText string
	generation int // counts starts, so late news of an earlier run is ignored

	readyC     chan int       // notification-fd: the generation whose run said ready
	notifyPipe *os.File       // read end of the notification-fd pipe
	notifyW    int            // its write end, held until run has started; -1 if none
	notifyC    chan notifyMsg // sd_notify datagrams
	notifyName string         // NOTIFY_SOCKET value, "" when there is no socket
	check      *time.Timer    // next ./check run
	checkC     <-chan time.Time
	checkPid   int // running ./check, 0 if none
}

// prepareReadiness sets up what the next run needs to report readiness:
// the descriptors and environment to start it with.
func (s *supervisor) prepareReadiness() ([]uintptr, []string) {
	s.generation++
	s.ready, s.readySince = false, time.Time{}
	env := os.Environ()
	files := runFiles
	if s.notifyName != "" {
		env = append(withoutVar(env, "NOTIFY_SOCKET"), "NOTIFY_SOCKET="+s.notifyName)
	}
	if v := readConfig(fileNotificationFD); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 3 || n > 1023 {
			s.warn("unable to parse ", s.dir, "/", fileNotificationFD, ": ", v)
			return files, env
		}
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			s.warn("unable to create pipe for ", s.dir, "/", fileNotificationFD, ": ", diag.Str(err))
			return files, env
		}
		files = make([]uintptr, n+1)
		copy(files, runFiles)
		for i := 3; i < n; i++ {
			files[i] = ^uintptr(0) // closed in run
		}
		files[n] = uintptr(p[1])
		unix.SetNonblock(p[0], true)
		s.notifyPipe = os.NewFile(uintptr(p[0]), "notification-fd")
		s.notifyW = p[1]
		go s.readNotification(s.notifyPipe, s.generation)
	}
	return files, env
}

// startedReadiness finishes the set-up after run was started (or failed
// to start): the parent's copy of the pipe's write end is closed by the
// reader; without any source, the service is ready at once.
func (s *supervisor) startedReadiness(started bool) {
	if s.notifyW >= 0 {
		// Only run holds the write end now: the reader sees end of
		// file once run and its children have closed it.
		unix.Close(s.notifyW)
		s.notifyW = -1
	}
	if !started {
		s.stopReadiness()
		return
	}
	switch {
	case s.notifyPipe != nil, s.notifyName != "":
	case isExecutable(fileCheck):
		s.scheduleCheck(0)
	default:
		s.ready, s.readySince = true, time.Now()
	}
}

// readNotification waits for a newline on the notification pipe.
func (s *supervisor) readNotification(f *os.File, gen int) {
	buf := make([]byte, 64)
	for {
		n, err := f.Read(buf)
		if n > 0 && bytes.IndexByte(buf[:n], '\n') >= 0 {
			s.readyC <- gen
			break
		}
		if err != nil {
			break
		}
	}
	f.Close()
}

// becomeReady marks the service ready.
func (s *supervisor) becomeReady() {
	if s.ready {
		return
	}
	s.ready, s.readySince = true, time.Now()
	s.extDirty = true
}

// stopReadiness drops what watched the last run's readiness.
func (s *supervisor) stopReadiness() {
	s.ready, s.readySince = false, time.Time{}
	s.notifyPipe = nil // its reader closes it
	if s.check != nil {
		s.check.Stop()
		s.check, s.checkC = nil, nil
	}
}

// openNotifySocket creates the sd_notify socket if the service asks for
// one. It lives in the abstract namespace (no file to clean up, no path
// length limit), named after the service directory's identity, and passes
// the sender's credentials so that only the service's own processes are
// believed.
func (s *supervisor) openNotifySocket() {
	if _, err := os.Lstat(fileNotifySocket); err != nil {
		return
	}
	var st unix.Stat_t
	if unix.Stat(".", &st) != nil {
		return
	}
	name := "@svkit-notify-" + strconv.FormatUint(st.Dev, 16) + "-" + strconv.FormatUint(st.Ino, 16)
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err == nil {
		err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	}
	if err == nil {
		err = unix.Bind(fd, &unix.SockaddrUnix{Name: name})
	}
	if err != nil {
		s.warn("unable to create notify socket for ", s.dir, ": ", diag.Str(err))
		if fd >= 0 {
			unix.Close(fd)
		}
		return
	}
	s.notifyName = name
	go s.readNotify(os.NewFile(uintptr(fd), "notify-socket"))
}

// readNotify delivers sd_notify datagrams with their sender's pid.
func (s *supervisor) readNotify(f *os.File) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred))
	for {
		var n, oobn int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf, oob, 0)
			return rerr != unix.EAGAIN
		})
		if err != nil {
			return
		}
		if rerr != nil {
			continue
		}
		pid := 0
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				if cred, err := unix.ParseUnixCredentials(&m); err == nil {
					pid = int(cred.Pid)
				}
			}
		}
		s.notifyC <- notifyMsg{pid: pid, data: append([]byte(nil), buf[:n]...)}
	}
}

// notified handles an sd_notify datagram: READY=1 and STATUS= are taken
// from the service's own processes only.
func (s *supervisor) notified(m notifyMsg) {
	if s.main == nil || m.pid <= 0 || !s.fromService(m.pid) {
		return
	}
	changed := false
	for _, line := range strings.Split(string(m.data), "\n") {
		switch {
		case line == "READY=1":
			if !s.ready {
				s.ready, s.readySince = true, time.Now()
				changed = true
			}
		case strings.HasPrefix(line, "STATUS="):
			s.statusText = strings.TrimPrefix(line, "STATUS=")
			changed = true
		}
	}
	if changed {
		s.extDirty = true
	}
}

// fromService reports whether pid is the service's process, a member of
// its cgroup, or a descendant of it or of supervise. A sender that has
// exited but was not yet reaped still counts; one already reaped cannot be
// checked and is ignored (the same race systemd has with systemd-notify:
// a daemon that calls sd_notify itself is always believed).
func (s *supervisor) fromService(pid int) bool {
	if pid == s.main.Pid || (s.group != nil && s.group.Contains(pid)) {
		return true
	}
	for i := 0; i < 64 && pid > 1; i++ {
		in, err := proc.Stat(pid)
		if err != nil {
			return false
		}
		if in.PPid == s.main.Pid || in.PPid == s.self {
			return true
		}
		pid = in.PPid
	}
	return false
}

// scheduleCheck runs ./check after d.
func (s *supervisor) scheduleCheck(d time.Duration) {
	if s.check != nil {
		s.check.Stop()
	}
	s.check = time.NewTimer(d)
	s.checkC = s.check.C
}

// runCheck starts ./check, unless the service is down or already ready.
func (s *supervisor) runCheck() {
	s.check, s.checkC = nil, nil
	if s.main == nil || s.ready || s.checkPid != 0 {
		return
	}
	pid, err := syscall.ForkExec("./check", []string{"./check"}, &syscall.ProcAttr{Env: os.Environ(), Files: runFiles})
	if err != nil {
		s.warn("unable to start ", s.dir, "/check: ", diag.Str(err))
		s.scheduleCheck(checkInterval)
		return
	}
	s.checkPid = pid
}

// checkDone handles the end of ./check: exit 0 means ready, anything else
// means try again a little later.
func (s *supervisor) checkDone(ws unix.WaitStatus) {
	s.checkPid = 0
	if s.main == nil {
		return
	}
	if ws.Exited() && ws.ExitStatus() == 0 {
		s.becomeReady()
		return
	}
	s.scheduleCheck(checkInterval)
}

// isExecutable reports whether name is an executable regular file.
func isExecutable(name string) bool {
	var st unix.Stat_t
	return unix.Stat(name, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Mode&0111 != 0
}

// withoutVar returns env without the variable name.
func withoutVar(env []string, name string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}
