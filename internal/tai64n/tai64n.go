// Package tai64n holds the tai64n and tai64nlocal filters: tai64n puts a
// TAI64N label in front of every line, tai64nlocal turns such labels into
// readable local times (honouring POSIX TZ strings, like C's localtime).
// Both read big chunks and write each chunk's output with one write, so the
// output of a line appears as soon as its read is handled.
package tai64n

import (
	"bytes"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"svkit/internal/localtime"
	"svkit/pkg/tai64"
)

// ReadSize is the size of one read.
const ReadSize = 256 << 10

// growPipe asks for a 1 MiB pipe buffer when r is a pipe (harmless if it
// fails).
func growPipe(r io.Reader) {
	f, ok := r.(*os.File)
	if !ok {
		return
	}
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFIFO {
		unix.FcntlInt(f.Fd(), unix.F_SETPIPE_SZ, 1<<20)
	}
}

// filter runs conv over every read of stdin and writes what it returns.
// It returns 0 at EOF and 111 on a read or write error, without a
// message, as 0.76 does.
func filter(stdin io.Reader, stdout io.Writer, conv func(in, out []byte) []byte, end func(out []byte) []byte) int {
	growPipe(stdin)
	buf := make([]byte, ReadSize)
	var out []byte
	for {
		n, err := stdin.Read(buf)
		if n > 0 {
			out = conv(buf[:n], out[:0])
			if _, werr := stdout.Write(out); werr != nil {
				return 111
			}
		}
		if err == io.EOF {
			if out = end(out[:0]); len(out) > 0 {
				if _, werr := stdout.Write(out); werr != nil {
					return 111
				}
			}
			return 0
		}
		if err != nil {
			return 111
		}
	}
}

// TAI64N is the tai64n program (it ignores its arguments, as 0.76 does): "@" + 24 hex digits + " " before every
// line, the label taken when the read holding the line's first byte
// returned. A partial last line is copied without a newline.
func TAI64N(argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return TAI64NClock(stdin, stdout, time.Now)
}

// TAI64NClock is TAI64N with the clock given (for tests).
func TAI64NClock(stdin io.Reader, stdout io.Writer, now func() time.Time) int {
	inLine := false
	var stamp []byte
	conv := func(in, out []byte) []byte {
		stamp = append(stamp[:0], '@')
		stamp = tai64.FromTime(now()).AppendHex(stamp)
		stamp = append(stamp, ' ')
		for len(in) > 0 {
			if !inLine {
				out = append(out, stamp...)
				inLine = true
			}
			i := bytes.IndexByte(in, '\n')
			if i < 0 {
				return append(out, in...)
			}
			out = append(out, in[:i+1]...)
			in = in[i+1:]
			inLine = false
		}
		return out
	}
	return filter(stdin, stdout, conv, func(out []byte) []byte { return out })
}

// hexval maps lowercase hex digits to their value and everything else to
// -1 (0.76's tai64nlocal knows no uppercase digits).
var hexval = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = int8(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = int8(c - 'a' + 10)
	}
	return
}()

// Local formats labels in a zone, remembering the last second it
// formatted (lines of one second share their date and time).
type Local struct {
	Zone     *localtime.Zone
	lastSec  int64
	lastText []byte
	valid    bool
}

// Append appends the local time of l ("YYYY-MM-DD HH:MM:SS.NNNNNNNNN") to
// dst, or reports false when localtime cannot convert it (where 0.76
// crashes).
func (z *Local) Append(dst []byte, l tai64.Label) ([]byte, bool) {
	sec := int64(l.Sec - tai64.Base)
	if !z.valid || sec != z.lastSec {
		tm, ok := z.Zone.Convert(sec)
		if !ok {
			return dst, false
		}
		b := z.lastText[:0]
		b = appendUint(b, uint64(tm.Year), 0) // a negative year wraps, as fmt_ulong's does
		b = append(b, '-')
		b = appendUint(b, uint64(tm.Mon), 2)
		b = append(b, '-')
		b = appendUint(b, uint64(tm.Day), 2)
		b = append(b, ' ')
		b = appendUint(b, uint64(tm.Hour), 2)
		b = append(b, ':')
		b = appendUint(b, uint64(tm.Min), 2)
		b = append(b, ':')
		b = appendUint(b, uint64(tm.Sec), 2)
		z.lastText, z.lastSec, z.valid = b, sec, true
	}
	dst = append(dst, z.lastText...)
	dst = append(dst, '.')
	return appendUint(dst, uint64(l.Nano), 9), true
}

// appendUint appends u in decimal, zero-padded to at least width digits.
func appendUint(dst []byte, u uint64, width int) []byte {
	var b [24]byte
	i := len(b)
	for u > 0 || width > 0 || i == len(b) {
		i--
		b[i] = byte('0' + u%10)
		u /= 10
		width--
	}
	return append(dst, b[i:]...)
}

// TAI64NLocal is the tai64nlocal program: a line starting with '@' has its
// label (the lowercase hex digits after the '@') replaced by the local time
// it stands for; everything else passes through. Unlike 0.76 it never
// crashes: a label localtime cannot convert, and a label cut off by the end
// of input, pass through unchanged.
func TAI64NLocal(argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return LocalFilter(stdin, stdout, localtime.Load())
}

// LocalFilter is TAI64NLocal with the zone given.
func LocalFilter(stdin io.Reader, stdout io.Writer, zone *localtime.Zone) int {
	const (
		start = iota
		label
		rest
	)
	state := start
	z := &Local{Zone: zone}
	var lab tai64.Label
	var raw []byte // the label as read, '@' included
	conv := func(in, out []byte) []byte {
		i := 0
		for i < len(in) {
			switch state {
			case start:
				if in[i] == '@' {
					state, lab = label, tai64.Label{}
					raw = append(raw[:0], '@')
					i++
					continue
				}
				state = rest
			case rest:
				j := bytes.IndexByte(in[i:], '\n')
				if j < 0 {
					out = append(out, in[i:]...)
					i = len(in)
					continue
				}
				out = append(out, in[i:i+j+1]...)
				i += j + 1
				state = start
			case label:
				j := i
				for j < len(in) {
					v := hexval[in[j]]
					if v < 0 {
						break
					}
					lab.Sec = lab.Sec<<4 | uint64(lab.Nano>>28)
					lab.Nano = lab.Nano<<4 | uint32(v)
					j++
				}
				raw = append(raw, in[i:j]...)
				i = j
				if i == len(in) {
					continue // the label goes on in the next read
				}
				var ok bool
				if out, ok = z.Append(out, lab); !ok {
					out = append(out, raw...)
				}
				state = rest
			}
		}
		return out
	}
	end := func(out []byte) []byte {
		if state == label {
			out = append(out, raw...)
		}
		return out
	}
	return filter(stdin, stdout, conv, end)
}
