package svdir

// supervise/info is the text file in which
// svkit's supervise publishes the state that the 18-byte supervise/status
// record has no room for: readiness, the last exit, the restart count, the
// back-off deadline, whether finish is running. It is replaced through a
// rename on every change, so a reader sees one whole version.
//
// The format is one "key=value" per line, in this order:
//
//	state=up|down|finish    down: nothing runs; finish: ./finish runs
//	pid=N                   the service's process, 0 when not up
//	since=NS                Unix nanoseconds of the last state change: exactly the
//	                        time stamp of the status record written with it, which
//	                        lets readers tell a matching info file from a stale one
//	ready=0|1               the service said it is ready (or has no readiness source)
//	readysince=NS           when it became ready, 0 if not ready
//	started=NS              when run was last started, 0 if never
//	exitcode=N              the last run's exit code, -1 if killed by a signal or unknown
//	exitsignal=N            the signal that killed it, 0 if none
//	restarts=N              automatic restarts since the service was last wanted up
//	backoff=NS              when the next automatic start is due, 0 if none pending
//	statustext=TEXT         STATUS= of the last sd_notify message, newlines as spaces
//	supervisor=N            the pid of the supervisor writing this file
//	exited=NS               when the last run ended, 0 if none has
//	starterror=TEXT         why the last start failed, in words ("run is not
//	                        executable (chmod +x run)"); empty when the last
//	                        start succeeded
//	starterrorat=NS         when that start failed, 0 if none did
//	startfailures=N         starts that failed in a row, 0 after a success
//	startfailedsince=NS     when the first of them failed, 0 if none
//	failed=0|1              supervise gave up on the service (DIR/permafail):
//	                        it stays down until svc -u
//	failedreason=TEXT       why, in words ("died 3 times in 10 seconds (exit 1)")
//	failedat=NS             when it gave up, 0 if it has not
//	failedboot=ID           the boot (/proc/sys/kernel/random/boot_id) it gave up
//	                        in: a supervise started in a later boot forgets the mark
//	protocol=0|1            ready=1 came from a readiness protocol (notification-fd,
//	                        notify-socket, check), not from being up
//	onceok=0|1              down after a run started with svc -o that exited 0
//	waitingfor=A/B          the links in needs/ and binds/ that are not ready while
//	                        supervise holds ./run back for them, "/"-separated
//
// Unknown keys are ignored by readers, so later versions may add keys.

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The states of Info.State.
const (
	StateDown   = "down"
	StateUp     = "up"
	StateFinish = "finish"
)

// Info is the extended state of one service.
type Info struct {
	State      string
	Pid        int
	Since      int64
	Ready      bool
	ReadySince int64
	Started    int64
	ExitCode   int
	ExitSignal int
	Restarts   int
	Backoff    int64
	StatusText string

	Supervisor       int
	Exited           int64
	StartError       string
	StartErrorAt     int64
	StartFailures    int
	StartFailedSince int64

	Failed       bool
	FailedReason string
	FailedAt     int64
	FailedBoot   string
	Protocol     bool
	OnceOK       bool
	WaitingFor   []string
}

// infoKeys are the keys of the file in their order, each with the field of
// Info it holds (a *string, *int, *int64, *bool or *[]string).
var infoKeys = []struct {
	key   string
	field func(in *Info) any
}{
	{"state", func(in *Info) any { return &in.State }},
	{"pid", func(in *Info) any { return &in.Pid }},
	{"since", func(in *Info) any { return &in.Since }},
	{"ready", func(in *Info) any { return &in.Ready }},
	{"readysince", func(in *Info) any { return &in.ReadySince }},
	{"started", func(in *Info) any { return &in.Started }},
	{"exitcode", func(in *Info) any { return &in.ExitCode }},
	{"exitsignal", func(in *Info) any { return &in.ExitSignal }},
	{"restarts", func(in *Info) any { return &in.Restarts }},
	{"backoff", func(in *Info) any { return &in.Backoff }},
	{"statustext", func(in *Info) any { return &in.StatusText }},
	{"supervisor", func(in *Info) any { return &in.Supervisor }},
	{"exited", func(in *Info) any { return &in.Exited }},
	{"starterror", func(in *Info) any { return &in.StartError }},
	{"starterrorat", func(in *Info) any { return &in.StartErrorAt }},
	{"startfailures", func(in *Info) any { return &in.StartFailures }},
	{"startfailedsince", func(in *Info) any { return &in.StartFailedSince }},
	{"failed", func(in *Info) any { return &in.Failed }},
	{"failedreason", func(in *Info) any { return &in.FailedReason }},
	{"failedat", func(in *Info) any { return &in.FailedAt }},
	{"failedboot", func(in *Info) any { return &in.FailedBoot }},
	{"protocol", func(in *Info) any { return &in.Protocol }},
	{"onceok", func(in *Info) any { return &in.OnceOK }},
	{"waitingfor", func(in *Info) any { return &in.WaitingFor }},
}

// infoKey maps a key of the file to its index in infoKeys.
var infoKey = func() map[string]int {
	m := make(map[string]int, len(infoKeys))
	for i, k := range infoKeys {
		m[k.key] = i
	}
	return m
}()

// Encode returns the file content.
func (in *Info) Encode() []byte {
	b := make([]byte, 0, 256)
	for _, k := range infoKeys {
		b = append(b, k.key...)
		b = append(b, '=')
		switch p := k.field(in).(type) {
		case *string:
			b = append(b, oneLine(*p)...)
		case *int:
			b = strconv.AppendInt(b, int64(*p), 10)
		case *int64:
			b = strconv.AppendInt(b, *p, 10)
		case *bool:
			b = append(b, flag(*p)...)
		case *[]string:
			b = append(b, oneLine(JoinNames(*p))...)
		}
		b = append(b, '\n')
	}
	return b
}

// flag is the encoding of a boolean.
func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// oneLine folds the line ends and NULs of a text value into spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == 0 {
			return ' '
		}
		return r
	}, s)
}

// DecodeInfo parses the file content; ErrBadFormat if it is not an info
// file.
func DecodeInfo(b []byte) (Info, error) {
	var in Info
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 1024), 64*1024)
	seen := false
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			return Info{}, ErrBadFormat
		}
		i, known := infoKey[k]
		if !known {
			continue
		}
		var err error
		switch p := infoKeys[i].field(&in).(type) {
		case *string:
			*p = v
		case *int:
			*p, err = strconv.Atoi(v)
		case *int64:
			*p, err = strconv.ParseInt(v, 10, 64)
		case *bool:
			*p = v == "1"
		case *[]string:
			*p = SplitNames(v)
		}
		seen = seen || k == "state"
		if err != nil {
			return Info{}, ErrBadFormat
		}
	}
	if sc.Err() != nil || !seen {
		return Info{}, ErrBadFormat
	}
	return in, nil
}

// ReadInfo reads supervise/info below the service directory dirfd, without
// following a symlink or blocking on a FIFO; nil when it is absent or not a
// valid info file.
func ReadInfo(dirfd int) *Info {
	b, err := ReadFile(dirfd, InfoPath, maxInfo)
	if err != nil {
		return nil
	}
	in, err := DecodeInfo(b)
	if err != nil {
		return nil
	}
	return &in
}

// maxInfo bounds what is read of supervise/info.
const maxInfo = 64 * 1024

// WriteInfo replaces supervise/info below dirfd with the encoding of in.
func WriteInfo(dirfd int, in *Info) error {
	return Replace(dirfd, InfoPath, in.Encode(), 0644)
}

// ReadInfoOf reads dir/supervise/info as ReadInfo does.
func ReadInfoOf(dir string) *Info {
	dfd, err := OpenDir(dir)
	if err != nil {
		return nil
	}
	defer unix.Close(dfd)
	return ReadInfo(dfd)
}
