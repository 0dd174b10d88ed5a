// Package svdir owns a service's supervise/ directory: the names of its
// files, the codecs of the records in them, the safe opens of its FIFOs,
// the control letters written into supervise/control, and the one way each
// file is replaced or read. supervise writes through it; svc, svstat, svok,
// svwait, svscan and every other reader read through it, so each path and
// each letter is defined here once. It also reads the links of a service's
// needs/ and binds/ directories and tells whether a need is ready
// (needs.go), the rule supervise, svgroup and svscan share.
//
// The directory, relative to a service directory DIR:
//
//	supervise/lock      held with flock by the running supervisor
//	supervise/control   FIFO: command letters (see Letters)
//	supervise/ok        FIFO: has a reader while a supervisor runs
//	supervise/status    daemontools 0.76's 18-byte record (Status)
//	supervise/info      svkit's extended state, key=value lines (Info)
//	supervise/process   the process svkit's supervisor watches (Process)
//	supervise/pid       runit's pid file: the service's pid, or empty
//	supervise/stat      runit's state line: run, down or finish, ...
//	supervise/logpipe   FIFO joining a service to its logger (DIR/log)
//	supervise/notify-name  the abstract name of the sd_notify socket
//
// Files others read are replaced whole (write a temporary name, rename it
// over the old one), so a reader never sees a torn record. Readers open
// every file relative to a directory descriptor, never follow a symlink in
// the last component and never block on a FIFO planted in a file's place:
// svstat and svc run as root in directories others may write to.
package svdir

import (
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"svkit/internal/eintr"
)

// Paths relative to a service directory.
const (
	Dir         = "supervise"
	LockPath    = "supervise/lock"
	ControlPath = "supervise/control"
	OKPath      = "supervise/ok"
	StatusPath  = "supervise/status"
	InfoPath    = "supervise/info"
	ProcessPath = "supervise/process"
	PidPath     = "supervise/pid"
	StatPath    = "supervise/stat"
	// NotifyNamePath holds the abstract name of the service's sd_notify
	// socket (mode 0600), so that a supervisor that adopts the running
	// service binds the name the service was given.
	NotifyNamePath = "supervise/notify-name"
	// LogPipePath is the FIFO that joins a service to its logger
	// (DIR/log): svscan opens it instead of creating an anonymous pipe,
	// so that an svscan started again joins the pipe that the running
	// service and logger of the earlier one still hold.
	LogPipePath = "supervise/logpipe"
)

// Files of the service directory itself that the daemontools tools read.
const (
	DownFile = "down" // present: the service is not started when supervise starts
)

// MakeDir creates DIR/supervise (mode 0700) if it is missing; dir "" is the
// current directory. Like Debian's 0.76, a dangling symlink named supervise
// gets its target directory created, so supervise/ can live on a tmpfs such
// as /run. Errors are left to the opens that follow.
func MakeDir(dir string) {
	name := Dir
	if dir != "" {
		name = dir + "/" + Dir
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
			target = dir + "/" + target // dir may be a /proc/self/fd link: no lexical cleaning
		}
		unix.Mkdir(target, 0700)
	}
}

// OpenDir opens dir the way chdir would reach it: it fails with the errno
// chdir would give (ENOENT, ENOTDIR, EACCES for a directory without search
// permission). The result is an O_PATH descriptor for the functions of this
// package that take a dirfd; close it with unix.Close.
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

// Errors for a file that is not what it should be. Their texts follow the
// form of djb's errno texts so they fit the 0.76 messages.
var (
	ErrSymlink = errors.New("is a symbolic link")
	ErrNotFIFO = errors.New("not a FIFO")
	ErrNotFile = errors.New("not a regular file")
)

// isSymlink reports whether name below dirfd is a symbolic link.
func isSymlink(dirfd int, name string) bool {
	var st unix.Stat_t
	return unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK
}

// openNoFollow opens name below dirfd read-only and non-blocking without
// following a symlink in the last component; ELOOP for a symlink becomes
// ErrSymlink.
func openNoFollow(dirfd int, name string) (int, error) {
	fd, err := eintr.Retry(func() (int, error) {
		return unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	})
	if err == unix.ELOOP && isSymlink(dirfd, name) {
		return -1, ErrSymlink
	}
	return fd, err
}

// ReadFile reads the regular file name below dirfd, at most limit bytes,
// without following a symlink in the last component or blocking on a FIFO.
// A longer file is cut at limit bytes; anything but a regular file gives
// ErrNotFile.
func ReadFile(dirfd int, name string, limit int) ([]byte, error) {
	b, _, err := ReadFileStat(dirfd, name, limit)
	return b, err
}

// ReadFileStat is ReadFile that also returns the status of the file it
// read (its owner and mode, from the open file).
func ReadFileStat(dirfd int, name string, limit int) ([]byte, unix.Stat_t, error) {
	var st unix.Stat_t
	fd, err := openNoFollow(dirfd, name)
	if err != nil {
		return nil, st, err
	}
	defer unix.Close(fd)
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, st, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, st, ErrNotFile
	}
	b := make([]byte, 0, min(limit, 512))
	buf := make([]byte, min(limit, 4096))
	for len(b) < limit {
		n, err := eintr.Retry(func() (int, error) { return unix.Read(fd, buf[:min(len(buf), limit-len(b))]) })
		if err != nil {
			return nil, st, err
		}
		if n == 0 {
			break
		}
		b = append(b, buf[:n]...)
	}
	return b, st, nil
}

// Replace replaces the file name below dirfd with data, readable by mode:
// it writes name.new and renames it over name, so a reader sees the old
// content or the new, never a mix. The temporary file is opened without
// following a symlink (a planted one fails the write). Like 0.76's status,
// nothing is synced: these files describe running processes, which a power
// loss ends anyway.
func Replace(dirfd int, name string, data []byte, mode uint32) error {
	tmp := name + ".new"
	fd, err := eintr.Retry(func() (int, error) {
		return unix.Openat(dirfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
	})
	if err != nil {
		return &os.PathError{Op: "open", Path: tmp, Err: err}
	}
	for b := data; len(b) > 0; {
		n, err := eintr.Retry(func() (int, error) { return unix.Write(fd, b) })
		if err != nil {
			unix.Close(fd)
			return &os.PathError{Op: "write", Path: tmp, Err: err}
		}
		if n == 0 {
			unix.Close(fd)
			return &os.PathError{Op: "write", Path: tmp, Err: errPartial}
		}
		b = b[n:]
	}
	if err := unix.Close(fd); err != nil {
		return &os.PathError{Op: "write", Path: tmp, Err: err}
	}
	if err := unix.Renameat(dirfd, tmp, dirfd, name); err != nil {
		return &os.PathError{Op: "rename", Path: tmp, Err: err}
	}
	return nil
}

var errPartial = errors.New("partial write")
