// Package sysfile reads files with plain system calls. The chain-loaders
// run other programs in the same process, so they must not open any file
// descriptor of their own that the next program could see or that shifts
// the numbers it gets: Go's os package registers files with the runtime
// poller, which keeps an epoll descriptor open for the life of the process.
package sysfile

import (
	"bytes"
	"io"

	"golang.org/x/sys/unix"

	"svkit/internal/eintr"
)

// ReadFile reads the whole file name, retrying on EINTR. The descriptor is
// opened close-on-exec and always closed.
func ReadFile(name string) ([]byte, error) {
	fd, err := Open(name, unix.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	return ReadAll(fd)
}

// Open opens name with flags|O_CLOEXEC, retrying on EINTR.
func Open(name string, flags int, mode uint32) (int, error) {
	return eintr.Retry(func() (int, error) { return unix.Open(name, flags|unix.O_CLOEXEC, mode) })
}

// ReadAll reads fd to end of file, retrying on EINTR.
func ReadAll(fd int) ([]byte, error) {
	return ReadLine(fd, -1)
}

// ReadLine reads fd until end of file or through the first newline,
// whichever comes first (the newline, and whatever the read that brought it
// also returned, are kept), retrying on EINTR. With limit >= 0 it gives up
// with E2BIG once more than limit bytes came without a newline; with a
// negative limit it never looks for a newline and reads to end of file.
func ReadLine(fd int, limit int) ([]byte, error) {
	buf := make([]byte, 0, 512)
	for {
		if len(buf) == cap(buf) {
			if limit >= 0 && len(buf) > limit {
				return nil, unix.E2BIG
			}
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := eintr.Retry(func() (int, error) { return unix.Read(fd, buf[len(buf):cap(buf)]) })
		if err != nil {
			return buf, err
		}
		if n == 0 {
			return buf, nil
		}
		got := buf[len(buf) : len(buf)+n]
		buf = buf[:len(buf)+n]
		if limit >= 0 && bytes.IndexByte(got, '\n') >= 0 {
			return buf, nil
		}
	}
}

// ReaderAt reads at offsets from a descriptor with pread.
type ReaderAt int

// ReadAt implements io.ReaderAt.
func (r ReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		m, err := eintr.Retry(func() (int, error) { return unix.Pread(int(r), p[n:], off+int64(n)) })
		if err != nil {
			return n, err
		}
		if m == 0 {
			return n, io.EOF
		}
		n += m
	}
	return n, nil
}
