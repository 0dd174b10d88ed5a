// Package svscanboot is daemontools' svscanboot, the program init starts at
// boot: with stdin, stdout and stderr on /dev/null it tells stale supervise
// processes of the scan directory to stop (`svc -dx DIR/* DIR/*/log`), then
// runs svscan with its output piped into readproctitle, so that `ps` shows
// the most recent errors of the whole tree. 0.76 does this in a shell
// script; svkit does it in Go, starting readproctitle and then becoming
// svscan itself, so that init or systemd signals svscan directly.
package svscanboot

import (
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"svkit/internal/diag"
	"svkit/internal/eintr"
	"svkit/internal/pathexec"
	"svkit/internal/svscan"
)

const prog = "svscanboot"

// Synopsis is svscanboot's usage line.
const Synopsis = "svscanboot [-o] [-i] [-k seconds] [dir]"

// DefaultDir is the scan directory of daemontools 0.76 (Debian's package
// patches its script to use /etc/service).
const DefaultDir = "/service"

// Path is the PATH 0.76's svscanboot sets for itself and its children.
const Path = "/command:/usr/local/bin:/usr/local/sbin:/bin:/sbin:/usr/bin:/usr/sbin:/usr/X11R6/bin"

// Title is readproctitle's argument list: "service errors:" and 400 dots.
var Title = []string{"service", "errors:", strings.Repeat(".", 400)}

// Plan is what svscanboot runs, worked out from its arguments.
type Plan struct {
	Dir        string
	Path       string   // PATH for svc, svscan and readproctitle
	SvcArgs    []string // arguments of svc -dx
	SvscanArgs []string // svscan's argv
}

// MakePlan works out the plan for args (argv without argv[0]). selfDir is
// the directory svscanboot was run from; it goes first in PATH unless 0.76's
// PATH already has it, so that the svscan, supervise, svc and readproctitle
// installed beside svscanboot are the ones run.
func MakePlan(args []string, selfDir string) (Plan, bool) {
	opt, ok := svscan.ParseArgs(args)
	if !ok {
		return Plan{}, false
	}
	p := Plan{Dir: opt.Dir, Path: Path}
	if p.Dir == "" {
		p.Dir = DefaultDir
	}
	if selfDir != "" && !contains(strings.Split(Path, ":"), selfDir) {
		p.Path = selfDir + ":" + Path
	}
	p.SvcArgs = []string{"svc", "-dx"}
	p.SvcArgs = append(p.SvcArgs, glob(p.Dir, "")...)
	p.SvcArgs = append(p.SvcArgs, glob(p.Dir, "/log")...)
	p.SvscanArgs = []string{"svscan"}
	if opt.Ordered {
		p.SvscanArgs = append(p.SvscanArgs, "-o")
	}
	if opt.InProcess {
		p.SvscanArgs = append(p.SvscanArgs, "-i")
	}
	if opt.KillAfter != svscan.DefaultKillAfter {
		p.SvscanArgs = append(p.SvscanArgs, "-k", strconv.Itoa(int(opt.KillAfter.Seconds())))
	}
	dir := p.Dir
	if dir[0] == '-' {
		dir = "./" + dir
	}
	p.SvscanArgs = append(p.SvscanArgs, dir)
	return p, true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// glob expands DIR/*SUFFIX as sh does: names not starting with '.', sorted,
// those for which DIR/NAME/SUFFIX exists when SUFFIX is given; with no match
// the pattern itself.
func glob(dir, suffix string) []string {
	pattern := dir + "/*" + suffix
	f, err := os.Open(dir)
	if err != nil {
		return []string{pattern}
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return []string{pattern}
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		if n[0] == '.' {
			continue
		}
		p := dir + "/" + n + suffix
		if suffix != "" {
			if _, err := os.Lstat(p); err != nil {
				continue
			}
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return []string{pattern}
	}
	return out
}

// Main is svscanboot. It returns only on failure; on success the process
// has become svscan.
func Main(args []string, _ io.Reader, _, stderr io.Writer) int {
	self := ""
	if exe, err := os.Executable(); err == nil {
		self = filepath.Dir(exe)
	}
	p, ok := MakePlan(args[1:], self)
	if !ok {
		return diag.Usage(stderr, prog, Synopsis)
	}
	if err := nullStdio(); err != nil {
		return diag.Fatal(stderr, prog, diag.ExitTemp, "unable to open /dev/null: ", diag.Str(err))
	}
	env := pathexec.Merge(pathexec.Environ(), []string{"PATH=" + p.Path})
	if pid, err := start(p.SvcArgs, env, p.Path, [3]uintptr{0, 1, 2}); err == nil {
		wait(pid)
	}

	clean := []string{"PATH=" + p.Path}
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err == nil {
		argv := append([]string{"readproctitle"}, Title...)
		if _, err := start(argv, clean, p.Path, [3]uintptr{uintptr(fds[0]), 1, 2}); err == nil {
			// svscan's stdout and stderr become the pipe; without a
			// readproctitle they stay on /dev/null.
			dup(fds[1], 1)
			dup(fds[1], 2)
		}
		unix.Close(fds[0])
		unix.Close(fds[1])
	}
	err := pathexec.Run(syscall.Exec, "svscan", p.SvscanArgs, clean, p.Path)
	return diag.Fatal(os.Stderr, prog, diag.ExitTemp, "unable to run svscan: ", diag.Str(err))
}

// nullStdio puts /dev/null on descriptors 0, 1 and 2.
func nullStdio() error {
	fd, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	for i := 0; i < 3; i++ {
		if fd != i {
			if err := dup(fd, i); err != nil {
				return err
			}
		}
	}
	if fd > 2 {
		unix.Close(fd)
	}
	return nil
}

func dup(from, to int) error {
	return eintr.Do(func() error { return unix.Dup3(from, to, 0) })
}

// start runs argv[0], searched in path as 0.76's pathexec does, with the
// given descriptors as 0, 1 and 2.
func start(argv, env []string, path string, files [3]uintptr) (int, error) {
	var pid int
	err := pathexec.Run(func(file string, argv, env []string) error {
		var err error
		pid, err = syscall.ForkExec(file, argv, &syscall.ProcAttr{Env: env, Files: files[:]})
		return err
	}, argv[0], argv, env, path)
	return pid, err
}

func wait(pid int) {
	var ws unix.WaitStatus
	eintr.Retry(func() (int, error) { return unix.Wait4(pid, &ws, 0, nil) })
}
