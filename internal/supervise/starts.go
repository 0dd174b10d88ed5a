package supervise

import (
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"svkit/internal/diag"
	"svkit/internal/localtime"
)

// Failed starts: what supervise remembers of them (published in
// supervise/info for svstat -l and -j) and how often it says so. A run
// that cannot be started is retried once a second for as long as it is
// wanted up; 0.76 prints its message every time, flooding readproctitle
// and svscan's stderr. supervise prints 0.76's message for the first
// sameFailuresSaid identical failures in a row, then one summary line a
// minute.
const (
	sameFailuresSaid = 5
	failureSummary   = time.Minute
)

// failedStarts is what supervise knows of failed starts of ./run.
type failedStarts struct {
	startError       string    // why the last start failed, in words; "" after a success
	startErrorAt     time.Time // when
	startFailures    int       // failures in a row since the last successful start
	startFailedSince time.Time // when the first of them happened
	sameFailures     int       // failures in a row with the same cause
	summarizedAt     time.Time // when the last summary line was printed
}

// startFailed records a failed start of ./run and reports it: 0.76's
// message for the first sameFailuresSaid in a row with the same cause,
// then at most one summary a minute.
func (s *supervisor) startFailed(err error) {
	cause := startCause(err)
	now := s.countFailure(cause)
	s.extDirty = true
	switch {
	case s.sameFailures <= sameFailuresSaid:
		// In 0.76 the forked child reports the failed exec and exits
		// 111. Under svscan -i there is no supervise to speak: svscan
		// warns.
		if s.reaper != nil {
			s.warn("unable to start ", s.dir, "/run: ", diag.Str(err))
		} else {
			diag.Fatal(s.stderr, prog, diag.ExitTemp, "unable to start ", s.dir, "/run: ", diag.Str(err))
		}
	case now.Sub(s.summarizedAt) >= failureSummary:
		s.summarizedAt = now
		s.warn("unable to start ", s.dir, "/run: ", cause, " (", strconv.Itoa(s.sameFailures),
			" times since ", localTime(s.startFailedSince), ")")
	}
}

// countFailure records a failed start with its cause: one more in a row,
// and one more with the same cause as the last (a new cause starts that
// count again and may be said at once). It returns the time it recorded.
func (s *supervisor) countFailure(cause string) time.Time {
	now := clock()
	if s.startFailures == 0 {
		s.startFailedSince = now
	}
	s.startFailures++
	if cause == s.startError {
		s.sameFailures++
	} else {
		s.sameFailures, s.summarizedAt = 1, time.Time{}
	}
	s.startError, s.startErrorAt = cause, now
	return now
}

// forkFailed records that fork itself failed; 0.76's message says so.
func (s *supervisor) forkFailed(err error) {
	now := clock()
	if s.startFailures == 0 {
		s.startFailedSince = now
	}
	s.startFailures++
	s.sameFailures = 0
	s.startError, s.startErrorAt = "unable to fork: "+diag.Str(err), now
	s.extDirty = true
	s.warn("unable to fork for ", s.dir, ", sleeping 60 seconds: ", diag.Str(err))
}

// startSucceeded forgets the failures before a successful start.
func (s *supervisor) startSucceeded() {
	if s.startFailures != 0 || s.startError != "" {
		s.startFailures, s.sameFailures = 0, 0
		s.startError, s.startErrorAt, s.startFailedSince, s.summarizedAt = "", time.Time{}, time.Time{}, time.Time{}
		s.extDirty = true
	}
}

// startCause says in words why ./run could not be started, with what to
// do about it where that is clear.
func startCause(err error) string {
	switch diag.Errno(err) {
	case unix.ENOENT:
		return "run not found"
	case unix.EACCES:
		return "run is not executable (chmod +x run)"
	case unix.ENOEXEC:
		return "run is not a program the kernel can start (a script needs a #! line)"
	case unix.ETXTBSY:
		return "run is open for writing (text busy)"
	case unix.ENOTDIR, unix.ELOOP:
		return "run is not reachable: " + diag.Str(err)
	case unix.ENOMEM, unix.E2BIG:
		return "run cannot be loaded: " + diag.Str(err)
	}
	return diag.Str(err)
}

// localTime formats t as local time to the second, as svstat -l does.
func localTime(t time.Time) string { return localtime.Load().DateTime(t.Unix()) }
