package svstat

import (
	"bufio"
	"encoding/json"
	"io"
	"time"

	"svkit/pkg/svdir"
)

// Object is what "svstat -j" prints for a directory whose status could be
// read: one JSON object per line, with these keys in this order. Keys whose
// value is not known are null: everything that comes from supervise/info
// when there is no such file (0.76's supervise does not write it), or when
// the file does not describe the same process as supervise/status (a file
// left behind by an earlier supervise).
//
//	dir                 the argument as given
//	state               "up", "down" or "finish" (./finish runs); from
//	                    supervise/info, else "up" or "down" from the status pid
//	wanted              "up", "down", "once", or null for any other byte 17
//	pid                 the pid of run, 0 when down
//	since_ns            Unix nanoseconds of the status record's TAI64N stamp
//	                    (the last start or death), null if out of range
//	ready               the service is ready (readiness protocols, ./check)
//	ready_since_ns      when it became ready; null when not ready
//	last_exit_code      exit code of the last run, null if none or killed
//	last_exit_signal    the signal that killed the last run, null if none
//	last_exit_ns        when the last run ended, null if none has
//	restarts            automatic restarts since the service was last wanted up
//	backoff_until_ns    when the next automatic start is due, null if none
//	normally_up         DIR/down does not exist
//	paused              up and paused (as svstat shows ", paused")
//	started_ns          when run was last started, null if never
//	status_text         the service's last sd_notify STATUS= text
//	start_failures      starts that failed in a row, 0 after a success
//	last_start_error    why the last start failed, in words ("run is not
//	                    executable (chmod +x run)"), null if it did not
//	last_start_error_ns when it failed, null if it did not
//	supervisor_pid      the pid of the supervise process
//	failed              supervise gave up on the service (DIR/permafail): it
//	                    stays down until svc -u
//	failed_reason       why, in words ("died 3 times in 10 seconds (exit 1)"),
//	                    null if not failed
//	failed_ns           when supervise gave up, null if not failed
//	waiting_for         the links in DIR/needs and DIR/binds that are not
//	                    ready while supervise holds ./run back for them
//	                    ([] when it does not wait)
//
// Every key ending in _ns has a twin ending in _time right after it: the
// same moment as an RFC 3339 time in UTC with nanoseconds, or null.
type Object struct {
	Dir                string   `json:"dir"`
	State              string   `json:"state"`
	Wanted             *string  `json:"wanted"`
	Pid                uint32   `json:"pid"`
	SinceNs            *int64   `json:"since_ns"`
	SinceTime          *string  `json:"since_time"`
	Ready              *bool    `json:"ready"`
	ReadySinceNs       *int64   `json:"ready_since_ns"`
	ReadySinceTime     *string  `json:"ready_since_time"`
	LastExitCode       *int     `json:"last_exit_code"`
	LastExitSignal     *int     `json:"last_exit_signal"`
	LastExitNs         *int64   `json:"last_exit_ns"`
	LastExitTime       *string  `json:"last_exit_time"`
	Restarts           *int     `json:"restarts"`
	BackoffUntilNs     *int64   `json:"backoff_until_ns"`
	BackoffUntilTime   *string  `json:"backoff_until_time"`
	NormallyUp         bool     `json:"normally_up"`
	Paused             bool     `json:"paused"`
	StartedNs          *int64   `json:"started_ns"`
	StartedTime        *string  `json:"started_time"`
	StatusText         *string  `json:"status_text"`
	StartFailures      *int     `json:"start_failures"`
	LastStartError     *string  `json:"last_start_error"`
	LastStartErrorNs   *int64   `json:"last_start_error_ns"`
	LastStartErrorTime *string  `json:"last_start_error_time"`
	SupervisorPid      *int     `json:"supervisor_pid"`
	Failed             *bool    `json:"failed"`
	FailedReason       *string  `json:"failed_reason"`
	FailedNs           *int64   `json:"failed_ns"`
	FailedTime         *string  `json:"failed_time"`
	WaitingFor         []string `json:"waiting_for"`
}

// setNs sets a _ns key and its _time twin to the moment ns.
func setNs(ns int64, key **int64, twin **string) {
	*key = ptr(ns)
	*twin = ptr(time.Unix(0, ns).UTC().Format(time.RFC3339Nano))
}

// ErrorObject is what "svstat -j" prints for a directory whose status cannot
// be read. Error is the text plain svstat prints after "DIR: ", e.g.
// "supervise not running" or "unable to chdir: file does not exist".
type ErrorObject struct {
	Dir   string `json:"dir"`
	Error string `json:"error"`
}

// Build returns the Object for a directory whose status was read as s;
// normallyUp is true when DIR/down does not exist.
func Build(dir string, s svdir.State, normallyUp bool) Object {
	r := s.Status
	o := Object{Dir: dir, Pid: uint32(r.Pid), NormallyUp: normallyUp, Paused: r.Pid != 0 && r.Paused}
	o.State = svdir.StateDown
	if r.Pid != 0 {
		o.State = svdir.StateUp
	}
	switch r.Want {
	case svdir.WantUp:
		o.Wanted = ptr("up")
	case svdir.WantDown:
		o.Wanted = ptr("down")
	case svdir.WantOnce:
		o.Wanted = ptr("once")
	}
	if ns, ok := svdir.UnixNano(r.When); ok {
		setNs(ns, &o.SinceNs, &o.SinceTime)
	}
	if s.Info == nil || !s.Current {
		return o
	}
	in := s.Info
	if in.State != "" {
		o.State = in.State
	}
	o.Ready = ptr(in.Ready)
	if in.Ready && in.ReadySince != 0 {
		setNs(in.ReadySince, &o.ReadySinceNs, &o.ReadySinceTime)
	}
	if in.ExitSignal != 0 {
		o.LastExitSignal = ptr(in.ExitSignal)
	} else if in.ExitCode >= 0 {
		o.LastExitCode = ptr(in.ExitCode)
	}
	if in.Exited != 0 {
		setNs(in.Exited, &o.LastExitNs, &o.LastExitTime)
	}
	o.Restarts = ptr(in.Restarts)
	if in.Backoff != 0 {
		setNs(in.Backoff, &o.BackoffUntilNs, &o.BackoffUntilTime)
	}
	if in.Started != 0 {
		setNs(in.Started, &o.StartedNs, &o.StartedTime)
	}
	o.StatusText = ptr(in.StatusText)
	o.StartFailures = ptr(in.StartFailures)
	if in.StartError != "" {
		o.LastStartError = ptr(in.StartError)
		if in.StartErrorAt != 0 {
			setNs(in.StartErrorAt, &o.LastStartErrorNs, &o.LastStartErrorTime)
		}
	}
	if in.Supervisor != 0 {
		o.SupervisorPid = ptr(in.Supervisor)
	}
	o.Failed = ptr(in.Failed)
	if in.Failed {
		o.FailedReason = ptr(in.FailedReason)
		if in.FailedAt != 0 {
			setNs(in.FailedAt, &o.FailedNs, &o.FailedTime)
		}
	}
	o.WaitingFor = in.WaitingFor
	if o.WaitingFor == nil {
		o.WaitingFor = []string{}
	}
	return o
}

func ptr[T any](v T) *T { return &v }

// JSON returns the value "svstat -j" prints for dir: an Object, or an
// ErrorObject carrying the text of svstat's error line.
func JSON(dir string) any {
	l := look(dir)
	defer l.close()
	if l.err != "" {
		return ErrorObject{Dir: dir, Error: l.err}
	}
	// A stale or half-updated info is retried for at most about 10 ms.
	s, err := svdir.ReadState(l.dfd, 6, 2*time.Millisecond)
	if err != nil {
		return ErrorObject{Dir: dir, Error: err.Error()}
	}
	return Build(dir, s, l.normallyUp)
}

// mainJSON prints one JSON object per directory and line.
func mainJSON(dirs []string, stdout io.Writer) int {
	w := bufio.NewWriterSize(stdout, 4096)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, dir := range dirs {
		enc.Encode(JSON(dir)) // these types always encode
	}
	w.Flush()
	return 0
}
