// Package status reads and writes supervise/status, daemontools 0.76's
// 18-byte service status record:
//
//	bytes 0-11  TAI64N time of the last change (pid change or start)
//	bytes 12-15 pid of run, little-endian; 0 when down
//	byte  16    1 if paused (always 0 when pid is 0)
//	byte  17    wanted state: 'u' up, 'd' down, 0 once
//
// Readers accept longer records (runit and daemontools-encore append bytes)
// and reject shorter ones.
package status

import (
	"encoding/binary"
	"errors"
	"os"
	"time"

	"svkit/pkg/tai64"
)

// Size is the length of a daemontools status record.
const Size = 18

// Wanted states as stored in byte 17.
const (
	WantUp   = 'u'
	WantDown = 'd'
	WantOnce = 0
)

// ErrBadFormat is returned for a record shorter than Size.
var ErrBadFormat = errors.New("bad format")

// Record is one decoded status record.
type Record struct {
	When   tai64.Label // state since
	Pid    int         // 0 when down
	Paused bool
	Want   byte // WantUp, WantDown or WantOnce
}

// Encode returns the 18 bytes of r. The paused byte is 0 whenever the pid is
// 0, as 0.76 writes it.
func (r Record) Encode() [Size]byte {
	var b [Size]byte
	r.When.Pack(b[0:12])
	binary.LittleEndian.PutUint32(b[12:16], uint32(r.Pid))
	if r.Pid != 0 && r.Paused {
		b[16] = 1
	}
	b[17] = r.Want
	return b
}

// Decode parses the first Size bytes of b.
func Decode(b []byte) (Record, error) {
	if len(b) < Size {
		return Record{}, ErrBadFormat
	}
	return Record{
		When:   tai64.Unpack(b[0:12]),
		Pid:    int(binary.LittleEndian.Uint32(b[12:16])),
		Paused: b[16] != 0,
		Want:   b[17],
	}, nil
}

// Since returns the record's time stamp as a Go time.
func (r Record) Since() time.Time { return r.When.Time() }

// Read reads and decodes the status file at path. A file shorter than Size
// yields ErrBadFormat.
func Read(path string) (Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return Record{}, err
	}
	defer f.Close()
	var b [Size]byte
	n, err := readFull(f, b[:])
	if err != nil {
		return Record{}, err
	}
	return Decode(b[:n])
}

func readFull(f *os.File, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := f.Read(b[n:])
		n += m
		if err != nil {
			if n > 0 || m == 0 {
				return n, nil
			}
			return n, err
		}
		if m == 0 {
			break
		}
	}
	return n, nil
}
