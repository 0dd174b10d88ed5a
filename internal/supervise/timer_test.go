package supervise

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fakeClock makes the supervisor's clock a variable the test moves.
func fakeClock(t *testing.T) *time.Time {
	t.Helper()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	saved := clock
	clock = func() time.Time { return at }
	t.Cleanup(func() { clock = saved })
	return &at
}

// TestOneDeadline: the loop sleeps until the earliest timer only, and
// expire fires exactly the timers that are due, each once, in the fixed
// order, an action free to set its own timer again.
func TestOneDeadline(t *testing.T) {
	at := fakeClock(t)
	s := &supervisor{}
	var fired []string
	s.actions = []timedAction{
		{&s.kill, func() { fired = append(fired, "kill") }},
		{&s.follow, func() { fired = append(fired, "follow"); s.follow.set(100 * time.Millisecond) }},
		{&s.restart, func() { fired = append(fired, "restart") }},
	}
	if _, ok := s.wakeAt(); ok {
		t.Fatal("a deadline with no timer set")
	}
	s.restart.set(time.Second)
	s.kill.set(300 * time.Millisecond)
	s.follow.set(300 * time.Millisecond)
	if w, ok := s.wakeAt(); !ok || !w.Equal(at.Add(300*time.Millisecond)) {
		t.Fatalf("deadline %v %v, want the kill's and follow's", w, ok)
	}
	*at = at.Add(299 * time.Millisecond)
	s.expire()
	if len(fired) != 0 {
		t.Fatalf("fired early: %v", fired)
	}
	*at = at.Add(time.Millisecond)
	s.expire()
	if len(fired) != 2 || fired[0] != "kill" || fired[1] != "follow" {
		t.Fatalf("fired %v, want kill and follow", fired)
	}
	if s.kill.pending() || !s.follow.pending() || !s.restart.pending() {
		t.Fatalf("after expire: kill %v follow %v restart %v", s.kill.pending(), s.follow.pending(), s.restart.pending())
	}
	if w, _ := s.wakeAt(); !w.Equal(at.Add(100 * time.Millisecond)) {
		t.Fatalf("next deadline %v, want the follow set again", w)
	}
	s.follow.stop()
	*at = at.Add(time.Hour)
	fired = nil
	s.expire()
	if len(fired) != 1 || fired[0] != "restart" {
		t.Fatalf("fired %v, want restart only", fired)
	}
	if _, ok := s.wakeAt(); ok {
		t.Fatal("a deadline left after every timer fired")
	}
}

// TestRestartSchedule walks the restart delay and the back-off schedule on
// the fake clock: 0.76's pace (a second after the last start), then with a
// backoff file the Zeek schedule (1 s for three deaths, doubling every
// three up to the cap, and back to 1 s after a run that stayed up for the
// stable time). The supervisor's one deadline is the restart each time.
func TestRestartSchedule(t *testing.T) {
	at := fakeClock(t)
	dir := t.TempDir()
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	s := &supervisor{dirfd: fd, want: 'u'}
	s.actions = []timedAction{{&s.restart, func() {}}}

	// The run lived 200 ms: the restart is due a second after its start.
	s.lastStart = *at
	*at = at.Add(200 * time.Millisecond)
	s.diedAt = *at
	s.scheduleStart(s.nextStart())
	if w, ok := s.wakeAt(); !ok || w.Sub(s.lastStart) != second {
		t.Fatalf("restart at +%v after the start, want %v", w.Sub(s.lastStart), second)
	}

	if err := os.WriteFile(filepath.Join(dir, fileBackoff), []byte("8 60\n"), 0644); err != nil {
		t.Fatal(err)
	}
	s.restart.stop()
	for i, want := range []time.Duration{1, 1, 1, 2, 2, 2, 4, 4, 4, 8, 8, 8} {
		s.lastStart = *at
		*at = at.Add(100 * time.Millisecond)
		s.diedAt = *at
		s.scheduleStart(s.nextStart())
		w, ok := s.wakeAt()
		if !ok || w.Sub(s.diedAt) != want*second {
			t.Fatalf("death %d: restart after %v, want %v", i+1, w.Sub(s.diedAt), want*second)
		}
		*at = w
		s.expire()
	}
	// A run that stayed up for the stable time starts the count again.
	s.lastStart = *at
	*at = at.Add(60 * second)
	s.diedAt = *at
	s.scheduleStart(s.nextStart())
	if w, _ := s.wakeAt(); w.Sub(s.diedAt) != second {
		t.Fatalf("after a stable run: restart after %v, want %v", w.Sub(s.diedAt), second)
	}
}
