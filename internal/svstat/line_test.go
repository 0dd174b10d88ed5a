package svstat

import (
	"testing"
	"time"

	"svkit/pkg/svdir"
	"svkit/pkg/tai64"
)

func TestLine(t *testing.T) {
	now := time.Unix(1700000000, 999999999)
	at := func(ago int64) tai64.Label { return tai64.FromTime(time.Unix(1700000000-ago, 0)) }
	for _, tc := range []struct {
		r          svdir.Status
		normallyUp bool
		want       string
	}{
		{svdir.Status{When: at(5), Pid: 5409, Paused: true, Want: 'u'}, true, "up (pid 5409) 5 seconds, paused"},
		{svdir.Status{When: at(5), Want: 'u'}, true, "down 5 seconds, normally up, want up"},
		{svdir.Status{When: at(7), Pid: 4242, Paused: true, Want: 'd'}, false, "up (pid 4242) 7 seconds, normally down, paused, want down"},
		{svdir.Status{When: at(0), Pid: 1, Want: 'u'}, true, "up (pid 1) 0 seconds"},
		{svdir.Status{When: at(3), Pid: 1, Want: 'd'}, true, "up (pid 1) 3 seconds, want down"},
		{svdir.Status{When: at(3), Pid: 1, Want: 0}, true, "up (pid 1) 3 seconds"},
		{svdir.Status{When: at(3), Pid: 1, Want: 'u'}, false, "up (pid 1) 3 seconds, normally down"},
		{svdir.Status{When: at(3), Want: 'd'}, true, "down 3 seconds, normally up"},
		{svdir.Status{When: at(3), Want: 'd'}, false, "down 3 seconds"},
		{svdir.Status{When: at(3), Want: 'u'}, false, "down 3 seconds, want up"},
		{svdir.Status{When: at(3), Want: 0}, false, "down 3 seconds"},
		{svdir.Status{When: at(3), Paused: true, Want: 'd'}, false, "down 3 seconds"},   // paused is ignored when down
		{svdir.Status{When: at(3), Pid: 9, Want: 'x'}, true, "up (pid 9) 3 seconds"},    // unknown want byte
		{svdir.Status{When: at(-100), Pid: 9, Want: 'u'}, true, "up (pid 9) 0 seconds"}, // future stamp clamps to 0
		{svdir.Status{When: at(86400), Pid: 4294967295, Want: 'u'}, true, "up (pid 4294967295) 86400 seconds"},
		{svdir.Status{When: tai64.Label{Sec: tai64.Base + 1700000000 - 2, Nano: 999999999}}, false, "down 2 seconds"}, // nanoseconds ignored
		// A zero stamp: 2^62+10+1700000000 seconds, rounded through a double
		// as 0.76's tai_approx does.
		{svdir.Status{}, false, "down 4611686020127387648 seconds"},
	} {
		if got := Line(tc.r, tc.normallyUp, now); got != tc.want {
			t.Errorf("Line(%+v, %v) = %q, want %q", tc.r, tc.normallyUp, got, tc.want)
		}
	}
}

func TestSeconds(t *testing.T) {
	now := time.Unix(1700000000, 0)
	for _, tc := range []struct {
		sec  uint64
		want uint64
	}{
		{tai64.Base + 1700000000, 0},
		{tai64.Base + 1700000001, 0},
		{^uint64(0), 0},
		{tai64.Base + 1699999999, 1},
		{tai64.Base, 1700000000},
		{0, 4611686020127387648}, // exact 4611686020127387914 rounds down to a multiple of 1024
		{1, 4611686020127387648},
	} {
		if got := Seconds(svdir.Status{When: tai64.Label{Sec: tc.sec}}, now); got != tc.want {
			t.Errorf("Seconds(%d) = %d, want %d", tc.sec, got, tc.want)
		}
	}
}
