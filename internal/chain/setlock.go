package chain

import (
	"golang.org/x/sys/unix"

	"svkit/internal/diag"
	"svkit/internal/eintr"
	"svkit/internal/sgetopt"
)

const setlockUsage = "setlock: usage: setlock [ -nNxX ] file program [ arg ... ]\n"

func setlock(c *Chain, argv []string) (step, int) {
	g := sgetopt.New(argv, "nNxX", c.Stderr)
	ndelay, x := false, false
	for opt := g.Next(); opt != sgetopt.EOF; opt = g.Next() {
		switch opt {
		case 'n':
			ndelay = true
		case 'N':
			ndelay = false
		case 'x':
			x = true
		case 'X':
			x = false
		default:
			return step{}, usage(c, setlockUsage)
		}
	}
	rest := g.Rest()
	if len(rest) < 2 {
		return step{}, usage(c, setlockUsage)
	}
	file := rest[0]
	// The descriptor is deliberately not close-on-exec: the program
	// inherits it, so the lock lives exactly as long as the program.
	var fd int
	var err error
	fd, err = eintr.Retry(func() (int, error) {
		return unix.Open(file, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_APPEND|unix.O_CREAT, 0600)
	})
	if err != nil {
		if x {
			return step{}, 0
		}
		return step{}, diag.Fatal(c.Stderr, "setlock", diag.ExitTemp, "unable to open ", file, ": ", diag.Str(err))
	}
	how := unix.LOCK_EX
	if ndelay {
		how |= unix.LOCK_NB
	}
	err = eintr.Do(func() error { return unix.Flock(fd, how) })
	if err != nil {
		unix.Close(fd)
		if x {
			return step{}, 0
		}
		return step{}, diag.Fatal(c.Stderr, "setlock", diag.ExitTemp, "unable to lock ", file, ": ", diag.Str(err))
	}
	return step{argv: rest[1:]}, -1
}
