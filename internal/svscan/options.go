// Package svscan is daemontools' svscan: it starts one supervise for every
// subdirectory of a scan directory (and a second one, joined by a pipe that
// lives as long as the entry, for each X/log), restarts any supervise that
// exits, and forgets services whose directory is gone once their supervise
// processes have exited.
//
// On top of 0.76 it notices new directories at once through inotify (the
// 5-second pass stays as the fallback, and SIGALRM forces a pass), reaps
// every child as soon as SIGCHLD arrives, and can take the whole tree down in
// order (services first, then their loggers once the pipe is drained) on
// SIGTERM or SIGINT: with the -o option, or always when it runs as PID 1.
// With -i it runs the supervisor of every service and log itself, in its
// own process, instead of a supervise process each (inproc.go).
package svscan

import (
	"strconv"
	"strings"
	"time"
)

// Synopsis is svscan's usage line.
const Synopsis = "svscan [-o] [-i] [-k seconds] [dir]"

// DefaultKillAfter bounds an ordered shutdown: what is still running after
// it gets SIGKILL. It is below the 10 s docker and podman give a container
// between SIGTERM and SIGKILL.
const DefaultKillAfter = 8 * time.Second

// Options are svscan's command-line settings.
type Options struct {
	Dir       string        // the scan directory; "" means the current one
	Ordered   bool          // -o: SIGTERM/SIGINT start an ordered shutdown
	InProcess bool          // -i: supervise every service in svscan's own process
	KillAfter time.Duration // -k: how long an ordered shutdown may take
}

// ParseArgs reads svscan's arguments (argv without argv[0]). 0.76 takes
// only a directory and ignores further arguments; svkit adds options in
// front of it. An argument starting with '-' that is not a valid option
// group is taken as the directory, as 0.76 would; "--" ends the options.
// ok is false on a malformed -k value.
func ParseArgs(args []string) (opt Options, ok bool) {
	opt.KillAfter = DefaultKillAfter
	for len(args) > 0 {
		a := args[0]
		if a == "--" {
			args = args[1:]
			break
		}
		if len(a) < 2 || a[0] != '-' || !validGroup(a[1:]) {
			break
		}
		args = args[1:]
		for i := 1; i < len(a); i++ {
			switch a[i] {
			case 'o':
				opt.Ordered = true
			case 'i':
				opt.InProcess = true
			case 'k':
				v := a[i+1:]
				if v == "" {
					if len(args) == 0 {
						return opt, false
					}
					v, args = args[0], args[1:]
				}
				n, err := strconv.ParseUint(v, 10, 32)
				if err != nil || n == 0 {
					return opt, false
				}
				opt.KillAfter = time.Duration(n) * time.Second
				i = len(a)
			}
		}
	}
	if len(args) > 0 {
		opt.Dir = args[0]
	}
	return opt, true
}

// validGroup reports whether s (an argument without its '-') is a group
// of svscan's option letters, -k last and possibly with its value glued.
func validGroup(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case 'o', 'i':
		case 'k':
			return i == len(s)-1 || strings.Trim(s[i+1:], "0123456789") == ""
		default:
			return false
		}
	}
	return true
}
