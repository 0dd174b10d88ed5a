//go:build !(linux && (amd64 || arm64 || riscv64 || loong64 || ppc64le || s390x))

package chain

import "syscall"

// Elsewhere the credentials change on every thread (syscall's own calls).

func lockThread() {}

func setgroupsThread(gids []int) error { return syscall.Setgroups(gids) }
func setgidThread(gid int) error       { return syscall.Setgid(gid) }
func setuidThread(uid int) error       { return syscall.Setuid(uid) }
