package chain

import (
	"io"
	"syscall"

	"golang.org/x/sys/unix"

	"svkit/internal/diag"
	"svkit/internal/eintr"
	"svkit/internal/pathexec"
)

// fghackCopies is how many extra copies of the pipe's write end the child
// gets besides the original.
const fghackCopies = 30

// Fghack runs argv[1:] as 0.76's fghack does: the child inherits the
// write end of a pipe plus 30 copies of it (at the descriptor numbers the
// C program gives them), fghack reads the pipe until every copy is closed,
// whatever daemon the child forked off, then waits for the child and
// exits with its exit code (111 with "child crashed" after a signal).
func Fghack(argv []string, _ io.Reader, _, stderr io.Writer) int {
	return fghack(argv, pathexec.Environ(), stderr)
}

func fghack(argv []string, env []string, stderr io.Writer) int {
	if len(argv) < 2 {
		return usage(&Chain{Stderr: stderr}, "fghack: usage: fghack child\n")
	}
	fatal := func(parts ...string) int {
		return diag.Fatal(stderr, "fghack", diag.ExitTemp, parts...)
	}
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		return fatal("unable to create pipe: ", diag.Str(err))
	}
	// In 0.76 the child closes the read end, then dup()s the write end 30
	// times, filling the lowest free descriptors starting with the read
	// end's. Reproduce that layout here, before forking: move the read end
	// far out of the way (close-on-exec), free its slot, then dup.
	r, err := unix.FcntlInt(uintptr(p[0]), unix.F_DUPFD_CLOEXEC, highFD())
	if err != nil {
		return fatal("unable to create pipe: ", diag.Str(err))
	}
	unix.Close(p[0])
	writes := []int{p[1]}
	for i := 0; i < fghackCopies; i++ {
		fd, err := unix.Dup(p[1])
		if err != nil {
			break // 0.76 ignores dup failures too
		}
		writes = append(writes, fd)
	}
	pid, err := forkExecPath(argv[1], argv[1:], env)
	for _, fd := range writes {
		unix.Close(fd)
	}
	if err != nil {
		unix.Close(r)
		// 0.76's child prints this and exits 111, and fghack exits 111.
		return fatal("unable to run ", argv[1], ": ", diag.Str(err))
	}
	var b [1]byte
	for {
		n, err := unix.Read(r, b[:])
		if err == unix.EINTR || n == 1 {
			continue
		}
		break
	}
	unix.Close(r)
	var ws syscall.WaitStatus
	_, err = eintr.Retry(func() (int, error) { return syscall.Wait4(pid, &ws, 0, nil) })
	if err != nil {
		return fatal("wait failed: ", diag.Str(err))
	}
	if ws.Signaled() {
		return fatal("child crashed")
	}
	return ws.ExitStatus()
}

// highFD returns where to park the read end: above the lowest free
// descriptors the dups take (unless over a thousand are open), without
// growing the descriptor table much.
func highFD() int {
	var r unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &r) == nil && r.Cur < 1024+2*fghackCopies {
		return int(r.Cur) / 2
	}
	return 1024
}

// forkExecPath starts file with pathexec's PATH search: each candidate is
// tried in a forked child; the search goes on or stops after each failure
// exactly as 0.76's pathexec_run decides.
func forkExecPath(file string, argv, env []string) (int, error) {
	pid := 0
	exec := func(path string, argv, env []string) error {
		// Files 0, 1, 2 stay; every other descriptor without
		// close-on-exec (the pipe's copies, and whatever fghack
		// inherited) is inherited as well.
		p, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{
			Env:   env,
			Files: []uintptr{0, 1, 2},
		})
		if err == nil {
			pid = p
		}
		// A failed fork and a failed execve come back alike; both are
		// reported as "unable to run".
		return err
	}
	err := pathexec.Run(exec, file, argv, env, pathexec.SearchPath(env))
	if pid != 0 {
		return pid, nil
	}
	if err == nil {
		err = syscall.ENOENT
	}
	return 0, err
}
