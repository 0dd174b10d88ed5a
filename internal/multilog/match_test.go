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
	cases := []struct {
		pat, line string
		want      bool
	}{
		{"", "", true},
		{"", "x", false},
		{"*", "", true},
		{"*", "anything", true},
		{"abc", "abc", true},
		{"abc", "abcd", false},
		{"abc", "ab", false},
		{"a*", "abc", true},
		{"*c", "abc", true},
		{"*c", "abcc", false}, // the run stops at the first c
		{"*b*", "abc", true},
		{"*fatal*", "x fatal: y", true},
		{"*fatal*", "@4000f fatal: y", false}, // the pitfall with t
		{"**x", "a*bx", true},
		{"**x", "abx", false},
		{"*: *", "prog: msg", true},
		{"*:", "a:b:", false},
		{"a*", "b", false},
		{"*x*", "", false},
	}
	for _, c := range cases {
		if got := Match(c.pat, []byte(c.line)); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.pat, c.line, got, c.want)
		}
		if got := refMatch(c.pat, []byte(c.line)); got != c.want {
			t.Errorf("refMatch(%q, %q) = %v, want %v", c.pat, c.line, got, c.want)
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
