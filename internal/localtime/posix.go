package localtime

import (
	"sync"
	"time"
)

// rule is a parsed POSIX TZ string: standard time, and optionally daylight
// time with the dates it starts and ends (glibc's tz_rules).
type rule struct {
	stdOff, dstOff int // seconds east of UTC
	hasDST         bool
	explicit       bool // the string gave the dates
	start, end     change
}

// change is one transition date: Jn, n or Mm.w.d, and the local time of
// day (seconds) it happens at.
type change struct {
	kind    byte // 'J', 'D' (zero-based day), 'M'
	n, m, w int
	d       int
	secs    int
}

type parser struct {
	s string
	i int
}

func (p *parser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// name parses an abbreviation: 3+ letters, or <...> of letters, digits, + and -.
func (p *parser) name() bool {
	start := p.i
	if p.peek() == '<' {
		p.i++
		for c := p.peek(); isAlpha(c) || isDigit(c) || c == '+' || c == '-'; c = p.peek() {
			p.i++
		}
		if p.peek() != '>' || p.i-start-1 < 3 {
			p.i = start
			return false
		}
		p.i++
		return true
	}
	for isAlpha(p.peek()) {
		p.i++
	}
	if p.i-start < 3 {
		p.i = start
		return false
	}
	return true
}

// num parses up to a few digits.
func (p *parser) num() (int, bool) {
	if !isDigit(p.peek()) {
		return 0, false
	}
	n := 0
	for isDigit(p.peek()) {
		if n < 1e6 {
			n = n*10 + int(p.peek()-'0')
		}
		p.i++
	}
	return n, true
}

// hms parses [+-]hh[:mm[:ss]] and returns the signed seconds; maxH caps
// the hours as glibc does (24 for offsets, 167 for rule times).
func (p *parser) hms(maxH int) (int, bool) {
	sign := 1
	switch p.peek() {
	case '+':
		p.i++
	case '-':
		sign = -1
		p.i++
	}
	h, ok := p.num()
	if !ok {
		return 0, false
	}
	m, s := 0, 0
	if p.peek() == ':' {
		p.i++
		if m, ok = p.num(); !ok {
			return 0, false
		}
		if p.peek() == ':' {
			p.i++
			if s, ok = p.num(); !ok {
				return 0, false
			}
		}
	}
	h, m, s = min(h, maxH), min(m, 59), min(s, 59)
	return sign * (h*3600 + m*60 + s), true
}

// date parses ",Jn[/time]", ",n[/time]" or ",Mm.w.d[/time]"; an empty
// rule is glibc's default (M3.2.0 for the start, M11.1.0 for the end).
func (p *parser) date(first bool) (change, bool) {
	var c change
	if p.peek() == ',' {
		p.i++
	}
	switch ch := p.peek(); {
	case ch == 'J':
		p.i++
		n, ok := p.num()
		if !ok || n < 1 || n > 365 {
			return c, false
		}
		c = change{kind: 'J', n: n}
	case isDigit(ch):
		n, _ := p.num()
		if n > 365 {
			return c, false
		}
		c = change{kind: 'D', n: n}
	case ch == 'M':
		p.i++
		m, ok1 := p.num()
		if p.peek() != '.' {
			return c, false
		}
		p.i++
		w, ok2 := p.num()
		if p.peek() != '.' {
			return c, false
		}
		p.i++
		d, ok3 := p.num()
		if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || w < 1 || w > 5 || d > 6 {
			return c, false
		}
		c = change{kind: 'M', m: m, w: w, d: d}
	case ch == 0:
		if first {
			c = change{kind: 'M', m: 3, w: 2, d: 0}
		} else {
			c = change{kind: 'M', m: 11, w: 1, d: 0}
		}
	default:
		return c, false
	}
	c.secs = 2 * 3600
	if p.peek() == '/' {
		p.i++
		s, ok := p.hms(167)
		if !ok {
			return c, false
		}
		c.secs = s
	}
	return c, true
}

// parseRule parses a POSIX TZ string as glibc's __tzset_parse_tz does.
func parseRule(tz string) (*rule, bool) {
	p := &parser{s: tz}
	if !p.name() {
		return nil, false
	}
	off, ok := p.hms(24)
	if !ok {
		return nil, false
	}
	r := &rule{stdOff: -off, dstOff: -off}
	if p.i == len(p.s) || !p.name() {
		return r, true
	}
	r.hasDST = true
	r.dstOff = r.stdOff + 3600
	save := p.i
	if o, ok := p.hms(24); ok {
		r.dstOff = -o
	} else {
		p.i = save
	}
	if p.i == len(p.s) || (p.s[p.i:] == ",") {
		return r, true // dates from posixrules, or the US default
	}
	start, ok1 := p.date(true)
	end, ok2 := p.date(false)
	if ok1 && ok2 {
		r.start, r.end, r.explicit = start, end, true
		return r, true
	}
	// glibc keeps the default dates when the given ones do not parse.
	return r, true
}

var (
	posixOnce    sync.Once
	posixRules   *time.Location
	posixLast    int64
	posixHasLast bool
)

// offset returns the rule's offset east of UTC at sec.
func (r *rule) offset(sec int64) int {
	if !r.hasDST {
		return r.stdOff
	}
	if !r.explicit {
		// glibc takes the dates from the posixrules file (New York) when
		// there is one (__tzfile_default), shifting them by the
		// difference of the standard offsets; past the file's last
		// transition it applies the file's own footer rule, offsets and
		// all.
		posixOnce.Do(func() {
			path := zoneDir() + "/posixrules"
			posixRules = loadFile(path)
			posixLast, posixHasLast = lastTransition(path)
		})
		if posixRules != nil {
			t := time.Unix(sec, 0).In(posixRules)
			_, nyOff := t.Zone()
			if posixHasLast && sec >= posixLast {
				return nyOff
			}
			nyStd := nyOff
			if t.IsDST() {
				nyStd -= 3600
			}
			if time.Unix(sec-int64(r.stdOff-nyStd), 0).In(posixRules).IsDST() {
				return r.dstOff
			}
			return r.stdOff
		}
		r.start = change{kind: 'M', m: 3, w: 2, d: 0, secs: 7200}
		r.end = change{kind: 'M', m: 11, w: 1, d: 0, secs: 7200}
	}
	year := time.Unix(sec, 0).UTC().Year()
	startAt := r.start.at(year) - int64(r.stdOff)
	endAt := r.end.at(year) - int64(r.dstOff)
	var dst bool
	if startAt > endAt {
		dst = sec < endAt || sec >= startAt
	} else {
		dst = sec >= startAt && sec < endAt
	}
	if dst {
		return r.dstOff
	}
	return r.stdOff
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// at returns the transition of year as seconds since the epoch in the
// local time it is given in (not yet moved to UTC).
func (c change) at(year int) int64 {
	// glibc's compute_change counts from January 1st of the year only
	// after 1970; for 1970 and earlier it starts at the epoch.
	jan1 := int64(0)
	if year > 1970 {
		jan1 = time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	}
	var day int
	switch c.kind {
	case 'J':
		day = c.n - 1
		if isLeap(year) && c.n >= 60 {
			day++
		}
	case 'D':
		day = c.n
	case 'M':
		first := time.Date(year, time.Month(c.m), 1, 0, 0, 0, 0, time.UTC)
		dom := (c.d - int(first.Weekday()) + 7) % 7 // first matching weekday, 0-based
		dom += (c.w - 1) * 7
		days := time.Date(year, time.Month(c.m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
		for dom >= days {
			dom -= 7
		}
		day = first.YearDay() - 1 + dom
	}
	return jan1 + int64(day)*86400 + int64(c.secs)
}
