//go:build linux && (amd64 || arm64 || riscv64 || loong64 || ppc64le || s390x)

package chain

import (
	"runtime"
	"syscall"
	"unsafe"
)

// Credentials are per thread on Linux. Go's syscall.Setuid and friends
// change them on every thread of the process, which means signalling and
// waiting for each runtime thread, three times for setuidgid; on a loaded
// machine that costs more than the rest of the chain. A chain-loader only
// needs the credentials on the thread that goes on to read envdir files,
// open setlock's file and call execve (the new program gets the execve'ing
// thread's credentials; the kernel kills the other threads), so the
// chain's goroutine is locked to its thread and the raw system calls
// change that thread alone. The other threads run only the Go runtime
// until the exec or exit that always follows.

// lockThread locks the calling goroutine to its thread for good: every
// system call of the chain, and the final execve, happen on that thread.
func lockThread() { runtime.LockOSThread() }

func setgroupsThread(gids []int) error {
	g := make([]uint32, len(gids))
	for i, v := range gids {
		g[i] = uint32(v)
	}
	var p unsafe.Pointer
	if len(g) > 0 {
		p = unsafe.Pointer(&g[0])
	}
	_, _, e := syscall.RawSyscall(syscall.SYS_SETGROUPS, uintptr(len(g)), uintptr(p), 0)
	return errnoErr(e)
}

func setgidThread(gid int) error {
	_, _, e := syscall.RawSyscall(syscall.SYS_SETGID, uintptr(gid), 0, 0)
	return errnoErr(e)
}

func setuidThread(uid int) error {
	_, _, e := syscall.RawSyscall(syscall.SYS_SETUID, uintptr(uid), 0, 0)
	return errnoErr(e)
}

func errnoErr(e syscall.Errno) error {
	if e != 0 {
		return e
	}
	return nil
}
