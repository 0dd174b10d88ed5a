// Package localtime converts Unix seconds to local calendar time the way
// C's localtime(3) does under glibc, honouring every form of the TZ
// variable: unset (/etc/localtime), empty (UTC), a zoneinfo name or
// absolute path (with or without a leading ':'), and POSIX TZ strings such
// as "ABC-3" or "EST5EDT,M3.2.0,M11.1.0" that Go's time.Local ignores.
package localtime

import (
	"os"
	"strconv"
	"time"
)

// Tm is a broken-down local time.
type Tm struct {
	Year                          int64
	Mon, Day, Hour, Min, Sec, Off int // Mon 1-12; Off is seconds east of UTC
}

// Zone is a loaded time zone.
type Zone struct {
	loc  *time.Location // a zoneinfo file, or nil
	rule *rule          // a POSIX TZ string, or nil (then UTC if loc is nil)
}

// UTC is the zone glibc falls back to.
var UTC = &Zone{}

// zoneDir is where glibc looks for zoneinfo names (TZDIR overrides it).
func zoneDir() string {
	if d := os.Getenv("TZDIR"); d != "" {
		return d
	}
	return "/usr/share/zoneinfo"
}

// Load returns the zone the TZ environment variable selects.
func Load() *Zone {
	tz, set := os.LookupEnv("TZ")
	return LoadTZ(tz, set)
}

// LoadTZ returns the zone for TZ=tz, or for TZ unset when set is false.
func LoadTZ(tz string, set bool) *Zone {
	if !set {
		if loc := loadFile("/etc/localtime"); loc != nil {
			return &Zone{loc: loc}
		}
		return UTC
	}
	if tz == "" {
		return UTC
	}
	name := tz
	if name[0] == ':' {
		name = name[1:]
	}
	if name != "" {
		path := name
		if path[0] != '/' {
			path = zoneDir() + "/" + name
		}
		if loc := loadFile(path); loc != nil {
			return &Zone{loc: loc}
		}
	}
	if tz[0] != ':' {
		if r, ok := parseRule(tz); ok {
			return &Zone{rule: r}
		}
	}
	return UTC
}

func loadFile(path string) *time.Location {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > 1<<20 {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	loc, err := time.LoadLocationFromTZData(path, b)
	if err != nil {
		return nil
	}
	return loc
}

// Offset returns the zone's offset east of UTC at Unix time sec.
func (z *Zone) Offset(sec int64) int {
	switch {
	case z.loc != nil:
		_, off := time.Unix(sec, 0).In(z.loc).Zone()
		return off
	case z.rule != nil:
		return z.rule.offset(sec)
	}
	return 0
}

// Convert breaks sec down into local time. It fails, as glibc's
// localtime does, when the year does not fit a C int.
func (z *Zone) Convert(sec int64) (Tm, bool) {
	const limit = 1 << 56 // far beyond any int year; keeps the arithmetic exact
	if sec > limit || sec < -limit {
		return Tm{}, false
	}
	off := z.Offset(sec)
	t := time.Unix(sec+int64(off), 0).UTC()
	y := int64(t.Year())
	if y-1900 > 1<<31-1 || y-1900 < -(1<<31) {
		return Tm{}, false
	}
	return Tm{Year: y, Mon: int(t.Month()), Day: t.Day(), Hour: t.Hour(), Min: t.Minute(), Sec: t.Second(), Off: off}, true
}

// DateTime formats sec as local time to the second, "2006-01-02 15:04:05",
// the first part of what tai64nlocal prints. A time Convert cannot break
// down is given in UTC.
func (z *Zone) DateTime(sec int64) string {
	tm, ok := z.Convert(sec)
	if !ok {
		return time.Unix(sec, 0).UTC().Format(time.DateTime)
	}
	two := func(b []byte, n int) []byte { return append(b, byte('0'+n/10%10), byte('0'+n%10)) }
	b := strconv.AppendInt(make([]byte, 0, 19), tm.Year, 10)
	b = two(append(b, '-'), tm.Mon)
	b = two(append(b, '-'), tm.Day)
	b = two(append(b, ' '), tm.Hour)
	b = two(append(b, ':'), tm.Min)
	b = two(append(b, ':'), tm.Sec)
	return string(b)
}
