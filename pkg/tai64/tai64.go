// Package tai64 converts between Go times and daemontools' TAI64 and TAI64N
// labels: the 8-byte seconds count 2^62 + 10 + unix seconds (daemontools
// applies the fixed TAI-UTC offset of 10 s and no leap-second table), the
// 12-byte TAI64N with nanoseconds, and its 24-hex-digit text form that
// multilog and tai64n print after an '@'.
package tai64

import (
	"encoding/binary"
	"time"
)

// Base is the TAI64 label of the Unix epoch as daemontools computes it.
const Base = uint64(1)<<62 + 10

// Label is a TAI64N moment: TAI64 seconds and nanoseconds.
type Label struct {
	Sec  uint64
	Nano uint32
}

// FromTime returns the label of t at daemontools' microsecond resolution:
// the nanoseconds field is microseconds*1000 + 500, as taia_now makes it.
func FromTime(t time.Time) Label {
	return Label{
		Sec:  Base + uint64(t.Unix()),
		Nano: uint32(t.Nanosecond()/1000)*1000 + 500,
	}
}

// Time returns the moment l stands for.
func (l Label) Time() time.Time {
	return time.Unix(int64(l.Sec-Base), int64(l.Nano))
}

// Pack writes the 12-byte big-endian TAI64N form of l into b.
func (l Label) Pack(b []byte) {
	binary.BigEndian.PutUint64(b[0:8], l.Sec)
	binary.BigEndian.PutUint32(b[8:12], l.Nano)
}

// Unpack reads a 12-byte TAI64N label.
func Unpack(b []byte) Label {
	return Label{Sec: binary.BigEndian.Uint64(b[0:8]), Nano: binary.BigEndian.Uint32(b[8:12])}
}

const hexdigits = "0123456789abcdef"

// AppendHex appends the 24 lowercase hex digits of l (no '@').
func (l Label) AppendHex(dst []byte) []byte {
	var b [12]byte
	l.Pack(b[:])
	for _, c := range b {
		dst = append(dst, hexdigits[c>>4], hexdigits[c&15])
	}
	return dst
}

// String returns "@" and the 24 hex digits, as multilog's t action prints.
func (l Label) String() string {
	return string(l.AppendHex([]byte{'@'}))
}

// ParseHex reads a label's hex digits from the start of s the way 0.76's
// tai64nlocal does: lowercase hex digits only, as many as there are, shifted
// through a 96-bit register whose last 8 digits are the nanoseconds and whose
// earlier digits are the seconds (so short labels are right-aligned and the
// oldest digits of a long one fall off). It returns the label and the number
// of bytes consumed.
func ParseHex(s []byte) (l Label, n int) {
	for n < len(s) {
		c := s[n]
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		default:
			return l, n
		}
		l.Sec = l.Sec<<4 | uint64(l.Nano>>28)
		l.Nano = l.Nano<<4 | uint32(v)
		n++
	}
	return l, n
}
