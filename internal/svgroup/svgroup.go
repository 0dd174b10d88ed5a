// Package svgroup is svkit's svgroup: it starts, stops or restarts a group
// of services in dependency order (their needs/ and binds/ links, package
// needs).
//
//	svgroup -u|-d|-t dir...
//
//	-u  up: the services that need nothing in the group first; each wave
//	    is told "u" and waited for until ready (svdir.NeedReady: ready by
//	    its readiness protocol, or up a second), then the services that
//	    need them
//	-d  down: dependents first (with the services outside any dependency);
//	    each wave is told "d" and waited for until down, then what they need
//	-t  restart: -d, then -u
//
// The last option given wins. Links to services outside the group order
// nothing (supervise itself waits for them); a cycle is broken as supervise
// breaks it, with a warning. Every dir must have a running supervise:
// otherwise svgroup says so and exits 111 before it sends anything. It
// waits on inotify watches, never polling, and as long as it takes: bound
// it with timeout(1) where that matters.
//
// Exit codes: 0 done, 100 usage, 111 system failure.
package svgroup

import (
	"io"

	"svkit/internal/diag"
	"svkit/internal/needs"
	"svkit/internal/sgetopt"
	"svkit/pkg/svdir"
)

const prog = "svgroup"

// Synopsis is the usage line.
const Synopsis = "svgroup -u|-d|-t dir..."

// Main runs svgroup with argv (argv[0] is the program name) and returns the
// exit code.
func Main(argv []string, _ io.Reader, _, stderr io.Writer) int {
	mode, dirs, ok := parse(argv, stderr)
	if !ok {
		return diag.Usage(stderr, prog, Synopsis)
	}
	for _, d := range dirs {
		if code := checkSupervised(d, stderr); code != 0 {
			return code
		}
	}
	g := needs.Build(dirs)
	for _, c := range g.Cycle {
		diag.Warn(stderr, prog, "needs cycle: ", c)
	}
	if mode == 'd' || mode == 't' {
		if code := apply(dirs, g.StopWaves(), "d", needs.Down, stderr); code != 0 {
			return code
		}
	}
	if mode == 'u' || mode == 't' {
		if code := apply(dirs, g.Waves(), "u", needs.Ready, stderr); code != 0 {
			return code
		}
	}
	return 0
}

// parse reads the command line: the mode letter and the directories.
func parse(argv []string, stderr io.Writer) (mode int, dirs []string, ok bool) {
	p := sgetopt.New(argv, "udt", stderr)
	for c := p.Next(); c != sgetopt.EOF; c = p.Next() {
		switch c {
		case 'u', 'd', 't':
			mode = c
		default:
			return 0, nil, false
		}
	}
	dirs = p.Rest()
	return mode, dirs, mode != 0 && len(dirs) > 0
}

// checkSupervised returns 0 if a supervise runs for dir, else 111 after
// saying why, in svc's words.
func checkSupervised(dir string, stderr io.Writer) int {
	ok, err := svdir.Supervised(dir)
	if err != nil {
		return diag.Fatal(stderr, prog, diag.ExitTemp, err.Error())
	}
	if !ok {
		return diag.Fatal(stderr, prog, diag.ExitTemp, "unable to control ", dir, ": supervise not running")
	}
	return 0
}

// apply sends letter to each wave in turn and waits until cond holds for
// all of the wave.
func apply(dirs []string, waves [][]int, letter string, cond needs.Cond, stderr io.Writer) int {
	for _, wave := range waves {
		var these []string
		for _, i := range wave {
			if err := svdir.Send(dirs[i], letter); err != nil {
				return diag.Fatal(stderr, prog, diag.ExitTemp, "unable to control ", dirs[i], ": ", svdir.ErrText(err))
			}
			these = append(these, dirs[i])
		}
		if err := needs.Wait(these, cond); err != nil {
			return diag.Fatal(stderr, prog, diag.ExitTemp, "unable to wait for ", these[0], ": ", diag.Str(err))
		}
	}
	return 0
}
