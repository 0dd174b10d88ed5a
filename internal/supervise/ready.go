package supervise

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"svkit/internal/diag"
	"svkit/internal/proc"
	"svkit/pkg/svdir"
)

// Readiness sources, each a file in the service directory. A service with
// none of them is ready as soon as it is up; a service with one is ready
// only once that source says so. A source that cannot be set up (an
// unparsable notification-fd, a notify socket that cannot be bound, a check
// that cannot be run) leaves the service up but not ready, with a warning:
// readiness is never granted by a failure.
const (
	fileNotificationFD = "notification-fd" // s6: fd number on which the daemon writes a newline when ready
	fileNotifySocket   = "notify-socket"   // systemd: sd_notify datagrams, READY=1 and STATUS=
	fileCheck          = "check"           // runit: a script polled until it exits 0
)

// notifyNameFile records the name of the notify socket, so that a
// successor adopting the service, which keeps the name in its environment,
// binds the same one again. Only root can read it.
const notifyNameFile = svdir.NotifyNamePath

// notifyPrefix starts every notify socket name; 32 random hex digits follow.
const notifyPrefix = "@svkit-notify-"

// checkInterval is how often ./check runs until it succeeds.
const checkInterval = 200 * time.Millisecond

// notifyMsg is one sd_notify datagram with its sender: the pid from its
// credentials, and a pidfd of the sender where the kernel passes one
// (Linux 6.5 and later), else -1. fds are descriptors the sender passed
// along, closed once the datagram is handled: sd_notify_barrier (and so
// systemd-notify) waits for that.
type notifyMsg struct {
	pid   int
	pidfd int
	fds   []int
	data  []byte
}

// readiness is what supervise tracks of the service's readiness.
type readiness struct {
	ready       bool
	readySince  time.Time
	statusText  string
	generation  int  // counts starts, so late news of an earlier run is ignored
	waiting     bool // the run has a readiness source: ready only once it says so
	useCheck    bool // that source is ./check
	checkWarned bool // a failure to start ./check was reported for this run

	readyC     chan int       // notification-fd: the generation whose run said ready
	notifyPipe *os.File       // read end of the notification-fd pipe
	notifyW    int            // its write end, held until run has started; -1 if none
	notifyC    chan notifyMsg // sd_notify datagrams
	notifyName string         // NOTIFY_SOCKET value, "" when there is no socket
	notifyPeer bool           // datagrams carry the sender's pidfd
	notifySock *os.File       // the socket, nil when there is none
	check      timer          // next ./check run
	checkPid   int            // running ./check, 0 if none
}

// prepareReadiness sets up what the next run needs to report readiness:
// the descriptors and environment to start it with.
func (s *supervisor) prepareReadiness() ([]uintptr, []string) {
	s.generation++
	s.ready, s.readySince, s.statusText = false, time.Time{}, ""
	s.waiting, s.useCheck, s.checkWarned = false, false, false
	env := os.Environ()
	files := s.stdio
	if s.exists(fileNotifySocket) {
		s.waiting = true
		if s.notifyName == "" {
			s.openNotifySocket(newNotifyName(), true)
		}
		env = withoutVar(env, "NOTIFY_SOCKET")
		if s.notifyName != "" {
			env = append(env, "NOTIFY_SOCKET="+s.notifyName)
		}
	}
	if s.exists(fileNotificationFD) {
		s.waiting = true
		files = s.notificationFD()
	}
	if !s.waiting && s.exists(fileCheck) {
		s.waiting, s.useCheck = true, true
	}
	s.protocol = s.waiting
	return files, env
}

// notificationFD creates the pipe whose write end run gets as the fd
// named by notification-fd, and returns run's descriptors.
func (s *supervisor) notificationFD() []uintptr {
	v := s.readConfig(fileNotificationFD)
	n, err := strconv.Atoi(v)
	if err != nil || n < 3 || n > 1023 {
		s.warn("unable to parse ", s.dir, "/", fileNotificationFD, ": ", v)
		return s.stdio
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		s.warn("unable to create pipe for ", s.dir, "/", fileNotificationFD, ": ", diag.Str(err))
		return s.stdio
	}
	files := make([]uintptr, n+1)
	copy(files, s.stdio)
	for i := 3; i < n; i++ {
		files[i] = ^uintptr(0) // closed in run
	}
	files[n] = uintptr(p[1])
	unix.SetNonblock(p[0], true)
	s.notifyPipe = os.NewFile(uintptr(p[0]), "notification-fd")
	s.notifyW = p[1]
	go s.readNotification(s.notifyPipe, s.generation)
	return files
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
	case s.useCheck:
		s.scheduleCheck(0)
	case !s.waiting:
		s.ready, s.readySince = true, clock()
	}
}

// setupReadiness takes over the readiness of a service adopted from a
// killed predecessor: what supervise/info recorded of this process, and
// the notify socket, bound again under the recorded name that the service
// has in its environment. If the name cannot be bound (a squatter took it
// meanwhile), the service keeps the readiness recorded, and its next run
// gets a socket of a new name.
func (s *supervisor) setupReadiness() {
	if !s.phase.running() && s.phase != phaseFollowing {
		return
	}
	if s.exists(fileNotifySocket) {
		if name, ok := s.readNotifyName(); ok {
			s.openNotifySocket(name, false)
		}
	}
	if s.main == nil {
		return
	}
	s.protocol = s.exists(fileNotifySocket) || s.exists(fileNotificationFD) || s.exists(fileCheck)
	if in := svdir.ReadInfo(s.dirfd); in != nil && in.Pid == s.main.Pid && in.State == svdir.StateUp {
		s.statusText = in.StatusText
		if in.Ready {
			// Recorded readiness survives the supervise: the
			// services that need this one keep it.
			s.ready, s.readySince, s.protocol = true, time.Unix(0, in.ReadySince), in.Protocol
			return
		}
	}
	switch {
	case s.exists(fileNotifySocket), s.exists(fileNotificationFD):
		// The notification-fd pipe died with the predecessor: the
		// service is ready again after its next start.
		s.waiting = true
	case s.exists(fileCheck):
		s.waiting, s.useCheck = true, true
		s.scheduleCheck(0)
	default:
		s.ready, s.readySince = true, clock()
	}
}

// readNotification waits for a newline on the notification pipe.
func (s *supervisor) readNotification(f *os.File, gen int) {
	buf := make([]byte, 64)
	for {
		n, err := f.Read(buf)
		if n > 0 && bytes.IndexByte(buf[:n], '\n') >= 0 {
			select {
			case s.readyC <- gen:
			case <-s.quit:
			}
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
	s.ready, s.readySince = true, clock()
	s.extDirty = true
}

// stopReadiness drops what watched the last run's readiness.
func (s *supervisor) stopReadiness() {
	s.ready, s.readySince = false, time.Time{}
	s.notifyPipe = nil // its reader closes it
	s.check.stop()
}

// newNotifyName returns a notify socket name nobody can guess, so that
// nobody can bind it first. (Once bound, /proc/net/unix shows it to
// everybody: the senders' credentials are what keeps forgeries out.)
func newNotifyName() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return ""
	}
	return notifyPrefix + hex.EncodeToString(b[:])
}

// validNotifyName reports whether name is one newNotifyName makes: an
// abstract name, never a path to create a socket at.
func validNotifyName(name string) bool {
	h := strings.TrimPrefix(name, notifyPrefix)
	if len(h) != 32 || len(name) != len(notifyPrefix)+32 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil && strings.ToLower(h) == h
}

// readNotifyName returns the recorded notify socket name, if the record is
// a regular file of supervise's user that nobody else may read.
func (s *supervisor) readNotifyName() (string, bool) {
	fd, err := unix.Openat(s.dirfd, notifyNameFile, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return "", false
	}
	f := os.NewFile(uintptr(fd), notifyNameFile)
	defer f.Close()
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || int(st.Uid) != os.Geteuid() || st.Mode&077 != 0 {
		return "", false
	}
	b := make([]byte, 128)
	n, _ := f.Read(b)
	name := strings.TrimSuffix(string(b[:n]), "\n")
	return name, validNotifyName(name)
}

// openNotifySocket binds the sd_notify socket under name, in the abstract
// namespace (no file to clean up, and reachable by a daemon running as
// any user), and asks for each sender's credentials and pidfd so that
// only the service's own processes are believed. A new name is recorded
// for a successor. On failure it warns and leaves notifyName empty: the
// service is then not ready until a later run can have a socket.
func (s *supervisor) openNotifySocket(name string, record bool) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err == nil {
		err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	}
	if err == nil && name == "" {
		err = unix.EIO // no randomness
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
	// Older kernels pass no pidfd (ENOPROTOOPT): the pid alone is
	// checked then.
	s.notifyPeer = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSPIDFD, 1) == nil
	if record {
		if err := svdir.Replace(s.dirfd, notifyNameFile, []byte(name+"\n"), 0600); err != nil {
			s.warnReplace(err)
		}
	}
	s.notifyName = name
	s.notifySock = os.NewFile(uintptr(fd), "notify-socket")
	go s.readNotify(s.notifySock)
}

// readNotify delivers sd_notify datagrams with their sender.
func (s *supervisor) readNotify(f *os.File) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred)+unix.CmsgSpace(4)+unix.CmsgSpace(4*16))
	for {
		var n, oobn int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_CMSG_CLOEXEC)
			return rerr != unix.EAGAIN
		})
		if err != nil {
			return
		}
		if rerr != nil {
			continue
		}
		m := sender(oob[:oobn])
		m.data = append([]byte(nil), buf[:n]...)
		select {
		case s.notifyC <- m:
		case <-s.quit:
			return
		}
	}
}

// sender returns what a datagram's control messages say of its sender.
func sender(oob []byte) notifyMsg {
	m := notifyMsg{pidfd: -1}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return m
	}
	for _, c := range msgs {
		if c.Header.Level != unix.SOL_SOCKET {
			continue
		}
		switch c.Header.Type {
		case unix.SCM_CREDENTIALS:
			if cred, err := unix.ParseUnixCredentials(&c); err == nil {
				m.pid = int(cred.Pid)
			}
		case unix.SCM_PIDFD:
			if len(c.Data) >= 4 && m.pidfd < 0 {
				m.pidfd = int(int32(binary.NativeEndian.Uint32(c.Data)))
			}
		case unix.SCM_RIGHTS:
			if fds, err := unix.ParseUnixRights(&c); err == nil {
				m.fds = append(m.fds, fds...)
			}
		}
	}
	return m
}

// close closes the descriptors that came with the datagram.
func (m notifyMsg) close() {
	if m.pidfd >= 0 {
		unix.Close(m.pidfd)
	}
	for _, fd := range m.fds {
		unix.Close(fd)
	}
}

// notified handles an sd_notify datagram: READY=1 and STATUS= are taken
// from the service's own processes only.
func (s *supervisor) notified(m notifyMsg) {
	defer m.close()
	if s.main == nil || !s.believe(m) {
		return
	}
	changed := false
	for _, line := range strings.Split(string(m.data), "\n") {
		switch {
		case line == "READY=1":
			if !s.ready {
				s.ready, s.readySince = true, clock()
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

// believe reports whether a datagram comes from the service's own
// processes. The pid in the credentials is the kernel's, not the
// sender's word, but it may be stale: the sender may have exited and its
// pid been taken by another process. Where the kernel passes the sender's
// pidfd, the sender must still exist (running or not yet reaped) after its
// pid was checked, so the pid checked was its own; a sender already
// reaped is ignored. Without a pidfd (kernels before 6.5), the pid alone
// is checked.
func (s *supervisor) believe(m notifyMsg) bool {
	if m.pid <= 0 || (s.notifyPeer && m.pidfd < 0) {
		return false
	}
	if !s.fromService(m.pid) {
		return false
	}
	return m.pidfd < 0 || unix.PidfdSendSignal(m.pidfd, 0, nil, 0) == nil
}

// fromService reports whether pid is the service's process, a member of
// its cgroup, or a descendant of it or of supervise (whose children are
// run, check, finish and the service's orphans).
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
	s.check.set(d)
}

// runCheck starts ./check, unless the service is down or already ready.
func (s *supervisor) runCheck() {
	if s.main == nil || s.ready || s.checkPid != 0 {
		return
	}
	pid, err := s.startHelper("./check")
	if err != nil {
		// Said once a run: it is tried again every interval.
		if !s.checkWarned {
			s.warn("unable to start ", s.dir, "/check: ", diag.Str(err))
			s.checkWarned = true
		}
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

// exists reports whether the service directory has an entry name (of any
// kind: a source that is there but broken must not count as absent).
func (s *supervisor) exists(name string) bool {
	var st unix.Stat_t
	return unix.Fstatat(s.dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil
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

// isExecutable reports whether name is an executable regular file.
func (s *supervisor) isExecutable(name string) bool {
	var st unix.Stat_t
	return unix.Fstatat(s.dirfd, name, &st, 0) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Mode&0111 != 0
}
