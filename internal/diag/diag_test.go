package diag

import (
	"bytes"
	"fmt"
	"os"
	"syscall"
	"testing"
)

func TestMessages(t *testing.T) {
	var b bytes.Buffer
	if code := Fatal(&b, "svc", ExitTemp, "unable to chdir to ", "x", ": ", Str(syscall.ENOENT)); code != 111 {
		t.Errorf("code %d", code)
	}
	Warn(&b, "svscan", "unable to start ", "y", ": ", Str(fmt.Errorf("wrapped: %w", syscall.EAGAIN)))
	if code := Usage(&b, "supervise", "supervise dir"); code != 100 {
		t.Errorf("usage code %d", code)
	}
	want := "svc: fatal: unable to chdir to x: file does not exist\n" +
		"svscan: warning: unable to start y: temporary failure\n" +
		"supervise: usage: supervise dir\n"
	if b.String() != want {
		t.Errorf("got %q", b.String())
	}
}

func TestErrorText(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, "no error"},
		{syscall.ENOENT, "file does not exist"},
		{syscall.EAGAIN, "temporary failure"},
		{syscall.ENXIO, "device not configured"},
		{syscall.EACCES, "access denied"},
		{syscall.EPERM, "permission denied"},
		{syscall.ELOOP, "symbolic link loop"},
		{syscall.ENOSPC, "out of disk space"},
		{syscall.EROFS, "read-only file system"},
		{&os.PathError{Op: "open", Path: "x", Err: syscall.EISDIR}, "is a directory"},
		{syscall.Errno(4000), "unknown error"},
		{fmt.Errorf("no errno"), "unknown error"},
	} {
		if got := Str(c.err); got != c.want {
			t.Errorf("Str(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
