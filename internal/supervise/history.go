package supervise

import (
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// fileBackoff, present, asks for the back-off policy; its optional content
// is "CAP STABLE" in seconds.
const fileBackoff = "backoff"

// Back-off defaults: at most this long between automatic starts, and a
// service that stayed up this long is healthy again.
var (
	defaultBackoffCap    = 300 * second
	defaultBackoffStable = 30 * second
)

// history is what supervise remembers of the service's past runs.
type history struct {
	diedAt       time.Time // when the service last went down
	exitCode     int       // last run's exit code, -1 if killed by a signal or unknown
	exitSignal   int       // signal that killed it, 0 if none
	restarts     int       // automatic starts since the service was last wanted up
	deaths       int       // deaths counted by the back-off policy
	backoffUntil time.Time // next automatic start, zero if none is pending
	restartAt    time.Time // when the service may restart, set when it went down

	finishing // the finish hook
}

// recordExit remembers how run ended; ws is nil when unknown.
func (s *supervisor) recordExit(ws *unix.WaitStatus) {
	s.exitCode, s.exitSignal = -1, 0
	if ws == nil {
		return
	}
	if ws.Exited() {
		s.exitCode = ws.ExitStatus()
	} else if ws.Signaled() {
		s.exitSignal = int(ws.Signal())
	}
}

// backoffPolicy returns whether the back-off policy is on, and its cap and
// stable time.
func (s *supervisor) backoffPolicy() (on bool, limit, stable time.Duration) {
	if !s.exists(fileBackoff) {
		return false, 0, 0
	}
	limit, stable = defaultBackoffCap, defaultBackoffStable
	f := strings.Fields(s.readConfig(fileBackoff))
	if len(f) > 0 {
		if n, err := strconv.ParseUint(f[0], 10, 32); err == nil && n > 0 {
			limit = time.Duration(n) * second
		}
	}
	if len(f) > 1 {
		if n, err := strconv.ParseUint(f[1], 10, 32); err == nil && n > 0 {
			stable = time.Duration(n) * second
		}
	}
	return true, limit, stable
}

// backoffDelay is the Zeek supervisor's schedule: 1 s for the first three
// deaths, then the delay doubles every three deaths, up to limit.
func backoffDelay(deaths int, limit time.Duration) time.Duration {
	if deaths < 1 {
		deaths = 1
	}
	d := second
	for i := (deaths - 1) / 3; i > 0 && d < limit; i-- {
		d *= 2
	}
	if d > limit {
		d = limit
	}
	return d
}

// nextStart returns when a service that just went down may be restarted
// automatically: a second after the last start, as 0.76 does, or with a
// backoff file, after the back-off delay counted from its death.
func (s *supervisor) nextStart() time.Time {
	on, limit, stable := s.backoffPolicy()
	if !on {
		return s.lastStart.Add(restartDelay)
	}
	if s.diedAt.Sub(s.lastStart) >= stable {
		s.deaths = 0
	}
	s.deaths++
	return s.diedAt.Add(backoffDelay(s.deaths, limit))
}
