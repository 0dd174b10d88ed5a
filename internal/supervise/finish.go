package supervise

// The finish hook: runit's ./finish, run after run exits, with run's exit
// code and signal as arguments; the service shows down meanwhile. A finish
// that exits 125 keeps the service down (permafail.go).

import (
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"svkit/internal/diag"
	"svkit/internal/proc"
)

// Files of the service directory for the finish hook.
const (
	fileFinish        = "finish"         // run after run exits, as runit's ./finish
	fileTimeoutFinish = "timeout-finish" // ms after which finish gets KILL
)

// finishing is what supervise knows of a running ./finish.
type finishing struct {
	finish           *proc.Handle // the running ./finish
	finishKill       timer        // KILL of a finish that outlives timeout-finish
	startAfterFinish bool         // svc -u or -o came while finish ran
}

// startFinish runs ./finish with run's exit code (or -1) and signal (or 0)
// as arguments, as runit does, if it exists. It reports whether it runs.
func (s *supervisor) startFinish() bool {
	if !s.isExecutable(fileFinish) {
		return false
	}
	argv := []string{"./finish", strconv.Itoa(s.exitCode), strconv.Itoa(s.exitSignal)}
	pid, err := s.startHelper(argv...)
	if err != nil {
		s.warn("unable to start ", s.dir, "/finish: ", diag.Str(err))
		return false
	}
	id, _ := proc.Lookup(pid)
	id.Pid = pid
	h, err := proc.Open(id)
	if err != nil {
		h = proc.FromFD(id, -1)
	}
	s.finish = h
	s.phase = phaseFinishing
	if ms, err := strconv.ParseUint(s.readConfig(fileTimeoutFinish), 10, 32); err == nil && ms > 0 {
		s.finishKill.set(time.Duration(ms) * time.Millisecond)
	}
	return true
}

// killFinish sends KILL to a finish that outlived timeout-finish.
func (s *supervisor) killFinish() {
	if s.finish != nil {
		s.finish.Signal(unix.SIGKILL)
	}
}

// finishDone continues after ./finish has exited with status ws.
func (s *supervisor) finishDone(ws unix.WaitStatus) {
	s.finish.Close()
	s.finish = nil
	s.phase = phaseDown
	s.finishKill.stop()
	s.extDirty = true
	s.finishSaysDown(ws)
	if s.startAfterFinish {
		// svc -u or -o arrived while finish ran.
		s.startAfterFinish = false
		if s.idle() {
			s.start()
		}
		return
	}
	s.afterDown()
}
