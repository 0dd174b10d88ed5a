package supervise

import "fmt"

// phase is what the supervisor is doing with its service, kept explicitly
// as s6-supervise keeps its state: every event handler moves it, and the
// rest of the supervisor asks it rather than piecing the state together
// from which handles and timers are set. The timers (timer.go) are the
// phase's deadlines: the restart of a service that is down, the KILL of
// one that is stopping, the next look for a pid file, the end of a held
// start's wait.
type phase uint8

const (
	// phaseDown: nothing of the service runs. A restart may be due (the
	// restart timer) or the start may wait for needs/ (needWait); either
	// way a command can start it at once.
	phaseDown phase = iota
	// phaseHeld: a start waits for the previous run's leftovers to end
	// (until heldUntil, then KILL).
	phaseHeld
	// phaseUp: the service's process runs (main).
	phaseUp
	// phaseStopping: it runs and was sent its down signal (svc -d, or a
	// bound need went down); KILL may be due (the kill timer).
	phaseStopping
	// phaseFollowing: run exited 0 and the daemon named by pidfile is
	// awaited (until followEnd).
	phaseFollowing
	// phaseFinishing: ./finish runs after the service went down.
	phaseFinishing
)

var phaseNames = [...]string{"down", "held", "up", "stopping", "following", "finishing"}

func (p phase) String() string {
	if int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return fmt.Sprintf("phase(%d)", uint8(p))
}

// running reports whether the service's process runs in this phase.
func (p phase) running() bool { return p == phaseUp || p == phaseStopping }

// checkPhases, set by a test build, makes the event loop check after every
// event that the phase agrees with the handles it implies.
var checkPhases bool

// phaseError says how the phase disagrees with the supervisor's handles,
// or "" if it does not.
func (s *supervisor) phaseError() string {
	switch {
	case s.phase.running() != (s.main != nil):
		return fmt.Sprintf("phase %v with main %v", s.phase, s.main != nil)
	case (s.phase == phaseFinishing) != (s.finish != nil):
		return fmt.Sprintf("phase %v with finish %v", s.phase, s.finish != nil)
	}
	return ""
}
