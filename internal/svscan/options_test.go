package svscan_test

import (
	"testing"
	"time"

	"svkit/internal/svscan"
)

func TestParseArgs(t *testing.T) {
	def := svscan.DefaultKillAfter
	for _, c := range []struct {
		args []string
		want svscan.Options
		ok   bool
	}{
		{nil, svscan.Options{KillAfter: def}, true},
		{[]string{"/service"}, svscan.Options{Dir: "/service", KillAfter: def}, true},
		{[]string{"/service", "ignored"}, svscan.Options{Dir: "/service", KillAfter: def}, true},
		{[]string{"-o"}, svscan.Options{Ordered: true, KillAfter: def}, true},
		{[]string{"-o", "-k", "3", "sv"}, svscan.Options{Dir: "sv", Ordered: true, KillAfter: 3 * time.Second}, true},
		{[]string{"-ok3", "sv"}, svscan.Options{Dir: "sv", Ordered: true, KillAfter: 3 * time.Second}, true},
		{[]string{"-k", "20", "-o", "sv"}, svscan.Options{Dir: "sv", Ordered: true, KillAfter: 20 * time.Second}, true},
		{[]string{"--", "-o"}, svscan.Options{Dir: "-o", KillAfter: def}, true},
		{[]string{"-i", "sv"}, svscan.Options{Dir: "sv", InProcess: true, KillAfter: def}, true},
		{[]string{"-oik5"}, svscan.Options{Ordered: true, InProcess: true, KillAfter: 5 * time.Second}, true},
		// Not an option group: a directory, as 0.76 reads it.
		{[]string{"-x"}, svscan.Options{Dir: "-x", KillAfter: def}, true},
		{[]string{"-", "sv"}, svscan.Options{Dir: "-", KillAfter: def}, true},
		{[]string{"-kx"}, svscan.Options{Dir: "-kx", KillAfter: def}, true},
		{[]string{"-k"}, svscan.Options{}, false},
		{[]string{"-k", "x"}, svscan.Options{}, false},
		{[]string{"-k", "0"}, svscan.Options{}, false},
	} {
		got, ok := svscan.ParseArgs(c.args)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("ParseArgs(%q) = %+v, %v; want %+v, %v", c.args, got, ok, c.want, c.ok)
		}
	}
}
