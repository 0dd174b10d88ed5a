// Package testenv is the kit svkit's tests share, so that no package keeps
// its own copy of a helper: the programs built once per test binary, the
// location of Debian's daemontools for the interop tests, prerequisites
// that fail under CI and skip elsewhere, bounded polling, processes run to
// completion or cleaned up by pid (testenv.go), supervise processes, their
// test schedule and cgroups (supervise.go), looks into /proc and kills by
// working directory (proc.go), readers of the supervise/ records that wait
// for a state, test directories, needs links and multilog directories read
// back (svdir.go), command lines for fuzzers (fuzz.go), and input cut into
// random reads (chunk.go).
package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
	buildErrs map[string]string // program -> build error
)

// build compiles the packages matching pattern into dir, statically.
func build(dir, pattern string) ([]byte, error) {
	// The svkit_testhooks tag lets a test speed up supervise's schedule
	// (SVKIT_TEST_TIMESCALE); without that variable the programs behave as
	// released.
	cmd := exec.Command("go", "build", "-tags", "svkit_testhooks", "-o", dir+"/", pattern)
	cmd.Dir = Root()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	return cmd.CombinedOutput()
}

// Root returns the repository's top directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Bin builds every program under cmd/ (once per test process, static, as
// the release builds them) and returns the directory that holds them. A
// test binary has no exit hook, so the directory holds a lock for as long
// as its test process lives, and the next test process that builds
// removes every such directory whose lock is free.
func Bin(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		closeInherited()
		removeStaleBins()
		dir, err := os.MkdirTemp("", "svkit-bin-")
		if err != nil {
			buildErr = err
			return
		}
		// Held (close-on-exec) until this process exits.
		lock, err := syscall.Open(filepath.Join(dir, binLock), syscall.O_RDONLY|syscall.O_CREAT|syscall.O_CLOEXEC, 0600)
		if err == nil {
			err = syscall.Flock(lock, syscall.LOCK_SH)
		}
		if err != nil {
			buildErr = fmt.Errorf("lock %s: %w", dir, err)
			return
		}
		if _, err := build(dir, "./cmd/..."); err != nil {
			// Build what builds, so one broken program fails only the
			// tests that need it (Prog reports its build error).
			buildErrs = map[string]string{}
			ents, _ := os.ReadDir(filepath.Join(Root(), "cmd"))
			for _, e := range ents {
				if out, err := build(dir, "./cmd/"+e.Name()); err != nil {
					buildErrs[e.Name()] = fmt.Sprintf("go build: %v\n%s", err, out)
				}
			}
		}
		binDir = dir
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// binLock is the file in a program directory that its test process holds
// locked while it lives.
const binLock = ".lock"

// removeStaleBins removes the program directories of test processes that
// have exited: their lock is free. A directory without a lock, or one a
// minute old at most (its process may be between creating and locking
// it), is removed only after an hour.
func removeStaleBins() {
	old, _ := filepath.Glob(filepath.Join(os.TempDir(), "svkit-bin-*"))
	for _, d := range old {
		st, err := os.Stat(d)
		if err != nil {
			continue
		}
		age := time.Since(st.ModTime())
		if age > time.Hour || (age > time.Minute && lockFree(filepath.Join(d, binLock))) {
			os.RemoveAll(d)
		}
	}
}

// lockFree reports whether the lock file name exists and nobody holds it.
func lockFree(name string) bool {
	fd, err := syscall.Open(name, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return false
	}
	defer syscall.Close(fd)
	return syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB) == nil
}

// closeInherited marks every descriptor the test process inherited above
// stderr close-on-exec, so the programs under test start with exactly the
// descriptors a test gives them, as under an init system.
func closeInherited() {
	ents, _ := os.ReadDir("/proc/self/fd")
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}

// Prog returns the path of one built svkit program.
func Prog(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(Bin(t), name)
	if msg, ok := buildErrs[name]; ok {
		t.Fatalf("program %s did not build: %s", name, msg)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("program %s was not built: %v", name, err)
	}
	return p
}

// InCI reports whether the tests run under CI, where a missing prerequisite
// is a failure rather than a skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// Require fails the test (under CI) or skips it (elsewhere) when ok is false.
func Require(t testing.TB, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if InCI() {
		t.Fatalf("prerequisite missing in CI: %s", why)
	}
	t.Skipf("skipped: %s", why)
}

// DebianDir is where Debian's daemontools package installs its programs.
const DebianDir = "/usr/bin"

// Debian returns the absolute path of a program from Debian's daemontools
// (or runit, s6) package, failing under CI and skipping elsewhere when it is
// not installed. scripts/test installs the packages.
func Debian(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(DebianDir, name)
	_, err := os.Stat(p)
	Require(t, err == nil, "Debian's "+p+" is not installed (apt-get install daemontools)")
	return p
}

// RequireRoot fails under CI and skips elsewhere when not running as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	Require(t, os.Geteuid() == 0, "needs root")
}

// WaitFor polls cond every few milliseconds until it returns true or the
// timeout passes, then fails the test with the message.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Proc is a process started by a test.
type Proc struct {
	Cmd    *exec.Cmd
	Stdout *Output
	Stderr *Output
	done   chan struct{}
	state  *os.ProcessState
}

// Output is a process's output captured in a file, so that descendants
// which inherit the descriptor never keep the test waiting for end of file.
type Output struct {
	f *os.File
}

// String returns what was written so far.
func (o *Output) String() string {
	if o == nil || o.f == nil {
		return ""
	}
	b, _ := os.ReadFile(o.f.Name())
	return string(b)
}

func newOutput(t testing.TB) *Output {
	f, err := os.CreateTemp(t.TempDir(), "out-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &Output{f: f}
}

// Start runs cmd in the background, capturing its output in files unless
// the caller set Stdout/Stderr, and registers a cleanup that kills it by
// pid and waits for it.
func Start(t testing.TB, cmd *exec.Cmd) *Proc {
	t.Helper()
	p := prepare(t, cmd)
	p.start(t)
	return p
}

// prepare gives cmd its output files, so that start has nothing left to do
// but fork.
func prepare(t testing.TB, cmd *exec.Cmd) *Proc {
	p := &Proc{Cmd: cmd, Stdout: &Output{}, Stderr: &Output{}, done: make(chan struct{})}
	if cmd.Stdout == nil {
		p.Stdout = newOutput(t)
		cmd.Stdout = p.Stdout.f
	}
	if cmd.Stderr == nil {
		p.Stderr = newOutput(t)
		cmd.Stderr = p.Stderr.f
	}
	return p
}

// start starts the prepared process and registers its cleanup.
func (p *Proc) start(t testing.TB) {
	t.Helper()
	cmd := p.Cmd
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", cmd.Args, err)
	}
	go func() {
		// Wait for the process itself, not for copies of its output
		// descriptors that its children may hold.
		p.state, _ = cmd.Process.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
			return
		default:
		}
		syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			t.Errorf("process %d did not exit after SIGKILL", cmd.Process.Pid)
		}
	})
}

// Pid returns the process id.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Wait waits at most timeout for the process to exit and returns its exit
// code (-1 when killed by a signal).
func (p *Proc) Wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("process %v (pid %d) still running after %v; stderr: %s", p.Cmd.Args, p.Pid(), timeout, p.Stderr)
	}
	return p.state.ExitCode()
}

// State returns the exit state once the process has exited (else nil).
func (p *Proc) State() *os.ProcessState {
	select {
	case <-p.done:
		return p.state
	default:
		return nil
	}
}

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// KillAndWait kills the process with sig and waits for it to exit.
func (p *Proc) KillAndWait(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if !p.Exited() {
		syscall.Kill(p.Pid(), sig)
	}
	p.Wait(t, 5*time.Second)
}

// Run runs a program to completion with the given stdin and returns its
// stdout, stderr and exit code.
func Run(t testing.TB, dir string, stdin string, name string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	code := ExitCode(t, cmd, cmd.Run())
	return out.String(), errb.String(), code
}

// ExitCode returns the exit code that err, from running cmd, stands for: 0
// for nil, the code of an *exec.ExitError (-1 when a signal killed the
// process). Any other error (the program could not be started) fails the
// test.
func ExitCode(t testing.TB, cmd *exec.Cmd, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("run %v: %v", cmd.Args, err)
	}
	return ee.ExitCode()
}

// MustRun runs a system command to completion, failing the test with its
// output if it does not exit 0.
func MustRun(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %q: %v: %s", name, args, err, out)
	}
}

// Alive reports whether pid names a live, non-zombie process.
func Alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	return s[i+2] != 'Z' && s[i+2] != 'X'
}

// WriteScript writes an executable shell script.
func WriteScript(t testing.TB, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0755); err != nil {
		t.Fatal(err)
	}
}
