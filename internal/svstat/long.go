package svstat

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"svkit/internal/localtime"
	"svkit/pkg/svdir"
)

// Long is what "svstat -l" prints for dir: 0.76's line, then indented
// "key: value" lines with what svkit knows of the service. The keys, each
// printed only when there is something to say:
//
//	state       up, down or finish, since when, and the wanted state
//	failed      why supervise gave up on the service (DIR/permafail), when,
//	            and that svc -u starts it again
//	ready       whether the service said it is ready, or what it waits for
//	waiting for the links in DIR/needs and DIR/binds not ready while
//	            supervise holds ./run back for them
//	restarts    automatic restarts since the service was last wanted up
//	last exit   "code N" or "signal NAME", and when
//	next start  when the next automatic start is due (a second after the
//	            last, or later under a backoff file)
//	start error why the last start failed, how often and since when
//	status      the service's last sd_notify STATUS= text
//	output      where the service's output goes: its logger and the
//	            logger's state, or supervise's stderr (not for a logger)
//	supervise   whether a supervise runs, and its pid
//
// Times are local, to the second, as tai64nlocal prints them.
func Long(dir string, now time.Time, zone *localtime.Zone) string {
	var b strings.Builder
	l := look(dir)
	defer l.close()
	line := func(key, value string) {
		b.WriteString("  ")
		b.WriteString(key)
		b.WriteString(": ")
		b.WriteString(value)
		b.WriteByte('\n')
	}
	at := func(ns int64) string { return zone.DateTime(ns / 1e9) }
	b.WriteString(dir + ": ")
	if l.err != "" {
		b.WriteString(l.err + "\n")
		if l.dfd >= 0 && l.err == "supervise not running" {
			line("supervise", "not running")
		}
		return b.String()
	}
	// A human asks: wait up to 0.1 s for status and info to agree.
	s, err := svdir.ReadState(l.dfd, 50, 2*time.Millisecond)
	if err != nil {
		b.WriteString(err.Error() + "\n")
		return b.String()
	}
	r := s.Status
	b.WriteString(Line(r, l.normallyUp, now) + "\n")
	var in *svdir.Info
	if s.Current {
		in = s.Info
	}

	state := "down"
	if r.Pid != 0 {
		state = "up"
	}
	if in != nil && in.State != "" {
		state = in.State
	}
	sinceNs, _ := svdir.UnixNano(r.When)
	v := state + " since " + at(sinceNs) + ", wanted " + wanted(r.Want)
	if state == svdir.StateFinish {
		v = "down, ./finish running, since " + at(sinceNs) + ", wanted " + wanted(r.Want)
	}
	line("state", v)
	if in == nil {
		if filepath.Base(filepath.Clean(dir)) != "log" {
			output(dir, now, line)
		}
		why := " (no " + svdir.InfoPath + ": not svkit's supervise)"
		if s.Info != nil {
			why = " (" + svdir.InfoPath + " describes another moment: the service is changing state, or the supervise is not svkit's)"
		}
		line("supervise", supervisor(0)+why)
		return b.String()
	}
	if in.Failed {
		v := in.FailedReason
		if in.FailedAt != 0 {
			v += " at " + at(in.FailedAt)
		}
		line("failed", v+"; svc -u to retry")
	}
	if r.Pid != 0 {
		line("ready", readiness(l.dfd, in, at))
	}
	if len(in.WaitingFor) > 0 {
		line("waiting for", strings.Join(in.WaitingFor, ", "))
	}
	if in.Restarts > 0 {
		line("restarts", strconv.Itoa(in.Restarts)+" since wanted up")
	}
	if ex := lastExit(in); ex != "" {
		if in.Exited != 0 {
			ex += " at " + at(in.Exited)
		}
		line("last exit", ex)
	}
	if in.Backoff != 0 {
		due := time.Unix(0, in.Backoff)
		v := at(in.Backoff)
		if d := due.Sub(now); d > 0 {
			v += " (in " + seconds(int64((d+time.Second-1)/time.Second)) + ")"
		}
		line("next start", v)
	}
	if in.StartError != "" {
		v := in.StartError
		if in.StartFailures > 1 && in.StartFailedSince != 0 {
			v += ", " + strconv.Itoa(in.StartFailures) + " times since " + at(in.StartFailedSince)
		} else if in.StartErrorAt != 0 {
			v += ", at " + at(in.StartErrorAt)
		}
		line("start error", v)
	}
	if in.StatusText != "" {
		line("status", strconv.Quote(in.StatusText))
	}
	if filepath.Base(filepath.Clean(dir)) != "log" {
		output(dir, now, line)
	}
	line("supervise", supervisor(in.Supervisor))
	return b.String()
}

// seconds says "1 second" or "N seconds".
func seconds(n int64) string {
	if n == 1 {
		return "1 second"
	}
	return strconv.FormatInt(n, 10) + " seconds"
}

// wanted names byte 17 of the status record.
func wanted(w byte) string {
	switch w {
	case svdir.WantUp:
		return "up"
	case svdir.WantDown:
		return "down"
	case svdir.WantOnce:
		return "once (not restarted)"
	}
	return "unknown (" + strconv.Itoa(int(w)) + ")"
}

// supervisor says that a supervise runs (svstat only gets here when one
// holds supervise/ok), with its pid when known.
func supervisor(pid int) string {
	if pid == 0 {
		return "running"
	}
	return "running (pid " + strconv.Itoa(pid) + ")"
}

// lastExit describes how the last run ended, or "" if none has.
func lastExit(in *svdir.Info) string {
	switch {
	case in.ExitSignal != 0:
		name := unix.SignalName(unix.Signal(in.ExitSignal))
		if name == "" {
			name = strconv.Itoa(in.ExitSignal)
		}
		return "signal " + name
	case in.ExitCode >= 0:
		return "code " + strconv.Itoa(in.ExitCode)
	}
	return ""
}

// readiness says whether an up service is ready, and what it waits for
// when it is not: the readiness files of its directory.
func readiness(dfd int, in *svdir.Info, at func(int64) string) string {
	if in.Ready {
		if in.ReadySince != 0 {
			return "yes, since " + at(in.ReadySince)
		}
		return "yes"
	}
	for _, f := range []struct{ file, what string }{
		{"notification-fd", "a newline on its notification-fd"},
		{"notify-socket", "READY=1 on its notify socket"},
		{"check", "./check to exit 0"},
	} {
		var st unix.Stat_t
		if unix.Fstatat(dfd, f.file, &st, 0) == nil {
			return "no, waiting for " + f.what
		}
	}
	return "no"
}

// output says where the service's output goes: to its logger (DIR/log,
// with the logger's state), or, without one, to supervise's own stderr,
// which under svscan is svscan's.
func output(dir string, now time.Time, line func(key, value string)) {
	logdir := filepath.Join(dir, "log")
	if fi, err := os.Stat(logdir); err == nil && fi.IsDir() {
		line("output", logdir+": "+Status(logdir, now))
		return
	}
	line("output", "no log service: supervise's stderr (svscan's, or readproctitle's under svscanboot)")
}

// mainLong prints Long for every directory.
func mainLong(dirs []string, stdout io.Writer) int {
	w := bufio.NewWriterSize(stdout, 4096)
	zone := localtime.Load()
	for _, dir := range dirs {
		w.WriteString(Long(dir, time.Now(), zone))
	}
	w.Flush()
	return 0
}
