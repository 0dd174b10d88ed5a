package svdir

import (
	"testing"
	"time"

	"svkit/pkg/tai64"
)

func TestUnixNano(t *testing.T) {
	for _, tc := range []struct {
		l  tai64.Label
		ns int64
		ok bool
	}{
		{tai64.Label{Sec: tai64.Base, Nano: 0}, 0, true},
		{tai64.Label{Sec: tai64.Base + 1700000000, Nano: 500}, 1700000000000000500, true},
		{tai64.Label{Sec: tai64.Base - 1, Nano: 999999999}, -1, true},
		{tai64.Label{Sec: tai64.Base + 9223372035, Nano: 0}, 9223372035000000000, true},
		{tai64.Label{Sec: tai64.Base + 9223372036, Nano: 0}, 0, false},
		{tai64.Label{Sec: 0}, 0, false},
		{tai64.Label{Sec: tai64.Base, Nano: 1e9}, 0, false},
		{tai64.Label{Sec: 1<<64 - 1}, 0, false},
	} {
		ns, ok := UnixNano(tc.l)
		if ns != tc.ns || ok != tc.ok {
			t.Errorf("UnixNano(%+v) = %d, %v; want %d, %v", tc.l, ns, ok, tc.ns, tc.ok)
		}
	}
	now := time.Now()
	l := tai64.FromTime(now)
	if ns, ok := UnixNano(l); !ok || ns != l.Time().UnixNano() {
		t.Errorf("UnixNano(now) = %d, %v; want %d", ns, ok, l.Time().UnixNano())
	}
}

// FuzzBuild: any status record and info content give one line of valid
// JSON with every key, consistent with the record.
