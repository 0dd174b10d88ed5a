package svdir

import (
	"math"
	"time"

	"svkit/pkg/tai64"
)

// State is one reading of a service's supervise/status and supervise/info:
// what svstat -j, svwait and svhttpd report.
type State struct {
	Status Status
	// Info is the content of supervise/info, nil when there is none (or it
	// cannot be read or parsed).
	Info *Info
	// Current reports whether Info describes the same moment as Status:
	// the same pid, or both down. svkit's supervise replaces status first
	// and info right after, so a reader can catch them apart for a moment;
	// a supervise that writes no info (0.76's) may leave a stale one.
	Current bool
	// Changing reports that status changed while info was read, on every
	// try: Info may belong to a later state than Status, or be missing
	// for a moment. Status is the later reading.
	Changing bool
}

// Current reports whether in matches the status record r: both name the
// same process (or none), and in's since is the record's stamp (svkit's
// supervise writes the same moment into both; 0 is not checked). An info
// left behind by svkit's supervise under a supervise that writes none
// (0.76's) therefore stops counting at the next change of status.
func Current(r Status, in *Info) bool {
	if in == nil || in.Pid != r.Pid {
		return false
	}
	if in.Since == 0 {
		return true
	}
	ns, ok := UnixNano(r.When)
	return ok && ns == in.Since
}

// ReadState reads supervise/status, supervise/info and supervise/status
// again below the service directory dirfd, up to tries times (at least
// once) until status did not change in between and the info is absent or
// current, waiting wait between tries after the second. Errors are those of
// ReadStatus.
func ReadState(dirfd int, tries int, wait time.Duration) (State, error) {
	var s State
	r, err := ReadStatus(dirfd)
	if err != nil {
		return State{}, err
	}
	for i := 0; i < max(tries, 1); i++ {
		if i >= 2 && wait > 0 {
			time.Sleep(wait)
		}
		in := ReadInfo(dirfd)
		r2, err := ReadStatus(dirfd)
		if err != nil {
			return State{}, err
		}
		s = State{Status: r2, Info: in, Current: Current(r2, in), Changing: r2 != r}
		if !s.Changing && (in == nil || s.Current) {
			break
		}
		r = r2
	}
	return s, nil
}

// UnixNano converts a TAI64N label to Unix nanoseconds (daemontools' fixed
// 10-second offset, no leap seconds). ok is false when the moment does not
// fit in an int64 of nanoseconds (about the years 1678 to 2262).
func UnixNano(l tai64.Label) (ns int64, ok bool) {
	sec := int64(l.Sec - tai64.Base) // wraps to negative before 1970
	const lim = math.MaxInt64/int64(time.Second) - 1
	if sec > lim || sec < -lim || l.Nano >= 1e9 {
		return 0, false
	}
	return sec*1e9 + int64(l.Nano), true
}
