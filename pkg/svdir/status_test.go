package svdir

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"svkit/pkg/tai64"
)

func TestEncodeGolden(t *testing.T) {
	cases := []struct {
		name string
		r    Status
		want []byte
	}{
		{"up", Status{When: tai64.Label{Sec: 0x400000006b0245ae, Nano: 959258500}, Pid: 5409, Paused: false, Want: WantUp},
			[]byte{0x40, 0, 0, 0, 0x6b, 0x02, 0x45, 0xae, 0x39, 0x2d, 0x1f, 0x84, 0x21, 0x15, 0, 0, 0, 'u'}},
		{"paused want down", Status{When: tai64.Label{Sec: 0x400000006b0245ae, Nano: 500}, Pid: 0x01020304, Paused: true, Want: WantDown},
			[]byte{0x40, 0, 0, 0, 0x6b, 0x02, 0x45, 0xae, 0, 0, 1, 0xf4, 4, 3, 2, 1, 1, 'd'}},
		{"down paused flag dropped", Status{When: tai64.Label{Sec: 0x400000006b0245ae, Nano: 500}, Pid: 0, Paused: true, Want: WantOnce},
			[]byte{0x40, 0, 0, 0, 0x6b, 0x02, 0x45, 0xae, 0, 0, 1, 0xf4, 0, 0, 0, 0, 0, 0}},
	}
	for _, c := range cases {
		got := c.r.Encode()
		if !bytes.Equal(got[:], c.want) {
			t.Errorf("%s: % x, want % x", c.name, got, c.want)
		}
		back, err := DecodeStatus(got[:])
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

func TestReadStatusLengths(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, Dir), 0700)
	p := filepath.Join(dir, StatusPath)
	rec := Status{When: tai64.Label{Sec: tai64.Base + 1000, Nano: 500}, Pid: 77, Want: WantUp}
	b := rec.Encode()
	for _, n := range []int{0, 1, 17} {
		os.WriteFile(p, b[:n], 0644)
		_, err := ReadStatusOf(dir)
		if !errors.Is(err, ErrBadFormat) || err.Error() != "unable to read supervise/status: bad format" {
			t.Errorf("%d bytes: err %v, want bad format", n, err)
		}
	}
	// runit and encore write 20 bytes: the first 18 are read.
	os.WriteFile(p, append(b[:], 1, 2), 0644)
	if r, err := ReadStatusOf(dir); err != nil || r != rec {
		t.Errorf("20 bytes: %+v %v", r, err)
	}
	os.Remove(p)
	if _, err := ReadStatusOf(dir); !errors.Is(err, os.ErrNotExist) || err.Error() != "unable to open supervise/status: file does not exist" {
		t.Errorf("missing: %v", err)
	}
	// Neither a symlink nor a FIFO in its place is read.
	os.Symlink("/etc/passwd", p)
	if _, err := ReadStatusOf(dir); !errors.Is(err, ErrSymlink) || err.Error() != "unable to open supervise/status: is a symbolic link" {
		t.Errorf("symlink: %v", err)
	}
	os.Remove(p)
	unix.Mkfifo(p, 0600)
	if _, err := ReadStatusOf(dir); !errors.Is(err, ErrBadFormat) {
		t.Errorf("FIFO: %v", err)
	}
}

func TestWriteStatus(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, Dir), 0700)
	dfd, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dfd)
	rec := Status{When: tai64.Label{Sec: tai64.Base + 1000, Nano: 500}, Pid: 77, Want: WantDown}
	if err := WriteStatus(dfd, rec); err != nil {
		t.Fatal(err)
	}
	if r, err := ReadStatus(dfd); err != nil || r != rec {
		t.Errorf("read back %+v %v", r, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, StatusPath)); err != nil || fi.Mode().Perm() != 0644 {
		t.Errorf("mode: %v %v", fi.Mode(), err)
	}
	// A symlink planted at the spare is not followed: it is replaced.
	target := filepath.Join(dir, "target")
	os.Remove(filepath.Join(dir, SparePath))
	os.Symlink(target, filepath.Join(dir, SparePath))
	if err := WriteStatus(dfd, rec); err != nil {
		t.Error(err)
	}
	if _, err := os.Lstat(target); !os.IsNotExist(err) {
		t.Errorf("symlink target created: %v", err)
	}
	if r, err := ReadStatus(dfd); err != nil || r != rec {
		t.Errorf("read back %+v %v", r, err)
	}
}

func FuzzDecodeStatus(f *testing.F) {
	r := Status{When: tai64.Label{Sec: tai64.Base + 1, Nano: 500}, Pid: 1, Want: WantUp}
	b := r.Encode()
	f.Add(b[:])
	f.Add([]byte{})
	f.Add(make([]byte, 20))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeStatus(b)
		if len(b) < StatusSize {
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
		if r.Pid != 0 && (b[16] == 0 || b[16] == 1) && !bytes.Equal(enc[:], b[:StatusSize]) {
			t.Fatalf("round trip % x -> % x", b[:StatusSize], enc)
		}
	})
}
