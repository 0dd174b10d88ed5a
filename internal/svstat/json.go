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
//	dir              the argument as given
//	state            "up", "down" or "finish" (./finish runs); from
//	                 supervise/info, else "up" or "down" from the status pid
//	wanted           "up", "down", "once", or null for any other byte 17
//	pid              the pid of run, 0 when down
//	since_ns         Unix nanoseconds of the status record's TAI64N stamp
//	                 (the last start or death), null if out of range
//	ready            the service is ready (readiness protocols, ./check)
//	ready_since_ns   when it became ready; null when not ready
//	last_exit_code   exit code of the last run, null if none or killed
//	last_exit_signal the signal that killed the last run, null if none
//	restarts         automatic restarts since the service was last wanted up
//	backoff_until_ns when the next automatic start is due, null if none
//	normally_up      DIR/down does not exist
//	paused           up and paused (as svstat shows ", paused")
//	started_ns       when run was last started, null if never
//	status_text      the service's last sd_notify STATUS= text
type Object struct {
	Dir            string  `json:"dir"`
	State          string  `json:"state"`
	Wanted         *string `json:"wanted"`
	Pid            uint32  `json:"pid"`
	SinceNs        *int64  `json:"since_ns"`
	Ready          *bool   `json:"ready"`
	ReadySinceNs   *int64  `json:"ready_since_ns"`
	LastExitCode   *int    `json:"last_exit_code"`
	LastExitSignal *int    `json:"last_exit_signal"`
	Restarts       *int    `json:"restarts"`
	BackoffUntilNs *int64  `json:"backoff_until_ns"`
	NormallyUp     bool    `json:"normally_up"`
	Paused         bool    `json:"paused"`
	StartedNs      *int64  `json:"started_ns"`
	StatusText     *string `json:"status_text"`
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
		o.SinceNs = &ns
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
		o.ReadySinceNs = ptr(in.ReadySince)
	}
	if in.ExitSignal != 0 {
		o.LastExitSignal = ptr(in.ExitSignal)
	} else if in.ExitCode >= 0 {
		o.LastExitCode = ptr(in.ExitCode)
	}
	o.Restarts = ptr(in.Restarts)
	if in.Backoff != 0 {
		o.BackoffUntilNs = ptr(in.Backoff)
	}
	if in.Started != 0 {
		o.StartedNs = ptr(in.Started)
	}
	o.StatusText = ptr(in.StatusText)
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
