package supervise

import "time"

// supervise's schedule. These are variables, not constants, only so that
// a test build can run the schedule faster (timing_testhooks.go); the
// programs users run have no way to change them.
var (
	// second is the unit of the schedule: the restart pace, the back-off
	// steps and the seconds of a backoff file.
	second = time.Second

	restartDelay   = second      // at most one automatic start a second
	forkRetryDelay = 60 * second // after fork itself failed, as 0.76
	leftoverWait   = second      // a start waits this long for leftovers without timeout-kill
	followWait     = 5 * second  // how long a pidfile is waited for after run exited 0
)

// hostDir, when not empty, is where the supervise program puts its working
// directory instead of the service directory: set only by a test build
// (SVKIT_TEST_CWD), to prove that the supervisor never relies on it.
var hostDir string

// panicLetter, when not 0, is a control byte that makes the supervisor
// panic: set only by a test build (SVKIT_TEST_PANIC=1, letter '!'), to
// prove that a panic in one supervisor leaves the others of its host be.
var panicLetter byte
