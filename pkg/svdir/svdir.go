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
//	supervise/spare     the previous version of one of the files above,
//	                    written in place by the next change (Replace)
//
// Files others read are replaced whole (write a temporary name, swap it
// with the old one; see Replace), so a reader never sees a torn record. Readers open
// every file relative to a directory descriptor, never follow a symlink in
// the last component and never block on a FIFO planted in a file's place:
// svstat and svc run as root in directories others may write to.
package svdir

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

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

// SparePath is the spare file Replace keeps in supervise/ (see Replace).
const SparePath = "supervise/spare"

// spareName is the name of the spare in the directory of the file replaced.
const spareName = "spare"

// ReplaceError is a failed Replace: Op is "open" or "write" (of Spare) or
// "rename" (of Spare to Name).
type ReplaceError struct {
	Op, Spare, Name string
	Err             error
}

func (e *ReplaceError) Error() string {
	if e.Op == "rename" {
		return "rename " + e.Spare + " to " + e.Name + ": " + e.Err.Error()
	}
	return e.Op + " " + e.Spare + ": " + e.Err.Error()
}

func (e *ReplaceError) Unwrap() error { return e.Err }

// Replace replaces the file name below dirfd with data, readable by mode
// (less the umask), so that a reader sees the old content or the new,
// never a mix: it writes the spare file of name's directory (supervise/spare)
// and swaps it with name in one renameat2(RENAME_EXCHANGE), or renames it to
// name where there is no name yet or the file system cannot exchange. Like
// 0.76's status, nothing is synced: these files describe running processes,
// which a power loss ends anyway.
//
// After an exchange the spare holds the file's previous content, and the
// next Replace of any file of the directory writes into it in place instead
// of creating a file: on ext4 creating an inode, freeing the one a rename
// replaces and the writeback its replace-by-rename heuristic starts cost
// over ten times the rest, and a supervisor replaces several files at every
// change of state. One spare serves every file, and a Replace that gives the
// spare a name of its own leaves a new one behind: a directory's files and
// its spare are made once, and no later change of state creates a file.
//
// The spare is written only while nobody else has it open, which a write
// lease (F_SETLEASE) is granted only then, and only while it is a plain
// file of ours with one link: a reader that opened a file before it was
// swapped out never sees it change. Otherwise, and where leases are off, a
// new spare is created (O_EXCL, not following a symlink) in place of
// whatever had its name.
func Replace(dirfd int, name string, data []byte, mode uint32) error {
	spare := spareName
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		spare = name[:i+1] + spareName
	}
	perm := mode &^ umask()
	fd, size := openSpare(dirfd, spare, perm)
	if fd < 0 {
		var err error
		if fd, err = createSpare(dirfd, spare, perm); err != nil {
			return &ReplaceError{"open", spare, name, err}
		}
	}
	err := writeAt0(fd, data, size)
	if cerr := unix.Close(fd); err == nil {
		err = cerr // the close also ends the lease
	}
	if err != nil {
		return &ReplaceError{"write", spare, name, err}
	}
	err = unix.Renameat2(dirfd, spare, dirfd, name, unix.RENAME_EXCHANGE)
	if err == nil {
		return nil
	}
	first := err == unix.ENOENT // no name yet
	if !first && err != unix.EINVAL && err != unix.ENOSYS {
		return &ReplaceError{"rename", spare, name, err}
	}
	if err := unix.Renameat(dirfd, spare, dirfd, name); err != nil {
		return &ReplaceError{"rename", spare, name, err}
	}
	if first {
		// The spare became name: leave the next change one.
		if fd, err := createSpare(dirfd, spare, perm); err == nil {
			unix.Close(fd)
		}
	}
	return nil
}

// openSpare opens the spare for writing in place, holding a write lease on
// it, sets its permissions to perm and returns its size, if it is a plain
// file owned by this process's user with one link and nobody else has it
// open; otherwise it returns -1.
func openSpare(dirfd int, spare string, perm uint32) (fd int, size int64) {
	// O_NONBLOCK: a FIFO in the spare's place fails instead of blocking.
	fd, err := eintr.Retry(func() (int, error) {
		return unix.Openat(dirfd, spare, unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return -1, 0
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink != 1 ||
		st.Uid != uint32(unix.Geteuid()) {
		unix.Close(fd)
		return -1, 0
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETLEASE, unix.F_WRLCK); err != nil {
		unix.Close(fd)
		return -1, 0
	}
	if st.Mode&07777 != perm && unix.Fchmod(fd, perm) != nil {
		unix.Close(fd)
		return -1, 0
	}
	return fd, st.Size
}

// createSpare creates a new, empty spare in place of whatever has its name.
func createSpare(dirfd int, spare string, perm uint32) (int, error) {
	if err := unix.Unlinkat(dirfd, spare, 0); err != nil && err != unix.ENOENT && err != unix.EISDIR {
		return -1, err
	}
	return eintr.Retry(func() (int, error) {
		return unix.Openat(dirfd, spare, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
	})
}

// writeAt0 writes data at the start of fd, a file of size bytes, and cuts
// off what is left of the old content.
func writeAt0(fd int, data []byte, size int64) error {
	for off := 0; off < len(data); {
		n, err := eintr.Retry(func() (int, error) { return unix.Pwrite(fd, data[off:], int64(off)) })
		if err != nil {
			return err
		}
		if n == 0 {
			return errPartial
		}
		off += n
	}
	if size > int64(len(data)) {
		return eintr.Do(func() error { return unix.Ftruncate(fd, int64(len(data))) })
	}
	return nil
}

// umask returns the process's file mode creation mask, read once from
// /proc/self/status (022 if it cannot be read): setting it to read it
// would race with files other threads create meanwhile.
var umask = sync.OnceValue(func() uint32 {
	b, err := os.ReadFile("/proc/self/status")
	if err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "Umask:"); ok {
				if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
					return uint32(m)
				}
			}
		}
	}
	return 022
})

var errPartial = errors.New("partial write")
