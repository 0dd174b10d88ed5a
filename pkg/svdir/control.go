package svdir

// The control protocol: the command letters written to supervise/control
// (the same bytes svc takes as options), their de-duplication, and the opens
// of the two FIFOs a running supervisor holds, supervise/control and
// supervise/ok. The opens never follow a symbolic link in the last component
// and refuse anything that is not a FIFO, so that svc, svstat and svok run
// as root in a directory others can write to cannot be made to write into
// (or open) a planted file. A symlinked supervise/ directory is still
// followed: Debian's supervise supports it.

import (
	"errors"

	"golang.org/x/sys/unix"

	"svkit/internal/diag"
	"svkit/internal/eintr"
)

// The command bytes of supervise/control. Each byte is one command; supervise
// ignores any other byte.
const (
	CmdUp        = 'u' // want up; start run if it is down
	CmdDown      = 'd' // want down; TERM then CONT if up
	CmdOnce      = 'o' // want once: start if down, never restart
	CmdExit      = 'x' // exit once run is down
	CmdPause     = 'p' // STOP
	CmdContinue  = 'c' // CONT
	CmdHangup    = 'h' // HUP
	CmdAlarm     = 'a' // ALRM
	CmdInterrupt = 'i' // INT
	CmdTerm      = 't' // TERM
	CmdKill      = 'k' // KILL
)

// Letters are the commands of daemontools 0.76, in the order of svc's option
// string.
const Letters = "udopchaitkx"

// MaxLetters is the most command bytes svc sends in one write.
const MaxLetters = 20

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

// OpenFIFO opens name (relative to dirfd, or to the cwd for unix.AT_FDCWD)
// non-blocking for reading, writing or both (mode unix.O_RDONLY, O_WRONLY
// or O_RDWR),
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
	for b := []byte(letters); len(b) > 0; {
		n, err := eintr.Retry(func() (int, error) { return unix.Write(fd, b) })
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

// SuperviseError is a failure of Supervised: the service directory Dir
// could not be reached (OK false) or its supervise/ok could not be opened
// (OK true). Its text is 0.76's message for the failure, with djb's text
// for Err.
type SuperviseError struct {
	Dir string
	OK  bool
	Err error
}

func (e *SuperviseError) Error() string {
	if e.OK {
		return "unable to open " + e.Dir + "/supervise/ok: " + ErrText(e.Err)
	}
	return "unable to chdir to " + e.Dir + ": " + ErrText(e.Err)
}

func (e *SuperviseError) Unwrap() error { return e.Err }

// Supervised is OK for the programs that check a service directory before
// they act on it (svok, svgroup, svprof): a failure is a *SuperviseError,
// which says which step failed in 0.76's words.
func Supervised(dir string) (bool, error) {
	fd, err := OpenDir(dir)
	if err != nil {
		return false, &SuperviseError{Dir: dir, Err: err}
	}
	defer unix.Close(fd)
	ok, err := OKAt(fd)
	if err != nil {
		return false, &SuperviseError{Dir: dir, OK: true, Err: err}
	}
	return ok, nil
}

// ErrText is the text 0.76 prints after "ERR: " for err: djb's errno text,
// or the text of this package's own errors (ErrSymlink, ErrNotFIFO,
// ErrNotFile, ErrBadFormat).
func ErrText(err error) string {
	for _, own := range []error{ErrSymlink, ErrNotFIFO, ErrNotFile, ErrBadFormat} {
		if errors.Is(err, own) {
			return own.Error()
		}
	}
	return diag.Str(err)
}
