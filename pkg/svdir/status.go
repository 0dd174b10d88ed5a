package svdir

// supervise/status is daemontools 0.76's 18-byte service status record:
//
//	bytes 0-11  TAI64N time of the last change (pid change or start)
//	bytes 12-15 pid of run, little-endian; 0 when down
//	byte  16    1 if paused (always 0 when pid is 0)
//	byte  17    wanted state: 'u' up, 'd' down, 0 once
//
// Readers accept longer records (runit and daemontools-encore append bytes)
// and reject shorter ones.

import (
	"encoding/binary"
	"errors"
	"time"

	"golang.org/x/sys/unix"

	"svkit/internal/eintr"
	"svkit/pkg/tai64"
)

// StatusSize is the length of a daemontools status record.
const StatusSize = 18

// Wanted states as stored in byte 17.
const (
	WantUp   = 'u'
	WantDown = 'd'
	WantOnce = 0
)

// ErrBadFormat is returned for a record shorter than StatusSize, and for
// an info or process file that does not parse.
var ErrBadFormat = errors.New("bad format")

// Status is one decoded status record.
type Status struct {
	When   tai64.Label // state since
	Pid    int         // 0 when down
	Paused bool
	Want   byte // WantUp, WantDown or WantOnce
}

// Encode returns the 18 bytes of r. The paused byte is 0 whenever the pid is
// 0, as 0.76 writes it.
func (r Status) Encode() [StatusSize]byte {
	var b [StatusSize]byte
	r.When.Pack(b[0:12])
	binary.LittleEndian.PutUint32(b[12:16], uint32(r.Pid))
	if r.Pid != 0 && r.Paused {
		b[16] = 1
	}
	b[17] = r.Want
	return b
}

// DecodeStatus parses the first StatusSize bytes of b.
func DecodeStatus(b []byte) (Status, error) {
	if len(b) < StatusSize {
		return Status{}, ErrBadFormat
	}
	return Status{
		When:   tai64.Unpack(b[0:12]),
		Pid:    int(binary.LittleEndian.Uint32(b[12:16])),
		Paused: b[16] != 0,
		Want:   b[17],
	}, nil
}

// Since returns the record's time stamp as a Go time.
func (r Status) Since() time.Time { return r.When.Time() }

// StatusError is a failure to read supervise/status. Its text is the one
// svstat prints after "DIR: ", such as "unable to open supervise/status:
// file does not exist" or "unable to read supervise/status: bad format".
type StatusError struct {
	Op  string // "open" or "read"
	Err error
}

func (e *StatusError) Error() string {
	return "unable to " + e.Op + " " + StatusPath + ": " + ErrText(e.Err)
}

func (e *StatusError) Unwrap() error { return e.Err }

// ReadStatus reads supervise/status below the service directory dirfd with
// one read, as 0.76's svstat does, without following a symlink or blocking
// on a FIFO. Errors are *StatusError.
func ReadStatus(dirfd int) (Status, error) {
	fd, err := openNoFollow(dirfd, StatusPath)
	if err != nil {
		return Status{}, &StatusError{"open", err}
	}
	defer unix.Close(fd)
	var b [StatusSize]byte
	n, err := eintr.Retry(func() (int, error) { return unix.Read(fd, b[:]) })
	if err != nil {
		return Status{}, &StatusError{"read", err}
	}
	r, err := DecodeStatus(b[:n])
	if err != nil {
		return Status{}, &StatusError{"read", err}
	}
	return r, nil
}

// ReadStatusOf reads dir/supervise/status as ReadStatus does.
func ReadStatusOf(dir string) (Status, error) {
	dfd, err := OpenDir(dir)
	if err != nil {
		return Status{}, err
	}
	defer unix.Close(dfd)
	return ReadStatus(dfd)
}

// WriteStatus replaces supervise/status below dirfd with r, through
// status.new and a rename as 0.76 does.
func WriteStatus(dirfd int, r Status) error {
	b := r.Encode()
	return Replace(dirfd, StatusPath, b[:], 0644)
}
