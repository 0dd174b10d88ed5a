// Package multilog is daemontools' multilog: it reads lines from stdin,
// selects them with +/- patterns, and writes them to automatically rotated
// log directories, an alert stream (e) and status files (=), as 0.76 does,
// with crash-safe rotation (fsynced archives and directory), symlink-safe
// file handling relative to each directory's descriptor, one write per
// input read and destination, and, on a pipe, input consumed only once its
// lines are written, so that a SIGKILL loses nothing (pipe.go).
package multilog

// Kind is what one script argument does.
type Kind int

// The action kinds of a multilog script.
const (
	Ignored   Kind = iota // anything 0.76 silently ignores
	Stamp                 // t or T as the first argument
	Select                // +pattern
	Deselect              // -pattern
	Alert                 // e: selected lines to stderr
	Status                // =file
	Size                  // sN
	Count                 // nN
	Processor             // !processor
	Dir                   // ./dir or /dir
)

// Action is one parsed script argument.
type Action struct {
	Kind Kind
	Arg  string // the pattern, file, processor or directory; the raw argument for Ignored
	N    uint64 // the clamped value of s and n
}

// Script is a parsed multilog script.
type Script struct {
	Actions []Action
	Stamp   byte // 0, 't' (TAI64N) or 'T' (seconds.microseconds)
}

// scanUlong is djb's scan_ulong: the value of the leading decimal digits,
// 0 when there are none, wrapping like C's unsigned long.
func scanUlong(s string) uint64 {
	var u uint64
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		u = u*10 + uint64(s[i]-'0')
	}
	return u
}

// Parse classifies every argument as 0.76 does: only the first argument's
// first character decides t (and svkit's T); then each argument is an
// action by its first character.
func Parse(args []string) Script {
	var s Script
	for i, a := range args {
		act := Action{Kind: Ignored, Arg: a}
		if a == "" {
			s.Actions = append(s.Actions, act)
			continue
		}
		if i == 0 && (a[0] == 't' || a[0] == 'T') {
			s.Stamp = a[0]
			act.Kind = Stamp
			s.Actions = append(s.Actions, act)
			continue
		}
		switch a[0] {
		case '+':
			act = Action{Kind: Select, Arg: a[1:]}
		case '-':
			act = Action{Kind: Deselect, Arg: a[1:]}
		case 'e':
			act = Action{Kind: Alert, Arg: a}
		case '=':
			act = Action{Kind: Status, Arg: a[1:]}
		case 's':
			n := scanUlong(a[1:])
			if n < 4096 {
				n = 4096
			}
			if n > 16777215 {
				n = 16777215
			}
			act = Action{Kind: Size, Arg: a, N: n}
		case 'n':
			n := scanUlong(a[1:])
			if n < 2 {
				n = 2
			}
			act = Action{Kind: Count, Arg: a, N: n}
		case '!':
			act = Action{Kind: Processor, Arg: a[1:]}
		case '.', '/':
			act = Action{Kind: Dir, Arg: a}
		}
		s.Actions = append(s.Actions, act)
	}
	return s
}

// Writes reports whether any action sends lines somewhere (e, = or a
// directory).
func (s Script) Writes() bool {
	for _, a := range s.Actions {
		switch a.Kind {
		case Alert, Status, Dir:
			return true
		}
	}
	return false
}

// IgnoredArgs returns the arguments 0.76 silently ignores.
func (s Script) IgnoredArgs() []string {
	var r []string
	for _, a := range s.Actions {
		if a.Kind == Ignored {
			r = append(r, a.Arg)
		}
	}
	return r
}
