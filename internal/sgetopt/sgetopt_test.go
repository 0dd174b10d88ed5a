package sgetopt

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

type result struct {
	opts   string // letters returned, '?' included; "=arg" after an argument
	rest   []string
	stderr string
}

func parse(argv []string, opts string) result {
	var errb bytes.Buffer
	p := New(argv, opts, &errb)
	var r result
	for {
		c := p.Next()
		if c == EOF {
			break
		}
		r.opts += string(rune(c))
		if p.Arg != "" {
			r.opts += "=" + p.Arg
		}
		if c == '?' {
			r.stderr = errb.String()
			return r
		}
	}
	r.rest = p.Rest()
	if len(r.rest) == 0 {
		r.rest = nil
	}
	r.stderr = errb.String()
	return r
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		argv []string
		opts string
		want result
	}{
		{[]string{"svc"}, "ud", result{}},
		{[]string{"svc", "-u", "a"}, "ud", result{opts: "u", rest: []string{"a"}}},
		{[]string{"svc", "-ud", "-d", "a", "-u"}, "ud", result{opts: "udd", rest: []string{"a", "-u"}}},
		{[]string{"svc", "--", "-u"}, "ud", result{rest: []string{"-u"}}},
		{[]string{"svc", "--foo", "a"}, "ud", result{rest: []string{"a"}}},
		{[]string{"svc", "-", "a"}, "ud", result{rest: []string{"-", "a"}}},
		{[]string{"svc", "-u", "-", "a"}, "ud", result{opts: "u", rest: []string{"-", "a"}}},
		{[]string{"svc", "", "-u"}, "ud", result{rest: []string{"", "-u"}}},
		{[]string{"svc", "-z"}, "ud", result{opts: "?", stderr: "svc: illegal option -- z\n"}},
		{[]string{"/usr/bin/svc", "-uz", "a"}, "ud", result{opts: "u?", stderr: "svc: illegal option -- z\n"}},
		{[]string{"svc", "-u-"}, "ud", result{opts: "u?", stderr: "svc: illegal option -- -\n"}},
		{[]string{"svc", "-:"}, "n:", result{opts: "?", stderr: "svc: illegal option -- :\n"}},
		{[]string{"x", "-n5", "a"}, "n:u", result{opts: "n=5", rest: []string{"a"}}},
		{[]string{"x", "-un", "5", "a"}, "n:u", result{opts: "un=5", rest: []string{"a"}}},
		{[]string{"x", "-n"}, "n:u", result{opts: "?", stderr: "x: option requires an argument -- n\n"}},
		{[]string{"", "-z"}, "u", result{opts: "?", stderr: ": illegal option -- z\n"}},
		{[]string{"svc", "-d\xffu"}, "ud", result{opts: "d?", stderr: "svc: illegal option -- \xff\n"}},
	} {
		got := parse(tc.argv, tc.opts)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q with %q: got %+v, want %+v", tc.argv, tc.opts, got, tc.want)
		}
	}
}

// FuzzParse: the parser never panics or loops, the operands are a suffix of
// argv, and every letter it returns is in the option string.
func FuzzParse(f *testing.F) {
	f.Add("-ud\x00a\x00-x", "udx")
	f.Add("--\x00-u", "u")
	f.Add("-n\x005", "n:")
	f.Add("-\x00-", "u")
	f.Fuzz(func(t *testing.T, args, opts string) {
		argv := append([]string{"p"}, strings.Split(args, "\x00")...)
		p := New(argv, opts, nil)
		for i := 0; ; i++ {
			if i > len(args)+2 {
				t.Fatalf("no EOF after %d options for %q", i, argv)
			}
			c := p.Next()
			if c == EOF {
				break
			}
			if c == '?' {
				return
			}
			if strings.IndexByte(opts, byte(c)) < 0 || c == ':' {
				t.Fatalf("returned %q not in %q", rune(c), opts)
			}
		}
		rest := p.Rest()
		if len(rest) > len(argv)-1 || !reflect.DeepEqual(rest, argv[len(argv)-len(rest):]) {
			t.Fatalf("Rest %q is not a suffix of %q", rest, argv)
		}
	})
}
