// Package diag formats messages and exit codes the way daemontools does:
// "prog: fatal: ..." and "prog: warning: ..." lines on stderr, errno text from
// djb's error_str table (not strerror), exit 100 for usage errors and 111 for
// temporary or system failures.
package diag

import (
	"errors"
	"io"
	"strings"
	"syscall"
)

// Exit codes shared by every daemontools program.
const (
	ExitUsage = 100 // bad usage or a permanent error
	ExitTemp  = 111 // a temporary or system failure
)

// Fatal writes "prog: fatal: " and the parts to w and returns code, so a
// program can say `return diag.Fatal(stderr, "svc", 111, "unable to ...")`.
func Fatal(w io.Writer, prog string, code int, parts ...string) int {
	line(w, prog+": fatal: ", parts)
	return code
}

// Warn writes "prog: warning: " and the parts to w.
func Warn(w io.Writer, prog string, parts ...string) {
	line(w, prog+": warning: ", parts)
}

// Usage writes "prog: usage: " and the synopsis to w and returns ExitUsage.
func Usage(w io.Writer, prog, synopsis string) int {
	line(w, prog+": usage: ", []string{synopsis})
	return ExitUsage
}

// line writes prefix and parts as one line in a single write, so that lines
// from several processes sharing a stderr pipe never interleave.
func line(w io.Writer, prefix string, parts []string) {
	var b strings.Builder
	b.WriteString(prefix)
	for _, p := range parts {
		b.WriteString(p)
	}
	b.WriteByte('\n')
	io.WriteString(w, b.String())
}

// Errno extracts the errno carried by err, or 0 when there is none.
func Errno(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return 0
}

// Str returns djb's text for the errno carried by err ("file does not
// exist", "temporary failure", ...), or "unknown error".
func Str(err error) string {
	if err == nil {
		return "no error"
	}
	e := Errno(err)
	if e == 0 {
		return "unknown error"
	}
	return ErrnoStr(e)
}

// ErrnoStr returns djb's text for one errno.
func ErrnoStr(e syscall.Errno) string {
	if s, ok := errorText[e]; ok {
		return s
	}
	return "unknown error"
}

// errorText is djb's error_str table as compiled on Linux. Where two names
// share a number (EAGAIN and EWOULDBLOCK) the first entry of djb's list wins.
var errorText = map[syscall.Errno]string{
	0:                       "no error",
	syscall.EINTR:           "interrupted system call",
	syscall.ENOMEM:          "out of memory",
	syscall.ENOENT:          "file does not exist",
	syscall.ETXTBSY:         "text busy",
	syscall.EIO:             "input/output error",
	syscall.EEXIST:          "file already exists",
	syscall.ETIMEDOUT:       "timed out",
	syscall.EINPROGRESS:     "operation in progress",
	syscall.EAGAIN:          "temporary failure",
	syscall.EPIPE:           "broken pipe",
	syscall.EPERM:           "permission denied",
	syscall.EACCES:          "access denied",
	syscall.ENXIO:           "device not configured",
	syscall.EPROTO:          "protocol error",
	syscall.EISDIR:          "is a directory",
	syscall.ESRCH:           "no such process",
	syscall.E2BIG:           "argument list too long",
	syscall.ENOEXEC:         "exec format error",
	syscall.EBADF:           "file descriptor not open",
	syscall.ECHILD:          "no child processes",
	syscall.EDEADLK:         "operation would cause deadlock",
	syscall.EFAULT:          "bad address",
	syscall.ENOTBLK:         "not a block device",
	syscall.EBUSY:           "device busy",
	syscall.EXDEV:           "cross-device link",
	syscall.ENODEV:          "device does not support operation",
	syscall.ENOTDIR:         "not a directory",
	syscall.EINVAL:          "invalid argument",
	syscall.ENFILE:          "system cannot open more files",
	syscall.EMFILE:          "process cannot open more files",
	syscall.ENOTTY:          "not a tty",
	syscall.EFBIG:           "file too big",
	syscall.ENOSPC:          "out of disk space",
	syscall.ESPIPE:          "unseekable descriptor",
	syscall.EROFS:           "read-only file system",
	syscall.EMLINK:          "too many links",
	syscall.EDOM:            "input out of range",
	syscall.ERANGE:          "output out of range",
	syscall.EALREADY:        "operation already in progress",
	syscall.ENOTSOCK:        "not a socket",
	syscall.EDESTADDRREQ:    "destination address required",
	syscall.EMSGSIZE:        "message too long",
	syscall.EPROTOTYPE:      "incorrect protocol type",
	syscall.ENOPROTOOPT:     "protocol not available",
	syscall.EPROTONOSUPPORT: "protocol not supported",
	syscall.ESOCKTNOSUPPORT: "socket type not supported",
	syscall.EOPNOTSUPP:      "operation not supported",
	syscall.EPFNOSUPPORT:    "protocol family not supported",
	syscall.EAFNOSUPPORT:    "address family not supported",
	syscall.EADDRINUSE:      "address already used",
	syscall.EADDRNOTAVAIL:   "address not available",
	syscall.ENETDOWN:        "network down",
	syscall.ENETUNREACH:     "network unreachable",
	syscall.ENETRESET:       "network reset",
	syscall.ECONNABORTED:    "connection aborted",
	syscall.ECONNRESET:      "connection reset",
	syscall.ENOBUFS:         "out of buffer space",
	syscall.EISCONN:         "already connected",
	syscall.ENOTCONN:        "not connected",
	syscall.ESHUTDOWN:       "socket shut down",
	syscall.ETOOMANYREFS:    "too many references",
	syscall.ECONNREFUSED:    "connection refused",
	syscall.ELOOP:           "symbolic link loop",
	syscall.ENAMETOOLONG:    "file name too long",
	syscall.EHOSTDOWN:       "host down",
	syscall.EHOSTUNREACH:    "host unreachable",
	syscall.ENOTEMPTY:       "directory not empty",
	syscall.EUSERS:          "too many users",
	syscall.EDQUOT:          "disk quota exceeded",
	syscall.ESTALE:          "stale NFS file handle",
	syscall.EREMOTE:         "too many levels of remote in path",
	syscall.ENOLCK:          "no locks available",
	syscall.ENOSYS:          "system call not available",
	syscall.ENOSTR:          "not a stream device",
	syscall.ETIME:           "timer expired",
	syscall.ENOSR:           "out of stream resources",
	syscall.ENOMSG:          "no message of desired type",
	syscall.EBADMSG:         "bad message type",
	syscall.EIDRM:           "identifier removed",
	syscall.ENONET:          "machine not on network",
	syscall.ENOLINK:         "link severed",
	syscall.EADV:            "advertise error",
	syscall.ESRMNT:          "srmount error",
	syscall.ECOMM:           "communication error",
	syscall.EMULTIHOP:       "multihop attempted",
	syscall.EREMCHG:         "remote address changed",
}
