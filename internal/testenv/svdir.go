package testenv

import (
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"svkit/pkg/svdir"
)

// ReadStatus returns dir's supervise/status record, failing the test if it
// cannot be read.
func ReadStatus(t testing.TB, dir string) svdir.Status {
	t.Helper()
	r, err := svdir.ReadStatusOf(dir)
	if err != nil {
		t.Fatalf("read status: %v", err)
	}
	return r
}

// WaitStatus polls dir's supervise/status until cond holds, failing the
// test after timeout, and returns the record that satisfied it.
func WaitStatus(t testing.TB, timeout time.Duration, dir, what string, cond func(svdir.Status) bool) svdir.Status {
	t.Helper()
	var r svdir.Status
	WaitFor(t, timeout, what, func() bool {
		var err error
		r, err = svdir.ReadStatusOf(dir)
		return err == nil && cond(r)
	})
	return r
}

// ReadInfo returns dir's supervise/info record, failing the test if it
// cannot be read.
func ReadInfo(t testing.TB, dir string) svdir.Info {
	t.Helper()
	in := svdir.ReadInfoOf(dir)
	if in == nil {
		t.Fatalf("no readable %s/%s", dir, svdir.InfoPath)
	}
	return *in
}

// WaitInfo polls dir's supervise/info until cond holds, failing the test
// after timeout, and returns the record that satisfied it.
func WaitInfo(t testing.TB, timeout time.Duration, dir, what string, cond func(svdir.Info) bool) svdir.Info {
	t.Helper()
	var in svdir.Info
	WaitFor(t, timeout, what, func() bool {
		p := svdir.ReadInfoOf(dir)
		if p != nil {
			in = *p
		}
		return p != nil && cond(in)
	})
	return in
}

// ReadLines waits until path exists, is not empty and ends in a newline,
// and returns its content, failing the test after timeout.
func ReadLines(t testing.TB, timeout time.Duration, path string) string {
	t.Helper()
	var b []byte
	WaitFor(t, timeout, "file "+path, func() bool {
		var err error
		b, err = os.ReadFile(path)
		return err == nil && len(b) > 0 && b[len(b)-1] == '\n'
	})
	return string(b)
}

// Peek returns the content of path, or "" when it cannot be read: for
// polls on files that may not exist yet.
func Peek(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// ScanDir makes a fresh test directory holding an empty scan directory sv,
// and returns both.
func ScanDir(t testing.TB) (root, scan string) {
	t.Helper()
	root = t.TempDir()
	scan = filepath.Join(root, "sv")
	if err := os.Mkdir(scan, 0755); err != nil {
		t.Fatal(err)
	}
	return root, scan
}

// Open opens path for reading, failing the test if it cannot; the file is
// closed when the test ends.
func Open(t testing.TB, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// WriteFile writes content to path with exactly mode (umask aside),
// making its parent directories (0755) first; it fails the test on error.
func WriteFile(t testing.TB, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// Mkfifo makes a FIFO at path, mode 0600 as supervise makes its own,
// making its parent directories (0755) first; it fails the test on error.
func Mkfifo(t testing.TB, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0600); err != nil {
		t.Fatal(err)
	}
}

// NeedLink makes the link root/from/sub/to leading to ../../to: the
// service root/from names the service root/to in its needs/ or binds/
// (sub). It makes root/from/sub where missing and fails the test on error.
func NeedLink(t testing.TB, root, from, sub, to string) {
	t.Helper()
	d := filepath.Join(root, from, sub)
	if err := os.MkdirAll(d, 0755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../"+to, filepath.Join(d, filepath.Base(to))); err != nil {
		t.Fatal(err)
	}
}

// ReadLog returns what the multilog directory dir holds, in the order it
// was written: each archive (@..., by name, which is TAI64N order), then
// current, which reads as empty where it is missing. When each is not nil
// it is called with every archive's path and content first.
func ReadLog(t testing.TB, dir string, each func(path string, b []byte)) []byte {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "@*"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	var all []byte
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		if each != nil {
			each(n, b)
		}
		all = append(all, b...)
	}
	b, err := os.ReadFile(filepath.Join(dir, "current"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return append(all, b...)
}
