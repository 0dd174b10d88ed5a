package tai64

import (
	"bytes"
	"testing"
	"time"
)

func TestFromTimeGolden(t *testing.T) {
	t.Parallel()
	// 0x6b0245ae - 10 = unix seconds of the SPEC's example status stamp.
	tm := time.Unix(0x6b0245ae-10, 959258*1000+123)
	l := FromTime(tm)
	var b [12]byte
	l.Pack(b[:])
	want := []byte{0x40, 0, 0, 0, 0x6b, 0x02, 0x45, 0xae, 0x39, 0x2d, 0x1f, 0x84}
	if !bytes.Equal(b[:], want) {
		t.Fatalf("pack = % x, want % x", b, want)
	}
	if got := l.String(); got != "@400000006b0245ae392d1f84" {
		t.Fatalf("String = %q", got)
	}
	if !l.Time().Equal(time.Unix(0x6b0245ae-10, 959258500)) {
		t.Fatalf("Time = %v", l.Time())
	}
}

func TestParseHex(t *testing.T) {
	cases := []struct {
		in   string
		want Label
		n    int
	}{
		{"4000000037c219bf2ef02e94 rest", Label{0x4000000037c219bf, 0x2ef02e94}, 24},
		{"4000000037C219BF2EF02E94", Label{0x40, 0x37}, 10},
		{"xyz", Label{}, 0},
		{"40000000", Label{0, 0x40000000}, 8},
		{"4000000037c219bf2ef02e94ff", Label{0x00000037c219bf2e, 0xf02e94ff}, 26},
	}
	t.Parallel()
	for _, c := range cases {
		l, n := ParseHex([]byte(c.in))
		if l != c.want || n != c.n {
			t.Errorf("ParseHex(%q) = %x,%d; want %x,%d", c.in, l, n, c.want, c.n)
		}
	}
}

func FuzzParseHex(f *testing.F) {
	for _, s := range []string{"4000000037c219bf2ef02e94", "", "xyz", "4000000037C219BF2EF02E94 hello", "ffffffffffffffffffffffffff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		l, n := ParseHex(s)
		if n < 0 || n > len(s) {
			t.Fatalf("n = %d for %q", n, s)
		}
		if n == 24 {
			// A full label round-trips through its text form.
			if got := string(l.AppendHex(nil)); got != string(s[:24]) {
				t.Fatalf("round trip %q -> %q", s[:24], got)
			}
		}
	})
}
