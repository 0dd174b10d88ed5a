package svlog

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"svkit/internal/diag"
	"svkit/pkg/svdir"
)

// Source is where one service's log is read from.
type Source struct {
	Name    string   // the service directory's name, shown before each line
	Service string   // the service directory as given
	Dir     string   // the log directory read
	All     []string // every log directory the logger writes that holds a current, Dir among them
	Running bool     // Dir was found from the running logger's command line
}

// ErrNoLogger is returned by Find for a service without a log directory.
var ErrNoLogger = errors.New("no logger")

// FindError is a service whose log Find cannot locate.
type FindError struct {
	Service string
	Why     string
	Err     error
}

func (e *FindError) Error() string {
	s := e.Service + ": " + e.Why
	if e.Err != nil && e.Err != ErrNoLogger {
		s += ": " + diag.Str(e.Err)
	}
	return s
}

func (e *FindError) Unwrap() error { return e.Err }

// Find locates the log directory of the service directory dir the way an
// operator would: from the running logger (its pid in
// dir/log/supervise/status, its arguments and working directory in /proc),
// else dir/log/main, else dir/log itself when it holds a current. Of the
// directories a logger writes, those holding a current count; pick chooses
// one by its name as written in the script ("./main") or its last element
// ("main"), and without pick the first is read.
func Find(dir, pick string) (Source, error) {
	dir = strings.TrimRight(dir, "/")
	if dir == "" {
		dir = "/"
	}
	src := Source{Name: filepath.Base(dir), Service: dir}
	logDir := filepath.Join(dir, "log")
	st, err := os.Stat(logDir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return src, &FindError{dir, "no logger (no log directory)", ErrNoLogger}
		}
		return src, &FindError{dir, "unable to stat " + logDir, err}
	}
	if !st.IsDir() {
		return src, &FindError{dir, "no logger (" + logDir + " is not a directory)", ErrNoLogger}
	}
	if dirs, ok := fromLogger(logDir); ok {
		var have []string
		for _, d := range dirs {
			if hasCurrent(d) {
				have = append(have, d)
			}
		}
		if len(have) > 0 {
			src.All, src.Running = have, true
			return choose(src, pick)
		}
	}
	for _, d := range []string{filepath.Join(logDir, "main"), logDir} {
		if hasCurrent(d) {
			src.Dir, src.All = d, []string{d}
			return src, nil
		}
	}
	if _, err := os.Stat(filepath.Join(logDir, "main")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return src, &FindError{dir, "unable to read " + filepath.Join(logDir, "main"), err}
	}
	return src, &FindError{dir, "no log found (logger down or writing nowhere svlog knows)", ErrNoLogger}
}

// choose sets src.Dir from src.All and pick.
func choose(src Source, pick string) (Source, error) {
	if pick == "" {
		src.Dir = src.All[0]
		return src, nil
	}
	p := strings.TrimRight(pick, "/")
	for _, d := range src.All {
		if d == p || filepath.Base(d) == filepath.Base(p) {
			src.Dir = d
			return src, nil
		}
	}
	return src, &FindError{src.Service, "logger writes no directory named " + pick + " (it writes " + strings.Join(src.All, " ") + ")", ErrNoLogger}
}

// hasCurrent reports whether d/current exists (readable or not: a directory
// svlog may not read is reported when it is read).
func hasCurrent(d string) bool {
	var st unix.Stat_t
	err := unix.Stat(d+"/current", &st)
	return err == nil || err == unix.EACCES
}

// fromLogger returns the log directories named on the running logger's
// command line, made absolute against its working directory (or logDir when
// /proc does not say).
func fromLogger(logDir string) ([]string, bool) {
	r, err := svdir.ReadStatusOf(logDir)
	if err != nil || r.Pid == 0 {
		return nil, false
	}
	proc := "/proc/" + strconv.Itoa(r.Pid)
	cmd, err := os.ReadFile(proc + "/cmdline")
	if err != nil || len(cmd) == 0 {
		return nil, false
	}
	cwd, err := os.Readlink(proc + "/cwd")
	if err != nil || strings.HasSuffix(cwd, " (deleted)") {
		cwd = logDir
	}
	args := strings.Split(strings.TrimSuffix(string(cmd), "\x00"), "\x00")
	dirs := ScriptDirs(args)
	if dirs == nil {
		return nil, false
	}
	start := startDir(dirs, cwd, logDir)
	for i, d := range dirs {
		if !filepath.IsAbs(d) {
			dirs[i] = filepath.Join(start, d)
		}
	}
	return dirs, true
}

// startDir returns the directory the logger's relative directories are
// relative to. svkit's multilog stays where it was started, but 0.76's
// changes into the directories it writes, so its working directory may be
// one of them: the first of cwd, cwd without a trailing directory argument,
// and logDir (where supervise starts log/run) under which a relative
// directory holds a current.
func startDir(dirs []string, cwd, logDir string) string {
	cands := []string{cwd}
	for _, d := range dirs {
		if c := filepath.Clean(d); !filepath.IsAbs(c) && strings.HasSuffix(cwd, "/"+c) {
			cands = append(cands, strings.TrimSuffix(cwd, "/"+c))
		}
	}
	cands = append(cands, logDir)
	for _, start := range cands {
		for _, d := range dirs {
			if !filepath.IsAbs(d) && hasCurrent(filepath.Join(start, d)) {
				return start
			}
		}
	}
	return cwd
}

// ScriptDirs returns the directories of a multilog command line (argv as in
// /proc/PID/cmdline, possibly after chain-loaders such as setuidgid): the
// script arguments starting with '.' or '/', as multilog reads them. It
// returns nil when argv runs no multilog.
func ScriptDirs(argv []string) []string {
	start := -1
	for i, a := range argv {
		if filepath.Base(a) == "multilog" {
			start = i + 1
			break
		}
	}
	if start < 0 {
		return nil
	}
	dirs := []string{}
	for _, a := range argv[start:] {
		if strings.HasPrefix(a, ".") || strings.HasPrefix(a, "/") {
			dirs = append(dirs, a)
		}
	}
	return dirs
}
