package multilog

import (
	"bytes"
	"testing"
)

// refMatch is the pattern rule written as a definition rather than as a
// scan: a '*' followed by c matches any run w such that w has no c and the
// line goes on with c; a trailing '*' matches anything; any other character
// matches itself. It tries every run length.
func refMatch(p string, s []byte) bool {
	if p == "" {
		return len(s) == 0
	}
	if p[0] != '*' {
		return len(s) > 0 && s[0] == p[0] && refMatch(p[1:], s[1:])
	}
	if len(p) == 1 {
		return true
	}
	c := p[1]
	for k := 0; k < len(s); k++ {
		if bytes.IndexByte(s[:k], c) >= 0 {
			return false
		}
		if s[k] == c && refMatch(p[1:], s[k:]) {
			return true
		}
	}
	return false
}

func TestMatch(t *testing.T) {
	t.Parallel()
	// Pairs of a pattern and a line, by whether the pattern matches.
	for want, cases := range map[bool][][2]string{
		true: {
			{"", ""}, {"*", ""}, {"*", "anything"}, {"abc", "abc"}, {"a*", "abc"}, {"*c", "abc"},
			{"*b*", "abc"}, {"*fatal*", "x fatal: y"}, {"**x", "a*bx"}, {"*: *", "prog: msg"},
		},
		false: {
			{"", "x"}, {"abc", "abcd"}, {"abc", "ab"}, {"**x", "abx"}, {"*:", "a:b:"}, {"a*", "b"}, {"*x*", ""},
			{"*c", "abcc"},                 // the run stops at the first c
			{"*fatal*", "@4000f fatal: y"}, // the pitfall with t
		},
	} {
		for _, c := range cases {
			pat, line := c[0], c[1]
			if got := Match(pat, []byte(line)); got != want {
				t.Errorf("Match(%q, %q) = %v, want %v", pat, line, got, want)
			}
			if got := refMatch(pat, []byte(line)); got != want {
				t.Errorf("refMatch(%q, %q) = %v, want %v", pat, line, got, want)
			}
		}
	}
}

func FuzzMatch(f *testing.F) {
	f.Add("*fatal*", []byte("@4000 fatal: x"))
	f.Add("**x", []byte("a*bx"))
	f.Add("a*b*", []byte("aXbY"))
	f.Add("", []byte(""))
	f.Fuzz(func(t *testing.T, pat string, line []byte) {
		if len(pat) > 64 || len(line) > 256 {
			return
		}
		if got, want := Match(pat, line), refMatch(pat, line); got != want {
			t.Fatalf("Match(%q, %q) = %v, reference says %v", pat, line, got, want)
		}
	})
}
