package supervise

import (
	"strconv"
	"time"

	"svkit/pkg/svdir"
)

// extFiles is what was last written to the extended files, so that a file
// whose content did not change is not rewritten.
type extFiles struct {
	info, stat, pid string
	written         bool
}

// writeInfo publishes the extended state: supervise/info for svkit's
// svstat -j and svwait, and runit's supervise/pid and supervise/stat text
// files for runit-aware tools. Each is replaced through a rename.
func (s *supervisor) writeInfo() {
	in := svdir.Info{
		State:      svdir.StateDown,
		Pid:        s.pid(),
		Since:      s.when.Time().UnixNano(),
		Ready:      s.ready && s.main != nil,
		ReadySince: unixNano(s.readySince),
		Started:    unixNano(s.lastStart),
		ExitCode:   s.exitCode,
		ExitSignal: s.exitSignal,
		Restarts:   s.restarts,
		Backoff:    unixNano(s.backoffUntil),
		StatusText: s.statusText,

		Supervisor:       s.self,
		Exited:           unixNano(s.diedAt),
		StartError:       s.startError,
		StartErrorAt:     unixNano(s.startErrorAt),
		StartFailures:    s.startFailures,
		StartFailedSince: unixNano(s.startFailedSince),

		Protocol: s.protocol && s.ready && s.main != nil,
		OnceOK:   s.onceOK && s.main == nil,
	}
	if s.needWait && s.main == nil && s.want != svdir.WantDown {
		in.WaitingFor = s.waitingFor
	}
	s.failedInfo(&in)
	stat := "down"
	switch {
	case s.main != nil:
		in.State, stat = svdir.StateUp, "run"
	case s.finish != nil:
		in.State, stat = svdir.StateFinish, "finish"
	}
	if !in.Ready {
		in.ReadySince = 0
	}
	if s.main != nil && s.paused {
		stat += ", paused"
	}
	if s.main != nil && s.gotTerm {
		stat += ", got TERM"
	}
	if s.main != nil || s.finish != nil {
		switch {
		case s.exit:
			stat += ", want exit"
		case s.want == svdir.WantDown:
			stat += ", want down"
		}
	}
	pid := ""
	if s.main != nil {
		pid = strconv.Itoa(s.main.Pid) + "\n"
	}
	s.extDirty = false
	info := string(in.Encode())
	stat += "\n"
	for _, f := range []struct {
		name string
		data string
		last *string
	}{
		// info last: a reader that sees a new info also finds stat
		// and pid of the same state.
		{svdir.StatPath, stat, &s.ext.stat},
		{svdir.PidPath, pid, &s.ext.pid},
		{svdir.InfoPath, info, &s.ext.info},
	} {
		if s.ext.written && *f.last == f.data {
			continue
		}
		if err := svdir.Replace(s.dirfd, f.name, []byte(f.data), 0644); err != nil {
			s.warnReplace(err)
			continue
		}
		*f.last = f.data
	}
	s.ext.written = true
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
