package sysfile

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc")
	}
	return len(ents)
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	big := bytes.Repeat([]byte("0123456789"), 1000)
	for _, content := range [][]byte{nil, []byte("x"), big} {
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, content, 0644); err != nil {
			t.Fatal(err)
		}
		before := openFDs(t)
		got, err := ReadFile(p)
		if err != nil || !bytes.Equal(got, content) {
			t.Errorf("ReadFile: %d bytes, %v; want %d", len(got), err, len(content))
		}
		if after := openFDs(t); after != before {
			t.Errorf("descriptor leak: %d open before, %d after", before, after)
		}
	}
	if _, err := ReadFile(filepath.Join(dir, "missing")); err != unix.ENOENT {
		t.Errorf("missing file: %v", err)
	}
	if _, err := ReadFile(dir); err != unix.EISDIR {
		t.Errorf("directory: %v", err)
	}
}

func TestReaderAt(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte("hello world"), 0644)
	fd, err := Open(p, unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	buf := make([]byte, 5)
	if n, err := ReaderAt(fd).ReadAt(buf, 6); n != 5 || err != nil || string(buf) != "world" {
		t.Errorf("ReadAt = %d %v %q", n, err, buf)
	}
	if n, err := ReaderAt(fd).ReadAt(buf, 8); n != 3 || err != io.EOF {
		t.Errorf("short ReadAt = %d %v", n, err)
	}
	if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("Open did not set close-on-exec: %v %v", flags, err)
	}
}
