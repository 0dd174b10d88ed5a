package chain

import (
	"io"
	"syscall"

	"golang.org/x/sys/unix"

	"svkit/internal/diag"
	"svkit/internal/sgetopt"
)

const softlimitUsage = "softlimit: usage: softlimit [-a allbytes] [-c corebytes] [-d databytes] [-f filebytes] [-l lockbytes] [-m membytes] [-o openfiles] [-p processes] [-r residentbytes] [-s stackbytes] [-t cpusecs] child\n"

// limit is one soft limit softlimit will set: to the hard limit (hard) or
// to val clamped to the hard limit.
type limit struct {
	resource int
	hard     bool
	val      uint64
}

// softlimitResources maps each option to the resources it sets, as 0.76
// compiled on Linux (no RLIMIT_VMEM; RLIMIT_OFILE is RLIMIT_NOFILE).
var softlimitResources = map[byte][]int{
	'a': {unix.RLIMIT_AS},
	'c': {unix.RLIMIT_CORE},
	'd': {unix.RLIMIT_DATA},
	'f': {unix.RLIMIT_FSIZE},
	'l': {unix.RLIMIT_MEMLOCK},
	'm': {unix.RLIMIT_DATA, unix.RLIMIT_STACK, unix.RLIMIT_MEMLOCK, unix.RLIMIT_AS},
	'o': {unix.RLIMIT_NOFILE},
	'p': {unix.RLIMIT_NPROC},
	'r': {unix.RLIMIT_RSS},
	's': {unix.RLIMIT_STACK},
	't': {unix.RLIMIT_CPU},
}

// ParseLimit parses a softlimit value like 0.76: "=" means the hard
// limit; otherwise the whole string must be decimal digits (the empty
// string is 0) and the value wraps modulo 2^64 as djb's scan_ulong does.
func ParseLimit(s string) (val uint64, hard bool, ok bool) {
	if s == "=" {
		return 0, true, true
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false, false
		}
		val = val*10 + uint64(c-'0')
	}
	return val, false, true
}

func softlimit(c *Chain, argv []string) (step, int) {
	g := sgetopt.New(argv, "a:c:d:f:l:m:o:p:r:s:t:", c.Stderr)
	var lims []limit
	for opt := g.Next(); opt != sgetopt.EOF; opt = g.Next() {
		res, known := softlimitResources[byte(opt)]
		if opt == '?' || !known {
			return step{}, usage(c, softlimitUsage)
		}
		v, hard, ok := ParseLimit(g.Arg)
		if !ok {
			return step{}, usage(c, softlimitUsage)
		}
		for _, r := range res {
			lims = append(lims, limit{resource: r, hard: hard, val: v})
		}
	}
	rest := g.Rest()
	if len(rest) == 0 {
		return step{}, usage(c, softlimitUsage)
	}
	c.limits = append(c.limits, lims...)
	return step{argv: rest}, -1
}

// applyLimits sets the recorded soft limits in order, each clamped to its
// hard limit, and reports success; after a failure it has restored the
// earlier limits, printed the message and left the exit code in c.code.
// Once the first limit is set it allocates nothing (a Go program may not
// be able to grow its heap any more under the new limits).
func (c *Chain) applyLimits() bool {
	c.saved = make([]syscall.Rlimit, len(c.limits))
	r := new(syscall.Rlimit)
	for i, l := range c.limits {
		if err := c.Sys.Getrlimit(l.resource, r); err != nil {
			c.restoreLimits()
			c.code = diag.Fatal(c.Stderr, "softlimit", diag.ExitTemp, "getrlimit failed: ", diag.Str(err))
			return false
		}
		c.saved[i] = *r
		if l.hard || l.val > r.Max {
			r.Cur = r.Max
		} else {
			r.Cur = l.val
		}
		if err := c.Sys.Setrlimit(l.resource, r); err != nil {
			c.restoreLimits()
			c.code = diag.Fatal(c.Stderr, "softlimit", diag.ExitTemp, "setrlimit failed: ", diag.Str(err))
			return false
		}
		c.set = i + 1
	}
	return true
}

// restoreLimits puts back the soft limits applyLimits changed, last
// first. Used only on the way to exiting after a failure.
func (c *Chain) restoreLimits() {
	for i := c.set - 1; i >= 0; i-- {
		c.Sys.Setrlimit(c.limits[i].resource, &c.saved[i])
	}
	c.set = 0
}

// usage writes a usage line and returns 100.
func usage(c *Chain, line string) int {
	io.WriteString(c.Stderr, line)
	return diag.ExitUsage
}
