package chain

import (
	"errors"
	"runtime/debug"
	"syscall"
	"unsafe"

	"svkit/internal/pathexec"
)

// errLimits is Exec's answer when before (applyLimits) failed.
var errLimits = errors.New("limits not applied")

// Exec converts every string for execve first, then restores the
// RLIMIT_NOFILE the process started with (Go raised it), calls before
// (which sets softlimit's limits), and only then execs, with raw system
// calls: under the new limits the Go runtime may be unable to grow its
// heap, so nothing may allocate between the limits and execve. Go's own
// syscall.Exec allocates at that point and crashed under -m 100000000.
func (RealSys) Exec(cands []string, argv, env []string, before func() bool) error {
	paths := make([]*byte, len(cands))
	for i, c := range cands {
		p, err := syscall.BytePtrFromString(c)
		if err != nil {
			return err
		}
		paths[i] = p
	}
	argvp, err := syscall.SlicePtrFromStrings(argv)
	if err != nil {
		return err
	}
	envp, err := syscall.SlicePtrFromStrings(env)
	if err != nil {
		return err
	}
	restoreNofile()
	// No collection may start in the window either.
	debug.SetGCPercent(-1)
	if !before() {
		return errLimits
	}
	var saved error
	for _, p := range paths {
		_, _, e := syscall.RawSyscall(syscall.SYS_EXECVE,
			uintptr(unsafe.Pointer(p)),
			uintptr(unsafe.Pointer(&argvp[0])),
			uintptr(unsafe.Pointer(&envp[0])))
		if !pathexec.Continue(e, &saved) {
			return e
		}
	}
	return pathexec.Final(saved)
}

// restoreNofile puts back the soft RLIMIT_NOFILE this process was started
// with. The Go runtime raises it at start and remembers the original only
// privately; syscall.Exec restores it just before execve. Calling
// syscall.Exec with an empty path (which execve refuses with ENOENT, and
// nothing else happens) restores it without exec'ing anything.
func restoreNofile() {
	syscall.Exec("", []string{""}, nil)
}
