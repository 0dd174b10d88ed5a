package svlog

import (
	"bytes"
	"time"

	"svkit/internal/tai64n"
	"svkit/pkg/tai64"
)

// MaxLine is the most bytes of one log line svlog keeps; the rest of a
// longer line is skipped, never read into memory, and the line is shown
// with CutMarker after what was kept.
const MaxLine = 64 << 10

// CutMarker follows the kept part of a line longer than MaxLine.
const CutMarker = " [svlog: line cut at 65536 bytes]"

// Line is one log line of one service.
type Line struct {
	Service string      // the service directory's name
	Time    tai64.Label // the line's TAI64N stamp, or its file's modification time
	Stamped bool        // Time is the line's own stamp (multilog t)
	Text    []byte      // the line without its stamp and newline
	Cut     bool        // the line was longer than MaxLine and Text is its start
}

// When returns the line's time as a Go time.
func (l *Line) When() time.Time { return l.Time.Time() }

// isHex reports whether c is a lowercase hex digit, as multilog writes.
func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }

// stampLen is the length of "@" + 24 hex digits + " ".
const stampLen = 26

// ParseStamp splits a multilog t stamp off the start of b. It reports false
// when b does not start with '@', 24 lowercase hex digits and a space.
func ParseStamp(b []byte) (tai64.Label, []byte, bool) {
	if len(b) < stampLen || b[0] != '@' || b[stampLen-1] != ' ' {
		return tai64.Label{}, b, false
	}
	for _, c := range b[1 : stampLen-1] {
		if !isHex(c) {
			return tai64.Label{}, b, false
		}
	}
	l, _ := tai64.ParseHex(b[1 : stampLen-1])
	return l, b[stampLen:], true
}

// labelOf returns the TAI64N label of a Go time, nanoseconds kept.
func labelOf(t time.Time) tai64.Label {
	return tai64.Label{Sec: tai64.Base + uint64(t.Unix()), Nano: uint32(t.Nanosecond())}
}

// makeLine builds the Line of raw (one line, no newline), with mtime used
// when it carries no stamp. The text is copied.
func makeLine(service string, raw []byte, cut bool, mtime tai64.Label) Line {
	l := Line{Service: service, Time: mtime, Cut: cut}
	if lab, rest, ok := ParseStamp(raw); ok {
		l.Time, l.Stamped, raw = lab, true, rest
	}
	l.Text = append([]byte(nil), raw...)
	return l
}

// Before orders lines by time.
func (l *Line) Before(m *Line) bool {
	if l.Time.Sec != m.Time.Sec {
		return l.Time.Sec < m.Time.Sec
	}
	return l.Time.Nano < m.Time.Nano
}

// Formatter writes lines as "TIME NAME: TEXT", TIME in tai64nlocal's
// format ("2026-11-22 10:15:01.503371500") in the local zone, followed by
// '~' when it is the file's modification time rather than the line's stamp.
type Formatter struct {
	Local tai64n.Local
}

// AppendTime appends the line's TIME as Append shows it, '~' included.
func (f *Formatter) AppendTime(dst []byte, l *Line) []byte {
	var ok bool
	dst, ok = f.Local.Append(dst, l.Time)
	if !ok {
		dst = append(dst, '@')
		dst = l.Time.AppendHex(dst)
	}
	if !l.Stamped {
		dst = append(dst, '~')
	}
	return dst
}

// Append appends the formatted line and a newline to dst.
func (f *Formatter) Append(dst []byte, l *Line) []byte {
	dst = f.AppendTime(dst, l)
	dst = append(dst, ' ')
	dst = append(dst, l.Service...)
	dst = append(dst, ": "...)
	dst = append(dst, l.Text...)
	if l.Cut {
		dst = append(dst, CutMarker...)
	}
	return append(dst, '\n')
}

// Splitter cuts a stream of bytes into lines of at most MaxLine bytes
// without holding more than MaxLine bytes of a line: the rest of a longer
// line is dropped and the line marked cut. It is the reader of followed
// files.
type Splitter struct {
	buf  []byte // the start of the line being read
	skip bool   // the line being read is longer than MaxLine: drop until '\n'
}

// Write feeds p and calls emit for every line it completes (raw is valid
// only during the call).
func (s *Splitter) Write(p []byte, emit func(raw []byte, cut bool)) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if !s.skip {
			room := MaxLine - len(s.buf)
			if len(chunk) > room {
				s.buf = append(s.buf, chunk[:room]...)
				s.skip = true
			} else {
				s.buf = append(s.buf, chunk...)
			}
		}
		if i < 0 {
			return
		}
		emit(s.buf, s.skip)
		s.buf, s.skip = s.buf[:0], false
		if cap(s.buf) > 4*4096 {
			s.buf = nil // give back what a long line took
		}
		p = p[i+1:]
	}
}

// Pending returns how many bytes of an unfinished line are held.
func (s *Splitter) Pending() int { return len(s.buf) }

// Reset drops an unfinished line.
func (s *Splitter) Reset() { s.buf, s.skip = s.buf[:0], false }
