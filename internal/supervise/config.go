package supervise

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Optional per-service files, read when they are needed so that a change
// takes effect without restarting supervise. They use s6's names where the
// idea is the same. With none present, supervise behaves as 0.76's.
const (
	fileDownSignal  = "down-signal"  // signal name or number svc -d sends instead of TERM
	fileTimeoutKill = "timeout-kill" // ms after svc -d until the service's tree gets KILL
	filePidfile     = "pidfile"      // path of the pid file a self-backgrounding daemon writes
	fileNoCgroup    = "no-cgroup"    // present: track the tree by subreaper only, no cgroup
)

// maxConfigSize bounds what is read of a per-service file.
const maxConfigSize = 4096

// readConfig returns the first line of a per-service file, trimmed, or ""
// when it is absent or unreadable. Files are opened without following a
// planted symlink only at the last component, like every other file in the
// service directory.
func (s *supervisor) readConfig(name string) string {
	fd, err := unix.Openat(s.dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return ""
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return ""
	}
	b := make([]byte, maxConfigSize)
	n, _ := f.Read(b)
	b = b[:n]
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return strings.TrimSpace(string(b))
}

var signalNames = map[string]unix.Signal{
	"HUP": unix.SIGHUP, "INT": unix.SIGINT, "QUIT": unix.SIGQUIT, "KILL": unix.SIGKILL,
	"USR1": unix.SIGUSR1, "USR2": unix.SIGUSR2, "ALRM": unix.SIGALRM, "TERM": unix.SIGTERM,
	"CONT": unix.SIGCONT, "STOP": unix.SIGSTOP, "WINCH": unix.SIGWINCH, "ABRT": unix.SIGABRT,
	"PWR": unix.SIGPWR,
}

// parseSignal accepts "TERM", "SIGTERM" or a number.
func parseSignal(s string) (unix.Signal, bool) {
	if n, err := strconv.Atoi(s); err == nil {
		if n > 0 && n < 65 {
			return unix.Signal(n), true
		}
		return 0, false
	}
	sig, ok := signalNames[strings.TrimPrefix(strings.ToUpper(s), "SIG")]
	return sig, ok
}

// downSignal is the signal svc -d sends: TERM unless down-signal names
// another.
func (s *supervisor) downSignal() unix.Signal {
	v := s.readConfig(fileDownSignal)
	if v == "" {
		return unix.SIGTERM
	}
	sig, ok := parseSignal(v)
	if !ok {
		s.warn("unable to parse ", s.dir, "/", fileDownSignal, ": ", v, "; using TERM")
		return unix.SIGTERM
	}
	return sig
}

// timeoutKill is how long a stopping service may take before its whole
// tree gets KILL; 0 means never.
func (s *supervisor) timeoutKill() time.Duration {
	v := s.readConfig(fileTimeoutKill)
	if v == "" {
		return 0
	}
	ms, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		s.warn("unable to parse ", s.dir, "/", fileTimeoutKill, ": ", v)
		return 0
	}
	return time.Duration(ms) * time.Millisecond
}
