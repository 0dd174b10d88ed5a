//go:build linux && (amd64 || arm64 || loong64 || mips64 || mips64le || ppc64 || ppc64le || riscv64 || s390x)

package svscan

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawStat is stat(2) (it follows symbolic links) without waking sysmon.
func rawStat(path string, st *unix.Stat_t) error { return rawFstatat(path, st, 0) }

// rawLstat is lstat(2) without waking sysmon.
func rawLstat(path string, st *unix.Stat_t) error {
	return rawFstatat(path, st, unix.AT_SYMLINK_NOFOLLOW)
}

func rawFstatat(path string, st *unix.Stat_t, flags int) error {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return err
	}
	_, err = rawSyscall(unix.SYS_NEWFSTATAT, uintptr(atFDCWD), uintptr(unsafe.Pointer(p)), uintptr(unsafe.Pointer(st)), uintptr(flags))
	return err
}
