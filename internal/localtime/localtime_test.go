package localtime

import (
	"os"
	"testing"
	"time"
)

func TestParseRule(t *testing.T) {
	t.Parallel()
	cases := []struct {
		tz             string
		ok             bool
		stdOff, dstOff int
		hasDST         bool
	}{
		{"ABC-3", true, 3 * 3600, 3 * 3600, false},
		{"EST5", true, -5 * 3600, -5 * 3600, false},
		{"XYZ3:30", true, -(3*3600 + 1800), -(3*3600 + 1800), false},
		{"<+0530>-5:30", true, 5*3600 + 1800, 5*3600 + 1800, false},
		{"EST5EDT", true, -5 * 3600, -4 * 3600, true},
		{"EST5EDT,M3.2.0,M11.1.0", true, -5 * 3600, -4 * 3600, true},
		{"AAA-10BBB-11,M10.1.0,M4.1.0/3", true, 10 * 3600, 11 * 3600, true},
		{"AB-3", false, 0, 0, false},
		{"ABC", false, 0, 0, false},
		{"", false, 0, 0, false},
		{"123", false, 0, 0, false},
	}
	for _, c := range cases {
		r, ok := parseRule(c.tz)
		if ok != c.ok {
			t.Errorf("%q: ok %v", c.tz, ok)
			continue
		}
		if ok && (r.stdOff != c.stdOff || r.dstOff != c.dstOff || r.hasDST != c.hasDST) {
			t.Errorf("%q: %+v", c.tz, r)
		}
	}
}

func TestConvert(t *testing.T) {
	cases := []struct {
		tz   string
		sec  int64
		want string
	}{
		{"ABC-3", 935467445, "1999-08-24 07:04:05"},
		{"EST5EDT,M3.2.0,M11.1.0", 935467445, "1999-08-24 00:04:05"},
		{"EST5EDT,M3.2.0,M11.1.0", 1710054000 - 1, "2024-03-10 01:59:59"}, // just before the change
		{"EST5EDT,M3.2.0,M11.1.0", 1710054000, "2024-03-10 03:00:00"},
		{"CET-1CEST,M3.5.0,M10.5.0/3", 1729990800 - 1, "2024-10-27 02:59:59"},
		{"CET-1CEST,M3.5.0,M10.5.0/3", 1729990800, "2024-10-27 02:00:00"},
		{"", 0, "1970-01-01 00:00:00"},
		{"garbage", 86400, "1970-01-02 00:00:00"},
	}
	t.Parallel()
	for _, c := range cases {
		tm, ok := LoadTZ(c.tz, true).Convert(c.sec)
		got := time.Date(int(tm.Year), time.Month(tm.Mon), tm.Day, tm.Hour, tm.Min, tm.Sec, 0, time.UTC).Format("2006-01-02 15:04:05")
		if !ok || got != c.want {
			t.Errorf("TZ=%q %d: %s %v, want %s", c.tz, c.sec, got, ok, c.want)
		}
	}
	if _, err := os.Stat("/usr/share/zoneinfo/US/Pacific"); err == nil {
		tm, _ := LoadTZ("US/Pacific", true).Convert(935467445)
		if tm.Hour != 21 || tm.Day != 23 {
			t.Errorf("US/Pacific: %+v", tm)
		}
	}
	if _, ok := UTC.Convert(-(1 << 62)); ok {
		t.Error("a year that does not fit an int converted")
	}
}

func TestTZifLast(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("/usr/share/zoneinfo/America/New_York")
	if err != nil {
		t.Skip("no tzdata")
	}
	last, ok := parseLastTransition(b)
	if !ok || last < 2000000000 {
		t.Errorf("last transition %d %v", last, ok)
	}
}

func FuzzParseRule(f *testing.F) {
	f.Add("EST5EDT,M3.2.0,M11.1.0")
	f.Add("<+0530>-5:30")
	f.Add("AAA-10BBB,J60/2,300/-1")
	f.Fuzz(func(t *testing.T, tz string) {
		r, ok := parseRule(tz)
		if !ok {
			return
		}
		z := &Zone{rule: r}
		for _, s := range []int64{-1e10, 0, 1e9, 4e9} {
			if off := z.Offset(s); off < -25*3600 || off > 25*3600 {
				t.Fatalf("%q: offset %d", tz, off)
			}
		}
	})
}

func FuzzTZif(f *testing.F) {
	if b, err := os.ReadFile("/usr/share/zoneinfo/UTC"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("TZif2"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseLastTransition(b)
	})
}
