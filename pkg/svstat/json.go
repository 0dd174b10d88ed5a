package svstat

import (
	"bufio"
	"encoding/json"
	"io"
	"math"
	"time"

	"golang.org/x/sys/unix"

	"svkit/pkg/status"
	"svkit/pkg/svinfo"
	"svkit/pkg/tai64"
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

// State is one reading of a service's supervise/status and supervise/info.
type State struct {
	Record status.Record
	// Info is the content of supervise/info, nil when there is none (or it
	// cannot be read or parsed).
	Info *svinfo.Info
	// Current reports whether Info describes the same moment as Record:
	// the same pid, or both down. svkit's supervise replaces status first
	// and info right after, so a reader can catch them apart for a moment;
	// a supervise that writes no info (0.76's) may leave a stale one.
	Current bool
	// Changing reports that status changed while info was read, on every
	// try: Info may belong to a later state than Record, or be missing
	// for a moment. Record is the later reading.
	Changing bool
}

// Current reports whether in matches the status record r: both name the
// same process (or none), and in's since is the record's stamp (svkit's
// supervise writes the same moment into both; 0 is not checked). An info
// left behind by svkit's supervise under a supervise that writes none
// (0.76's) therefore stops counting at the next change of status.
func Current(r status.Record, in *svinfo.Info) bool {
	if in == nil || in.Pid != r.Pid {
		return false
	}
	if in.Since == 0 {
		return true
	}
	ns, ok := UnixNano(r.When)
	return ok && ns == in.Since
}

// ReadState reads supervise/status, supervise/info and supervise/status
// again below the directory descriptor dfd, up to tries times (at least
// once) until status did not change in between and the info is absent or
// current, waiting wait between tries after the second. An error carries
// svstat's text for the status file ("unable to read supervise/status:
// ...").
func ReadState(dfd int, tries int, wait time.Duration) (State, error) {
	var s State
	r, err := readStatus(dfd)
	if err != nil {
		return State{}, err
	}
	for i := 0; i < max(tries, 1); i++ {
		if i >= 2 && wait > 0 {
			time.Sleep(wait)
		}
		in := readInfo(dfd)
		r2, err := readStatus(dfd)
		if err != nil {
			return State{}, err
		}
		s = State{Record: r2, Info: in, Current: Current(r2, in), Changing: r2 != r}
		if !s.Changing && (in == nil || s.Current) {
			break
		}
		r = r2
	}
	return s, nil
}

// readInfo reads supervise/info below dfd, without following a symlink or
// blocking on a FIFO; nil when it is absent or not a valid info file.
func readInfo(dfd int) *svinfo.Info {
	fd, err := unix.Openat(dfd, svinfo.File, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil
	}
	b := make([]byte, 0, 512)
	buf := make([]byte, 4096)
	for len(b) < 64*1024 {
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil
		}
		if n == 0 {
			break
		}
		b = append(b, buf[:n]...)
	}
	in, err := svinfo.Decode(b)
	if err != nil {
		return nil
	}
	return &in
}

// UnixNano converts a TAI64N label to Unix nanoseconds (daemontools' fixed
// 10-second offset, no leap seconds). ok is false when the moment does not
// fit in an int64 of nanoseconds (about the years 1678 to 2262).
func UnixNano(l tai64.Label) (ns int64, ok bool) {
	sec := int64(l.Sec - tai64.Base) // wraps to negative before 1970
	const lim = math.MaxInt64/int64(time.Second) - 1
	if sec > lim || sec < -lim || l.Nano >= 1e9 {
		return 0, false
	}
	return sec*1e9 + int64(l.Nano), true
}

// Build returns the Object for a directory whose status was read as s;
// normallyUp is true when DIR/down does not exist.
func Build(dir string, s State, normallyUp bool) Object {
	r := s.Record
	o := Object{Dir: dir, Pid: uint32(r.Pid), NormallyUp: normallyUp, Paused: r.Pid != 0 && r.Paused}
	o.State = svinfo.Down
	if r.Pid != 0 {
		o.State = svinfo.Up
	}
	switch r.Want {
	case status.WantUp:
		o.Wanted = ptr("up")
	case status.WantDown:
		o.Wanted = ptr("down")
	case status.WantOnce:
		o.Wanted = ptr("once")
	}
	if ns, ok := UnixNano(r.When); ok {
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
	s, err := ReadState(l.dfd, 6, 2*time.Millisecond)
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
