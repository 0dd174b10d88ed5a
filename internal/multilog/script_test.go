package multilog

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		args  []string
		stamp byte
		want  []Action
	}{
		{nil, 0, nil},
		{[]string{"t", "./main"}, 't', []Action{{Kind: Stamp, Arg: "t"}, {Kind: Dir, Arg: "./main"}}},
		{[]string{"tai", "t"}, 't', []Action{{Kind: Stamp, Arg: "tai"}, {Kind: Ignored, Arg: "t"}}},
		{[]string{"T"}, 'T', []Action{{Kind: Stamp, Arg: "T"}}},
		{[]string{"./a", "t"}, 0, []Action{{Kind: Dir, Arg: "./a"}, {Kind: Ignored, Arg: "t"}}},
		{[]string{"s100", "s99999999", "sx", "s5000"}, 0, []Action{
			{Kind: Size, Arg: "s100", N: 4096}, {Kind: Size, Arg: "s99999999", N: 16777215},
			{Kind: Size, Arg: "sx", N: 4096}, {Kind: Size, Arg: "s5000", N: 5000}}},
		{[]string{"n0", "n1", "n3", "n", "n20x"}, 0, []Action{
			{Kind: Count, Arg: "n0", N: 2}, {Kind: Count, Arg: "n1", N: 2}, {Kind: Count, Arg: "n3", N: 3},
			{Kind: Count, Arg: "n", N: 2}, {Kind: Count, Arg: "n20x", N: 20}}},
		{[]string{"-*", "+a*", "e", "error", "=st", "!gzip", "/abs"}, 0, []Action{
			{Kind: Deselect, Arg: "*"}, {Kind: Select, Arg: "a*"}, {Kind: Alert, Arg: "e"}, {Kind: Alert, Arg: "error"},
			{Kind: Status, Arg: "st"}, {Kind: Processor, Arg: "gzip"}, {Kind: Dir, Arg: "/abs"}}},
		{[]string{"main", "N5", ""}, 0, []Action{{Kind: Ignored, Arg: "main"}, {Kind: Ignored, Arg: "N5"}, {Kind: Ignored, Arg: ""}}},
	}
	for _, c := range cases {
		s := Parse(c.args)
		if s.Stamp != c.stamp || !reflect.DeepEqual(s.Actions, c.want) {
			t.Errorf("Parse(%q) = %c %+v, want %c %+v", c.args, s.Stamp, s.Actions, c.stamp, c.want)
		}
	}
	// scan_ulong wraps like C's unsigned long: 2^64 + 5000 is 5000.
	if s := Parse([]string{"s18446744073709556616"}); s.Actions[0].N != 5000 {
		t.Errorf("wrapped size = %d", s.Actions[0].N)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("t\x00./main\x00s4096\x00n3\x00-*\x00+a*\x00e\x00=x\x00!cat")
	f.Add("main")
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\x00")
		s := Parse(args)
		if len(s.Actions) != len(args) {
			t.Fatalf("%d actions for %d args", len(s.Actions), len(args))
		}
		for i, a := range s.Actions {
			arg := args[i]
			switch a.Kind {
			case Stamp:
				if i != 0 || (arg[0] != 't' && arg[0] != 'T') {
					t.Fatalf("stamp from %q at %d", arg, i)
				}
			case Size:
				if a.N < 4096 || a.N > 16777215 {
					t.Fatalf("size %d", a.N)
				}
			case Count:
				if a.N < 2 {
					t.Fatalf("count %d", a.N)
				}
			case Dir:
				if arg[0] != '.' && arg[0] != '/' {
					t.Fatalf("dir %q", arg)
				}
			case Ignored:
				if arg != "" && strings.IndexByte("+-e=sn!./", arg[0]) >= 0 {
					t.Fatalf("ignored %q", arg)
				}
			}
		}
	})
}
