//go:build !(linux && (amd64 || arm64 || loong64 || mips64 || mips64le || ppc64 || ppc64le || riscv64 || s390x))

package svscan

import (
	"golang.org/x/sys/unix"

	"svkit/internal/eintr"
)

// rawStat is stat(2). On these platforms it is an ordinary system call,
// which costs an idle svscan a few more wakeups per pass.
func rawStat(path string, st *unix.Stat_t) error {
	return eintr.Do(func() error { return unix.Stat(path, st) })
}

// rawLstat is lstat(2).
func rawLstat(path string, st *unix.Stat_t) error {
	return eintr.Do(func() error { return unix.Lstat(path, st) })
}
