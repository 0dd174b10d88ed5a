package supervise

import (
	"math"
	"time"
)

// clock is the supervisor's clock.
var clock = time.Now

// timer is one of the supervisor's deadlines (the next automatic start, the
// KILL of a stopping tree, the next look for a pid file, ...): the time it
// is due, or zero when it is not set. Timers own no runtime timer and no
// channel: the event loop sleeps until the earliest of them (wakeAt) and
// then fires every one that is due (expire), as s6-supervise keeps one
// deadline for all of its timers.
type timer struct {
	at time.Time
}

// set makes the timer due after d, replacing any earlier setting.
func (tm *timer) set(d time.Duration) { tm.at = clock().Add(d) }

// setAt makes the timer due at t.
func (tm *timer) setAt(t time.Time) { tm.at = t }

// stop cancels the timer.
func (tm *timer) stop() { tm.at = time.Time{} }

// pending reports whether the timer is set.
func (tm *timer) pending() bool { return !tm.at.IsZero() }

// due reports whether the timer is set and its time has come at t.
func (tm *timer) due(t time.Time) bool { return tm.pending() && !tm.at.After(t) }

// timedAction is a timer and what the supervisor does when it is due.
type timedAction struct {
	tm   *timer
	fire func()
}

// timedActions lists every timer of the supervisor with its action, in the
// order expire fires timers that are due at once.
func (s *supervisor) timedActions() []timedAction {
	return []timedAction{
		{&s.kill, s.killTree},
		{&s.finishKill, s.killFinish},
		{&s.sweep, s.sweepLeftovers},
		{&s.follow, s.tryFollow},
		{&s.check, s.runCheck},
		{&s.needTimer, s.needsChanged},
		{&s.restart, s.restartDue},
	}
}

// wakeAt is the supervisor's one deadline: the earliest time a timer is
// due, or false when none is set.
func (s *supervisor) wakeAt() (time.Time, bool) {
	var at time.Time
	for _, a := range s.actions {
		if a.tm.pending() && (at.IsZero() || a.tm.at.Before(at)) {
			at = a.tm.at
		}
	}
	return at, !at.IsZero()
}

// expire fires every timer that is due: each is cleared before its action
// runs, which may set it again.
func (s *supervisor) expire() {
	t := clock()
	for _, a := range s.actions {
		if a.tm.due(t) {
			a.tm.stop()
			a.fire()
		}
	}
}

// alarm is the one runtime timer behind the supervisor's deadline.
type alarm struct {
	t  *time.Timer
	at time.Time // what t is set for; zero when stopped
}

func newAlarm() *alarm {
	a := &alarm{t: time.NewTimer(math.MaxInt64)}
	a.t.Stop()
	return a
}

// arm makes the alarm ring at the deadline, or never when there is none.
// The runtime timer is touched only when the deadline changed.
func (a *alarm) arm(at time.Time, ok bool) {
	if !ok {
		if !a.at.IsZero() {
			a.t.Stop()
			a.at = time.Time{}
		}
		return
	}
	if at.Equal(a.at) {
		return
	}
	a.at = at
	a.t.Reset(max(at.Sub(clock()), 0))
}

// rang clears the alarm after its channel delivered.
func (a *alarm) rang() { a.at = time.Time{} }
