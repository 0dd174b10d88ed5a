package svscan

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"svkit/internal/eintr"
)

// An idle svscan should wake up once per pass and not more. Go's runtime
// has a monitor thread (sysmon) that, once woken, polls every 20 µs for as
// long as a goroutine runs: it wakes when a Go timer is due and whenever a
// goroutine enters a system call through syscall.Syscall. So the pass uses
// raw system calls (all of them quick, on local files), the pass timer is a
// timerfd read through the runtime's poller instead of a Go timer, and the
// descriptors svscan waits on are read with raw calls once the poller says
// they are ready. The result is about one wakeup per pass, as with 0.76.

// atFDCWD is AT_FDCWD as a variable, so that it converts to uintptr.
var atFDCWD = unix.AT_FDCWD

// rawSyscall makes a system call without telling the runtime (so sysmon is
// not woken), retried on EINTR; a zero errno is a nil error.
func rawSyscall(trap, a1, a2, a3, a4 uintptr) (uintptr, error) {
	return eintr.Retry(func() (uintptr, error) {
		r, _, e := unix.RawSyscall6(trap, a1, a2, a3, a4, 0, 0)
		if e != 0 {
			return r, e
		}
		return r, nil
	})
}

// rawReadNames lists the current directory (without . and ..) into names,
// reusing buf.
func rawReadNames(buf []byte, names []string) ([]string, error) {
	dot := [2]byte{'.', 0}
	fd, err := rawSyscall(unix.SYS_OPENAT, uintptr(atFDCWD), uintptr(unsafe.Pointer(&dot[0])), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return names, err
	}
	defer unix.RawSyscall(unix.SYS_CLOSE, fd, 0, 0)
	for {
		n, err := rawSyscall(unix.SYS_GETDENTS64, fd, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0)
		if err != nil {
			return names, err
		}
		if n == 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

// rawWait4 is a non-blocking wait4(2) for any child.
func rawWait4(ws *unix.WaitStatus) (int, error) {
	r, err := rawSyscall(unix.SYS_WAIT4, ^uintptr(0), uintptr(unsafe.Pointer(ws)), unix.WNOHANG, 0)
	if err != nil {
		return 0, err
	}
	return int(r), nil
}

// rawRead reads fd, for descriptors the poller has reported ready.
func rawRead(fd uintptr, b []byte) (int, error) {
	n, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// pollRead waits in the runtime's poller until f is readable, then reads
// it with a raw read. It returns the error of the read (never EAGAIN).
func pollRead(rc syscall.RawConn, b []byte) (int, error) {
	var n int
	var rerr error
	err := rc.Read(func(fd uintptr) bool {
		n, rerr = rawRead(fd, b)
		return rerr != unix.EAGAIN && rerr != unix.EINTR
	})
	if err != nil {
		return 0, err
	}
	return n, rerr
}
