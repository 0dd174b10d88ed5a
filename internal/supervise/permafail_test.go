package supervise

import (
	"strings"
	"testing"
)

// death is one way a run can end: an exit code (-1 if none) and a signal
// (0 if none).
type death struct{ code, sig int }

func TestParsePermafail(t *testing.T) {
	for _, c := range []struct {
		line    string
		ok      bool
		deaths  int
		seconds int
		count   []death // deaths that count
		skip    []death // deaths that do not
	}{
		{line: "3 10", ok: true, deaths: 3, seconds: 10, count: []death{{1, 0}, {0, 0}, {-1, 9}, {-1, 0}}},
		{line: "  5\t60  ", ok: true, deaths: 5, seconds: 60},
		{line: "3 10 1", ok: true, deaths: 3, seconds: 10, count: []death{{1, 0}}, skip: []death{{2, 0}, {0, 0}, {-1, 15}, {-1, 0}}},
		{line: "5 60 1,101-103,SIGSEGV,sigbus", ok: true, deaths: 5, seconds: 60,
			count: []death{{1, 0}, {101, 0}, {102, 0}, {103, 0}, {-1, 11}, {-1, 7}},
			skip:  []death{{100, 0}, {104, 0}, {-1, 15}}},
		{line: "1 1 TERM,SIG9,0-0,255", ok: true, deaths: 1, seconds: 1,
			count: []death{{-1, 15}, {-1, 9}, {0, 0}, {255, 0}}, skip: []death{{1, 0}, {254, 0}, {-1, 2}}},
		{line: "2 5 sig64", ok: true, deaths: 2, seconds: 5, count: []death{{-1, 64}}, skip: []death{{-1, 63}}},
		{line: ""},
		{line: "3"},
		{line: "3 10 1 2"},
		{line: "0 10"},
		{line: "3 0"},
		{line: "-3 10"},
		{line: "x 10"},
		{line: "3 10s"},
		{line: "1001 10"},
		{line: "3 999999999999"},
		{line: "3 10 256"},
		{line: "3 10 1,"},
		{line: "3 10 ,1"},
		{line: "3 10 5-3"},
		{line: "3 10 1-"},
		{line: "3 10 +1"},
		{line: "3 10 0x1"},
		{line: "3 10 SIG"},
		{line: "3 10 SIG65"},
		{line: "3 10 SIG0"},
		{line: "3 10 NOSUCH"},
		{line: "3 10 1-2-3"},
	} {
		p, err := parsePermafail(c.line)
		if (err == nil) != c.ok {
			t.Errorf("%q: err %v, want ok %v", c.line, err, c.ok)
			continue
		}
		if !c.ok {
			continue
		}
		if p.deaths != c.deaths || p.seconds != c.seconds || p.window != p.window.Round(second) || p.window == 0 {
			t.Errorf("%q: %+v", c.line, p)
		}
		for _, d := range c.count {
			if !p.counts(d.code, d.sig) {
				t.Errorf("%q: death %+v does not count", c.line, d)
			}
		}
		for _, d := range c.skip {
			if p.counts(d.code, d.sig) {
				t.Errorf("%q: death %+v counts", c.line, d)
			}
		}
	}
}

func TestCount(t *testing.T) {
	if got := count(1, "time") + ", " + count(3, "time") + ", " + count(1, "second"); got != "1 time, 3 times, 1 second" {
		t.Errorf("%q", got)
	}
}

func TestDeathCause(t *testing.T) {
	for _, c := range []struct {
		d    death
		want string
	}{{death{1, 0}, "exit 1"}, {death{-1, 9}, "signal KILL"}, {death{-1, 0}, "exit status unknown"}} {
		if got := deathCause(c.d.code, c.d.sig); got != c.want {
			t.Errorf("%+v: %q, want %q", c.d, got, c.want)
		}
	}
}

// FuzzParsePermafail: any line is either refused or gives a policy within
// bounds, under which only the listed codes and signals count.
func FuzzParsePermafail(f *testing.F) {
	for _, s := range []string{"3 10", "3 10 1", "5 60 1,101-103,SIGSEGV,sigbus", "1 1 TERM", "3 10 5-3", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		p, err := parsePermafail(line)
		if err != nil {
			return
		}
		if p.deaths < 1 || p.deaths > maxPermafailDeaths || p.seconds < 1 || p.seconds > maxPermafailSeconds {
			t.Fatalf("%q: out of bounds: %+v", line, p)
		}
		f := strings.Fields(line)
		if (len(f) == 3) != p.filter {
			t.Fatalf("%q: filter %v", line, p.filter)
		}
		if !p.filter && !p.counts(-1, 0) {
			t.Fatalf("%q: without a list every death counts", line)
		}
		if p.filter && p.counts(-1, 0) {
			t.Fatalf("%q: a death of unknown cause counts", line)
		}
	})
}
