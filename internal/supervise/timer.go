package supervise

import "time"

// timer is one of supervise's pending deadlines (the next automatic start,
// the KILL of a stopping tree, the next look for a pid file, ...). C
// delivers once when it expires; a timer that is not set has a nil C,
// which never fires in a select.
type timer struct {
	t *time.Timer
	C <-chan time.Time
}

// set makes the timer expire after d, replacing any earlier setting.
func (tm *timer) set(d time.Duration) {
	tm.stop()
	tm.t = time.NewTimer(d)
	tm.C = tm.t.C
}

// stop cancels the timer.
func (tm *timer) stop() {
	if tm.t != nil {
		tm.t.Stop()
		tm.t, tm.C = nil, nil
	}
}

// fired clears a timer whose C has just delivered.
func (tm *timer) fired() { tm.t, tm.C = nil, nil }

// pending reports whether the timer is set.
func (tm *timer) pending() bool { return tm.t != nil }
