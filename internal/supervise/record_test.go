package supervise

import (
	"fmt"
	"testing"

	"svkit/internal/proc"
)

const testBoot = "bf624664-8faa-450f-a818-6dffe4562440"

func TestParseRecord(t *testing.T) {
	for _, tc := range []struct {
		line string
		want record
		ok   bool
	}{
		{"1234 987 " + testBoot + " 55\n", record{id: idOf(1234, 987), inode: 55}, true},
		{"1234 987 " + testBoot + "\n", record{id: idOf(1234, 987)}, true}, // before the inode
		{"0 987 " + testBoot + " 10 11\n", record{id: idOf(0, 987), pgrp: 10, sess: 11}, true},
		{"0 987 " + testBoot + "\n", record{}, false},          // a start without its group
		{"1234 987 " + testBoot + " 10 11\n", record{}, false}, // a process with a group
		{"0 987 " + testBoot + " 55\n", record{}, false},
		{"1234 987 00000000-0000-0000-0000-000000000000 55\n", record{}, false}, // another boot
		{"1 987 " + testBoot + " 55\n", record{}, false},                        // init
		{"-5 987 " + testBoot + " 55\n", record{}, false},
		{"1234 -1 " + testBoot + " 55\n", record{}, false},
		{"1234 987 " + testBoot + " x\n", record{}, false},
		{"", record{}, false},
		{"garbage\n", record{}, false},
	} {
		got, ok := parseRecord([]byte(tc.line), testBoot)
		if ok != tc.ok || got != tc.want {
			t.Errorf("%q: got %+v %v, want %+v %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzParseRecord: any bytes parse without panic; what parses names a
// process other than init, of this boot, and formats back to the same
// fields.
func FuzzParseRecord(f *testing.F) {
	f.Add([]byte("1234 987 " + testBoot + " 55\n"))
	f.Add([]byte("0 987 " + testBoot + " 10 11\n"))
	f.Add([]byte("1234 987 " + testBoot + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, ok := parseRecord(b, testBoot)
		if !ok {
			return
		}
		if r.id.Pid < 0 || r.id.Pid == 1 {
			t.Fatalf("%q: pid %d", b, r.id.Pid)
		}
		var line string
		if r.id.Pid == 0 {
			line = fmt.Sprintf("0 %d %s %d %d", r.id.Start, testBoot, r.pgrp, r.sess)
		} else {
			line = fmt.Sprintf("%d %d %s %d", r.id.Pid, r.id.Start, testBoot, r.inode)
		}
		if r2, ok := parseRecord([]byte(line), testBoot); !ok || r2 != r {
			t.Fatalf("%q: %+v does not survive formatting as %q: %+v %v", b, r, line, r2, ok)
		}
	})
}

func idOf(pid int, start uint64) proc.ID { return proc.ID{Pid: pid, Start: start} }
