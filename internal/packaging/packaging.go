// Package packaging holds the tests of what turns the svkit source into an
// installed, booted, documented system: package/compile, package/install,
// package/deb (the Debian packages svkit and svkit-run),
// package/upgrade, the boot files, the man pages, the README's quick start
// and scripts/demo. It has no code of its own; the helpers below are shared
// by those tests.
package packaging

import (
	"os"
	"path/filepath"
	"strings"
)

// Programs is every program svkit provides, one per cmd/ directory and one
// man page each.
var Programs = []string{
	"envdir", "envuidgid", "fghack", "multilog", "pgrphack", "readproctitle",
	"setlock", "setuidgid", "softlimit", "supervise", "svc", "svok",
	"svgroup", "svhttpd", "svlog", "svprof", "svscan", "svscanboot", "svstat", "svwait", "tai64n", "tai64nlocal",
}

// ResolveIn follows the symlinks of path as if dir were the root directory:
// absolute link targets are taken relative to dir. It returns the resolved
// path (inside dir) and the number of links followed.
func ResolveIn(dir, path string) (string, int, error) {
	links := 0
	rest := strings.Split(strings.Trim(path, "/"), "/")
	cur := dir
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		if c == "" || c == "." {
			continue
		}
		if c == ".." {
			if cur != dir {
				cur = filepath.Dir(cur)
			}
			continue
		}
		next := filepath.Join(cur, c)
		fi, err := os.Lstat(next)
		if err != nil {
			return "", links, err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			cur = next
			continue
		}
		links++
		if links > 40 {
			return "", links, &os.PathError{Op: "resolve", Path: path, Err: os.ErrInvalid}
		}
		target, err := os.Readlink(next)
		if err != nil {
			return "", links, err
		}
		if strings.HasPrefix(target, "/") {
			cur = dir
		}
		rest = append(strings.Split(strings.Trim(target, "/"), "/"), rest...)
	}
	return cur, links, nil
}
