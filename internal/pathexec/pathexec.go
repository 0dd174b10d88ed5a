// Package pathexec finds and starts programs the way daemontools 0.76's
// pathexec does: a PATH search that execve's each candidate in turn (PATH
// unset means /bin:/usr/bin, an empty element means the current directory),
// and environment changes that are merged into the inherited environment
// with 0.76's exact algorithm, so that `env` prints the same bytes in the
// same order.
package pathexec

import (
	"bytes"
	"os"
	"strings"
	"syscall"

	"svkit/internal/sysfile"
)

// DefaultPath is the search path used when PATH is not set.
const DefaultPath = "/bin:/usr/bin"

// Getenv returns the value of the first entry of env named name, as C's
// getenv (and djb's env_get) do, and whether there was one.
func Getenv(env []string, name string) (string, bool) {
	for _, e := range env {
		if len(e) > len(name) && e[len(name)] == '=' && e[:len(name)] == name {
			return e[len(name)+1:], true
		}
	}
	return "", false
}

// SearchPath returns the PATH that a program running with env searches.
func SearchPath(env []string) string {
	if p, ok := Getenv(env, "PATH"); ok {
		return p
	}
	return DefaultPath
}

// Candidates returns, in order, the file names that pathexec tries for
// file: file itself when it contains a slash, else each element of path
// joined with file (an empty element means ".").
func Candidates(file, path string) []string {
	if strings.IndexByte(file, '/') >= 0 {
		return []string{file}
	}
	var out []string
	for {
		i := strings.IndexByte(path, ':')
		dir := path
		if i >= 0 {
			dir = path[:i]
		}
		if dir == "" {
			dir = "."
		}
		out = append(out, dir+"/"+file)
		if i < 0 {
			return out
		}
		path = path[i+1:]
	}
}

// Merge applies environment changes to env the way 0.76's pathexec does.
// Each change is "name=value" (set) or "name" (unset); the name ends at the
// first '='. For each change in order, the first entry of env with that
// name is removed by moving the last entry into its place, then a "set"
// change is appended. env is not modified.
func Merge(env []string, plus []string) []string {
	e := make([]string, len(env), len(env)+len(plus))
	copy(e, env)
	for _, p := range plus {
		split := strings.IndexByte(p, '=')
		name := p
		if split >= 0 {
			name = p[:split]
		}
		for t := range e {
			if len(e[t]) > len(name) && e[t][len(name)] == '=' && e[t][:len(name)] == name {
				last := len(e) - 1
				e[t] = e[last]
				e = e[:last]
				break
			}
		}
		if split >= 0 {
			e = append(e, p)
		}
	}
	return e
}

// Execer replaces the process image; syscall.Exec is the real one.
type Execer func(path string, argv, env []string) error

// Run execs file with argv and env, searching path like 0.76's
// pathexec_run: each candidate is execve'd in turn; ENOENT moves on
// silently, EACCES, EPERM and EISDIR move on but are remembered, any other
// error stops the search. It returns only on failure, with the error to
// report (the remembered one when the search ran out).
func Run(exec Execer, file string, argv, env []string, path string) error {
	var saved error
	for _, c := range Candidates(file, path) {
		err := exec(c, argv, env)
		if err == nil || !Continue(err, &saved) {
			return err
		}
	}
	return Final(saved)
}

// Continue reports whether the search goes on after a candidate failed
// with err, and remembers in *saved the error to report if it runs out.
func Continue(err error, saved *error) bool {
	if err != syscall.ENOENT {
		*saved = err
		return err == syscall.EACCES || err == syscall.EPERM || err == syscall.EISDIR
	}
	return true
}

// Final is the error a search that ran out reports.
func Final(saved error) error {
	if saved != nil {
		return saved
	}
	return syscall.ENOENT
}

// Environ returns the environment this process was started with, exactly:
// in order, with duplicate names and entries without '=' kept (Go's
// os.Environ drops duplicates). It reads /proc/self/environ and falls back
// to os.Environ when /proc is not mounted.
func Environ() []string {
	b, err := sysfile.ReadFile("/proc/self/environ")
	if err != nil {
		return os.Environ()
	}
	if len(b) == 0 {
		return []string{}
	}
	b = bytes.TrimSuffix(b, []byte{0})
	return strings.Split(string(b), "\x00")
}
