// Package control is the client side of daemontools' control protocol: the
// command letters written to DIR/supervise/control (the same bytes that svc
// takes as options), their de-duplication, and safe ways to open the two
// FIFOs a running supervise holds open, supervise/control and supervise/ok.
//
// The opens never follow a symbolic link in the last component and refuse
// anything that is not a FIFO, so that svc, svstat and svok run as root in a
// directory others can write to cannot be made to write into (or open) a
// planted file. A symlinked supervise/ directory is still followed: Debian's
// supervise supports it.
package control

import (
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"svkit/pkg/diag"
)

// The command bytes of supervise/control. Each byte is one command; supervise
// ignores any other byte.
const (
	Up        = 'u' // want up; start run if it is down
	Down      = 'd' // want down; TERM then CONT if up
	Once      = 'o' // want once: start if down, never restart
	Exit      = 'x' // exit once run is down
	Pause     = 'p' // STOP
	Continue  = 'c' // CONT
	Hangup    = 'h' // HUP
	Alarm     = 'a' // ALRM
	Interrupt = 'i' // INT
	Term      = 't' // TERM
	Kill      = 'k' // KILL
)

// Letters are the commands of daemontools 0.76, in the order of svc's option
// string.
const Letters = "udopchaitkx"

// MaxLetters is the most command bytes svc sends in one write.
const MaxLetters = 20

// Paths of the FIFOs relative to a service directory.
const (
	ControlPath = "supervise/control"
	OKPath      = "supervise/ok"
	// LogPipePath is the FIFO that joins a service to its logger
	// (DIR/log): svscan opens it instead of creating an anonymous pipe,
	// so that an svscan started again joins the pipe that the running
	// service and logger of the earlier one still hold.
	LogPipePath = "supervise/logpipe"
)

// MakeDir creates DIR/supervise (mode 0700) if it is missing; dir "" is the
// current directory. Like Debian's 0.76, a dangling symlink named supervise
// gets its target directory created, so supervise/ can live on a tmpfs such
// as /run. Errors are left to the opens that follow.
func MakeDir(dir string) {
	name := "supervise"
	if dir != "" {
		name = dir + "/supervise"
	}
	if err := unix.Mkdir(name, 0700); err == nil || !errors.Is(err, unix.EEXIST) {
		return
	}
	target, err := os.Readlink(name)
	if err != nil {
		return
	}
	if _, err := os.Stat(name); errors.Is(err, os.ErrNotExist) {
		if !filepath.IsAbs(target) && dir != "" {
			target = filepath.Join(dir, target)
		}
		unix.Mkdir(target, 0700)
	}
}

// Valid reports whether c is a command letter of daemontools 0.76.
func Valid(c byte) bool {
	for i := 0; i < len(Letters); i++ {
		if Letters[i] == c {
			return true
		}
	}
	return false
}

// Dedup returns s without repeated bytes, in the order of their first
// appearance, cut to at most MaxLetters bytes: "dduxkh" gives "duxkh".
func Dedup(s string) string {
	var seen [256]bool
	out := make([]byte, 0, MaxLetters)
	for i := 0; i < len(s) && len(out) < MaxLetters; i++ {
		if !seen[s[i]] {
			seen[s[i]] = true
			out = append(out, s[i])
		}
	}
	return string(out)
}

// Errors for a control or ok file that is not a FIFO. Their texts follow
// the form of djb's errno texts so they fit the 0.76 messages.
var (
	ErrSymlink = errors.New("is a symbolic link")
	ErrNotFIFO = errors.New("not a FIFO")
)

// OpenFIFO opens name (relative to dirfd, or to the cwd for unix.AT_FDCWD)
// non-blocking for reading or writing (mode unix.O_RDONLY or O_WRONLY),
// without following a symlink in the last component, and checks that it is
// a FIFO. Errors carry the errno of the failed call (ENXIO when opening for
// writing: no reader, i.e. supervise not running) or are ErrSymlink /
// ErrNotFIFO. supervise opens its own FIFOs with it too.
func OpenFIFO(dirfd int, name string, mode int) (int, error) {
	fd, err := unix.Openat(dirfd, name, mode|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if err == unix.ELOOP {
			var st unix.Stat_t
			if unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				return -1, ErrSymlink
			}
		}
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFIFO {
		unix.Close(fd)
		return -1, ErrNotFIFO
	}
	return fd, nil
}

// openFIFO opens name for writing, as svc and svok do.
func openFIFO(dirfd int, name string) (int, error) {
	return OpenFIFO(dirfd, name, unix.O_WRONLY)
}

// OpenDir opens dir the way chdir would reach it: it fails with the errno
// chdir would give (ENOENT, ENOTDIR, EACCES for a directory without search
// permission). The result is an O_PATH descriptor to use with SendAt and
// OKAt; close it with unix.Close.
func OpenDir(dir string) (int, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	// Looking up "." checks search permission on dir, as chdir does.
	fd2, err := unix.Openat(fd, ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	unix.Close(fd2)
	return fd, nil
}

// SendError is a failure of SendAt after the control FIFO was opened.
type SendError struct{ Err error }

func (e *SendError) Error() string { return "error writing commands: " + e.Err.Error() }
func (e *SendError) Unwrap() error { return e.Err }

// SendAt writes letters to supervise/control below the directory dirfd in
// one blocking write, as 0.76 svc does (the FIFO is opened non-blocking so a
// missing supervise gives ENXIO at once, then switched to blocking). No
// write happens for empty letters. An open failure is returned as is; a
// write failure is a *SendError.
func SendAt(dirfd int, letters string) error {
	fd, err := openFIFO(dirfd, ControlPath)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.SetNonblock(fd, false); err != nil {
		return &SendError{err}
	}
	b := []byte(letters)
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &SendError{err}
		}
		b = b[n:]
	}
	return nil
}

// Send writes letters (as given: use Dedup first for svc's behaviour) to
// dir/supervise/control. See SendAt.
func Send(dir, letters string) error {
	fd, err := OpenDir(dir)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return SendAt(fd, letters)
}

// OKAt reports whether a supervise holds supervise/ok (below the directory
// dirfd) open for reading. ENXIO (no reader) and ENOENT give false and a nil
// error, as svok treats them; any other failure is returned.
func OKAt(dirfd int) (bool, error) {
	err := OpenOKAt(dirfd)
	switch {
	case err == nil:
		return true, nil
	case err == unix.ENXIO || err == unix.ENOENT:
		return false, nil
	}
	return false, err
}

// OpenOKAt opens and closes supervise/ok below dirfd and returns the raw
// result: nil when a supervise is running, the errno (ENXIO when the FIFO
// has no reader), ErrSymlink or ErrNotFIFO otherwise.
func OpenOKAt(dirfd int) error {
	fd, err := openFIFO(dirfd, OKPath)
	if err != nil {
		return err
	}
	unix.Close(fd)
	return nil
}

// OK reports whether a supervise is running for dir. See OKAt.
func OK(dir string) (bool, error) {
	fd, err := OpenDir(dir)
	if err != nil {
		return false, err
	}
	defer unix.Close(fd)
	return OKAt(fd)
}

// ErrText is the text 0.76 prints after "ERR: " for err: djb's errno text,
// or the text of ErrSymlink and ErrNotFIFO.
func ErrText(err error) string {
	if errors.Is(err, ErrSymlink) || errors.Is(err, ErrNotFIFO) {
		return err.Error()
	}
	return diag.Str(err)
}
