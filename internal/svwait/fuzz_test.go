package svwait

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"svkit/internal/testenv"
)

// FuzzParseMS: ParseMS accepts exactly the non-empty digit strings and
// agrees with strconv where the value fits.
func FuzzParseMS(f *testing.F) {
	for _, s := range []string{"0", "15000", "", "-1", "1e3", "99999999999999999999", " 5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := ParseMS(s)
		digits := s != "" && strings.Trim(s, "0123456789") == ""
		if ok != digits {
			t.Fatalf("ParseMS(%q) ok = %v", s, ok)
		}
		if !ok {
			return
		}
		if d < 0 {
			t.Fatalf("ParseMS(%q) = %v", s, d)
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n <= int64(time.Duration(1<<63-1)/time.Millisecond) {
			if d != time.Duration(n)*time.Millisecond {
				t.Fatalf("ParseMS(%q) = %v, want %d ms", s, d, n)
			}
		}
	})
}

// FuzzParse: any command line either parses (a known mode, at least one
// dir, nothing on stderr) or is a usage error ending in the usage line.
func FuzzParse(f *testing.F) {
	testenv.FuzzArgv(f, "svwait", []string{"-U\x00-t\x00100\x00a", "-z\x00a", "--\x00-d", "-t"}, func(t *testing.T, argv []string) {
		var errb bytes.Buffer
		mode, timeout, dirs, ok := Parse(argv, &errb)
		if ok {
			if strings.IndexByte("uUdD", mode) < 0 || len(dirs) == 0 || timeout < 0 || errb.Len() != 0 {
				t.Fatalf("%q: mode %c, timeout %v, dirs %q, stderr %q", argv, mode, timeout, dirs, errb.String())
			}
			return
		}
		if !strings.HasSuffix(errb.String(), usage) {
			t.Fatalf("%q: stderr %q", argv, errb.String())
		}
		Parse(argv, io.Discard)
	})
}
