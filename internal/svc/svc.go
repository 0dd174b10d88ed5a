// Package svc is daemontools' svc: it sends control letters to the
// supervise processes of one or more service directories.
//
//	svc [-udopchaitkx] dirs...
//
// The letters are de-duplicated in the order of their first appearance and
// written to each DIR/supervise/control in one write. A directory that fails
// gives a warning and does not change the exit code (0); a bad option prints
// the 0.76 option line and exits 100.
package svc

import (
	"errors"
	"io"

	"golang.org/x/sys/unix"

	"svkit/internal/diag"
	"svkit/internal/sgetopt"
	"svkit/pkg/svdir"
)

const prog = "svc"

// UsageLine is what 0.76 svc prints (without a "svc: " prefix) after a bad
// option.
const UsageLine = "svc options: u up, d down, o once, x exit, p pause, c continue, h hup, a alarm, i interrupt, t term, k kill"

// Parse reads svc's options from argv (argv[0] is the program name) and
// returns the command letters to send (de-duplicated, at most
// svdir.MaxLetters) and the directories. On a bad option it prints the
// complaint and the option line to stderr and returns ok == false.
func Parse(argv []string, stderr io.Writer) (letters string, dirs []string, ok bool) {
	var all []byte
	p := sgetopt.New(argv, svdir.Letters, stderr)
	for c := p.Next(); c != sgetopt.EOF; c = p.Next() {
		if c == '?' {
			io.WriteString(stderr, UsageLine+"\n")
			return "", nil, false
		}
		all = append(all, byte(c))
	}
	return svdir.Dedup(string(all)), p.Rest(), true
}

// Main runs svc with argv (argv[0] is the program name) and returns the exit
// code.
func Main(argv []string, _ io.Reader, stdout, stderr io.Writer) int {
	data, dirs, ok := Parse(argv, stderr)
	if !ok {
		return diag.ExitUsage
	}

	// 0.76 opens "." first to come back to it after each chdir; keep its
	// failure (exit 111) even though svkit works with paths instead.
	fd, err := unix.Open(".", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return diag.Fatal(stderr, prog, diag.ExitTemp, "unable to open current directory: ", diag.Str(err))
	}
	unix.Close(fd)

	for _, dir := range dirs {
		Control(stderr, dir, data)
	}
	return 0
}

// Control sends data to dir/supervise/control, writing 0.76's warnings to
// stderr. It reports whether the letters were delivered.
func Control(stderr io.Writer, dir, data string) bool {
	dfd, err := svdir.OpenDir(dir)
	if err != nil {
		diag.Warn(stderr, prog, "unable to chdir to ", dir, ": ", diag.Str(err))
		return false
	}
	defer unix.Close(dfd)
	err = svdir.SendAt(dfd, data)
	if err == nil {
		return true
	}
	var sendErr *svdir.SendError
	switch {
	case errors.As(err, &sendErr):
		diag.Warn(stderr, prog, "error writing commands to ", dir, ": ", diag.Str(sendErr.Err))
	case errors.Is(err, unix.ENXIO):
		diag.Warn(stderr, prog, "unable to control ", dir, ": supervise not running")
	case errors.Is(err, svdir.ErrSymlink):
		diag.Warn(stderr, prog, "unable to control ", dir, ": ", svdir.ControlPath, " is a symbolic link")
	case errors.Is(err, svdir.ErrNotFIFO):
		diag.Warn(stderr, prog, "unable to control ", dir, ": ", svdir.ControlPath, " is not a FIFO")
	default:
		diag.Warn(stderr, prog, "unable to control ", dir, ": ", diag.Str(err))
	}
	return false
}
