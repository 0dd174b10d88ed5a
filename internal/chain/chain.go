// Package chain holds svkit's process-state chain-loaders (softlimit,
// setuidgid, envuidgid, envdir, pgrphack, setlock) and fghack, with
// daemontools 0.76's options, messages and exit codes.
//
// A chain such as `softlimit -m 100000000 setuidgid app envdir ./env
// ./server` is run in one process: when the program a tool would exec is
// itself one of svkit's chain-loaders (its resolved file carries Go build
// information for svkit/cmd/NAME), the loop goes on with that tool's
// arguments instead of exec'ing it. Every effect happens in the order the
// exec chain would produce it (a later envdir reads its files after an
// earlier setuidgid changed the uid), except resource limits: softlimit
// records them and they are set last, right before exec'ing the first
// program that is not one of svkit's chain-loaders. That is what lets the
// chain work under limits too small for a Go program to start
// (golang/go#38010), and it saves one program start per tool.
package chain

import (
	"io"
	"syscall"

	"golang.org/x/sys/unix"

	"svkit/internal/diag"
	"svkit/internal/pathexec"
)

// Sys holds the system calls that change the process's credentials,
// session and limits, and the final exec, so that tests can record them
// instead of making them.
type Sys interface {
	Setgroups(gids []int) error
	Setgid(gid int) error
	Setuid(uid int) error
	Setsid() error
	Getrlimit(resource int, r *syscall.Rlimit) error
	Setrlimit(resource int, r *syscall.Rlimit) error
	// Exec execs each candidate file in turn as pathexec does (see
	// pathexec.Continue), with argv and env, after calling before; it
	// returns only on failure: before's false, or the exec error.
	Exec(cands []string, argv, env []string, before func() bool) error
}

// RealSys makes the system calls. The credential calls change only the
// calling thread, to which Run locks the chain (see creds_thread.go);
// Setrlimit goes through syscall so that the runtime does not restore its
// own RLIMIT_NOFILE after softlimit -o set one; Exec is in exec.go.
type RealSys struct{}

func (RealSys) Setgroups(gids []int) error { return setgroupsThread(gids) }
func (RealSys) Setgid(gid int) error       { return setgidThread(gid) }
func (RealSys) Setuid(uid int) error       { return setuidThread(uid) }
func (RealSys) Setsid() error              { _, err := unix.Setsid(); return err }
func (RealSys) Getrlimit(res int, r *syscall.Rlimit) error {
	return syscall.Getrlimit(res, r)
}
func (RealSys) Setrlimit(res int, r *syscall.Rlimit) error {
	return syscall.Setrlimit(res, r)
}

// Chain is the state of one process running chain-loaders.
type Chain struct {
	Stderr io.Writer
	Sys    Sys
	// Env is the environment of the program being emulated: the one it
	// was exec'd with.
	Env []string
	// Identify says which of svkit's chain-loaders file names when looked
	// up on path, or "" when it is any other program (exec it).
	Identify func(file, path string) string

	limits []limit          // recorded by softlimit, set before the final exec
	saved  []syscall.Rlimit // the limits before they were set
	set    int              // how many of limits are set
	code   int              // exit code after a failed applyLimits
}

// New returns a Chain for this process: real system calls, the exact
// environment it was started with, and identification by build info.
func New(stderr io.Writer) *Chain {
	return &Chain{Stderr: stderr, Sys: RealSys{}, Env: pathexec.Environ(), Identify: Identify}
}

// step is what a tool leaves to do: exec argv (looked up on PATH) with
// the environment changes plus ("name=value" sets, "name" unsets).
type step struct {
	argv []string
	plus []string
}

// tool runs one chain-loader's own part: it parses argv (argv[0] is the
// name it was called by), makes its changes, and returns the next step,
// or an exit code >= 0 when it stops there.
type tool func(c *Chain, argv []string) (step, int)

// tools are the chain-loaders that can run in-process. fghack is not one:
// it forks, so it is always exec'd.
var tools = map[string]tool{
	"softlimit": softlimit,
	"setuidgid": setuidgid,
	"envuidgid": envuidgid,
	"envdir":    envdir,
	"pgrphack":  pgrphack,
	"setlock":   setlock,
}

// IsTool reports whether name is one of the chain-loaders run in-process.
func IsTool(name string) bool { return tools[name] != nil }

// The chain-loader programs. Each runs with argv (argv[0] is the name it
// was called by) and returns the exit code when it does not exec.
func Softlimit(argv []string, _ io.Reader, _, stderr io.Writer) int {
	return run("softlimit", argv, stderr)
}
func Setuidgid(argv []string, _ io.Reader, _, stderr io.Writer) int {
	return run("setuidgid", argv, stderr)
}
func Envuidgid(argv []string, _ io.Reader, _, stderr io.Writer) int {
	return run("envuidgid", argv, stderr)
}
func Envdir(argv []string, _ io.Reader, _, stderr io.Writer) int { return run("envdir", argv, stderr) }
func Pgrphack(argv []string, _ io.Reader, _, stderr io.Writer) int {
	return run("pgrphack", argv, stderr)
}
func Setlock(argv []string, _ io.Reader, _, stderr io.Writer) int {
	return run("setlock", argv, stderr)
}

func run(name string, argv []string, stderr io.Writer) int {
	return New(stderr).Run(name, argv)
}

// Run runs tool name with argv, then every svkit chain-loader it leads to,
// in this process, and execs the first other program. It returns only on
// failure, with the exit code.
func (c *Chain) Run(name string, argv []string) int {
	lockThread()
	for {
		st, code := tools[name](c, argv)
		if code >= 0 {
			return code
		}
		// pathexec looks the program up on the PATH of the process that
		// runs the tool, not the environment it is about to pass on.
		path := pathexec.SearchPath(c.Env)
		env := pathexec.Merge(c.Env, st.plus)
		file := st.argv[0]
		if next := c.Identify(file, path); next != "" && IsTool(next) {
			c.Env, argv, name = env, st.argv, next
			continue
		}
		err := c.Sys.Exec(pathexec.Candidates(file, path), st.argv, env, c.applyLimits)
		if err == errLimits {
			return c.code
		}
		// Back to the limits this process started with, so that even a
		// tiny limit lets it print the message.
		c.restoreLimits()
		return diag.Fatal(c.Stderr, name, diag.ExitTemp, "unable to run ", file, ": ", diag.Str(err))
	}
}
