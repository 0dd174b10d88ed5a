package status

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"svkit/pkg/tai64"
)

func TestEncodeGolden(t *testing.T) {
	cases := []struct {
		name string
		r    Record
		want []byte
	}{
		{"up", Record{When: tai64.Label{Sec: 0x400000006b0245ae, Nano: 959258500}, Pid: 5409, Paused: false, Want: WantUp},
			[]byte{0x40, 0, 0, 0, 0x6b, 0x02, 0x45, 0xae, 0x39, 0x2d, 0x1f, 0x84, 0x21, 0x15, 0, 0, 0, 'u'}},
		{"paused want down", Record{When: tai64.Label{Sec: 0x400000006b0245ae, Nano: 500}, Pid: 0x01020304, Paused: true, Want: WantDown},
			[]byte{0x40, 0, 0, 0, 0x6b, 0x02, 0x45, 0xae, 0, 0, 1, 0xf4, 4, 3, 2, 1, 1, 'd'}},
		{"down paused flag dropped", Record{When: tai64.Label{Sec: 0x400000006b0245ae, Nano: 500}, Pid: 0, Paused: true, Want: WantOnce},
			[]byte{0x40, 0, 0, 0, 0x6b, 0x02, 0x45, 0xae, 0, 0, 1, 0xf4, 0, 0, 0, 0, 0, 0}},
	}
	for _, c := range cases {
		got := c.r.Encode()
		if !bytes.Equal(got[:], c.want) {
			t.Errorf("%s: % x, want % x", c.name, got, c.want)
		}
		back, err := Decode(got[:])
		if err != nil {
			t.Fatal(err)
		}
		if c.r.Pid == 0 {
			c.r.Paused = false
		}
		if back != c.r {
			t.Errorf("%s: decode %+v, want %+v", c.name, back, c.r)
		}
	}
}

func TestReadLengths(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "status")
	rec := Record{When: tai64.Label{Sec: tai64.Base + 1000, Nano: 500}, Pid: 77, Want: WantUp}
	b := rec.Encode()
	for _, n := range []int{0, 1, 17} {
		os.WriteFile(p, b[:n], 0644)
		if _, err := Read(p); err != ErrBadFormat {
			t.Errorf("%d bytes: err %v, want bad format", n, err)
		}
	}
	// runit and encore write 20 bytes: the first 18 are read.
	os.WriteFile(p, append(b[:], 1, 2), 0644)
	if r, err := Read(p); err != nil || r != rec {
		t.Errorf("20 bytes: %+v %v", r, err)
	}
	if _, err := Read(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Errorf("missing: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	r := Record{When: tai64.Label{Sec: tai64.Base + 1, Nano: 500}, Pid: 1, Want: WantUp}
	b := r.Encode()
	f.Add(b[:])
	f.Add([]byte{})
	f.Add(make([]byte, 20))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Decode(b)
		if len(b) < Size {
			if err != ErrBadFormat {
				t.Fatalf("short record accepted")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		enc := r.Encode()
		// Everything but a paused flag on a pid-0 record, or a paused byte
		// other than 0/1, round-trips.
		if r.Pid != 0 && (b[16] == 0 || b[16] == 1) && !bytes.Equal(enc[:], b[:Size]) {
			t.Fatalf("round trip % x -> % x", b[:Size], enc)
		}
	})
}
