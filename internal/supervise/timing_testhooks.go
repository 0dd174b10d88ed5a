//go:build svkit_testhooks

package supervise

import (
	"os"
	"strconv"
	"time"
)

// In a test build, SVKIT_TEST_TIMESCALE=F (0 < F <= 1) in supervise's
// environment runs its schedule F times as fast: a test of the back-off
// steps or of a crash loop need not wait in real time. Tests that compare
// supervise's pace with 0.76's leave it unset.
func init() {
	hostDir = os.Getenv("SVKIT_TEST_CWD")
	checkPhases = true
	if os.Getenv("SVKIT_TEST_PANIC") == "1" {
		panicLetter = '!'
	}
	f, err := strconv.ParseFloat(os.Getenv("SVKIT_TEST_TIMESCALE"), 64)
	if err != nil || f <= 0 || f > 1 {
		return
	}
	scale := func(d *time.Duration) { *d = time.Duration(float64(*d) * f) }
	for _, d := range []*time.Duration{&second, &restartDelay, &forkRetryDelay, &leftoverWait, &followWait, &defaultBackoffCap, &defaultBackoffStable} {
		scale(d)
	}
}
