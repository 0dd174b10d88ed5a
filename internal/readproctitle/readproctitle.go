// Package readproctitle is readproctitle: it keeps the most recent bytes of a
// stream in one of the process's own command-line arguments, in place in the
// kernel's argv area, so that `ps` (which reads /proc/PID/cmdline) shows the
// latest error messages of a whole service tree. Changing os.Args would change
// nothing ps sees; the bytes the kernel exposes are rewritten instead.
package readproctitle

import (
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"svkit/internal/sysfile"
)

// Prefix is how many leading bytes of the title stay dots, as in 0.76.
const Prefix = 3

// MinLen is the shortest last argument readproctitle accepts.
const MinLen = 5

// Exit codes of readproctitle: 0 at end of input, 100 on bad arguments,
// 111 on a read error. 0.76 prints nothing in any of these cases.
const (
	ExitOK    = 0
	ExitUsage = 100
	ExitRead  = 111
)

// Title is a fixed-size buffer whose first Prefix bytes stay dots and whose
// remaining bytes hold the most recent non-NUL bytes written to it, the
// oldest first, as readproctitle shows them.
type Title struct {
	buf []byte
}

// NewTitle fills buf with dots and returns a Title that writes into it.
// buf must be at least MinLen bytes long.
func NewTitle(buf []byte) *Title {
	for i := range buf {
		buf[i] = '.'
	}
	return &Title{buf: buf}
}

// Write shifts the non-NUL bytes of p into the title. It never fails.
func (t *Title) Write(p []byte) (int, error) {
	n := len(p)
	tail := t.buf[Prefix:]
	for len(p) > 0 {
		// Take the bytes up to the next NUL (NULs are dropped, as 0.76 does).
		i := 0
		for i < len(p) && p[i] != 0 {
			i++
		}
		chunk := p[:i]
		if i < len(p) {
			p = p[i+1:]
		} else {
			p = nil
		}
		if len(chunk) >= len(tail) {
			copy(tail, chunk[len(chunk)-len(tail):])
			continue
		}
		copy(tail, tail[len(chunk):])
		copy(tail[len(tail)-len(chunk):], chunk)
	}
	return n, nil
}

// Bytes returns the title's current contents.
func (t *Title) Bytes() []byte { return t.buf }

// Run is readproctitle: args is the full argv; area returns a writable view
// of the bytes of argument i that the kernel shows in /proc/PID/cmdline.
// It reads stdin until end of file.
// Main is the readproctitle program: Run on the process's own argv area.
func Main(argv []string, stdin io.Reader, _, _ io.Writer) int {
	return Run(argv, stdin, ArgvArea)
}

// Run is readproctitle with the argv area given (for tests).
func Run(args []string, stdin io.Reader, area func(i int) ([]byte, error)) int {
	if len(args) < 2 {
		return ExitUsage
	}
	last := len(args) - 1
	if len(args[last]) < MinLen {
		return ExitUsage
	}
	buf, err := area(last)
	if err != nil {
		// Without a writable argv area the title cannot be shown, but the
		// pipe must still be drained or the writers would block.
		buf = make([]byte, len(args[last]))
	}
	t := NewTitle(buf)
	b := make([]byte, 1024)
	for {
		n, err := stdin.Read(b)
		if n > 0 {
			t.Write(b[:n])
		}
		if err == io.EOF {
			return ExitOK
		}
		if err != nil {
			return ExitRead
		}
	}
}

// ErrNotInArgv says that an argument's bytes are not in the kernel's argv
// area, so rewriting them would not change what ps shows.
var ErrNotInArgv = errors.New("argument is not in the kernel's argv area")

// ArgvArea returns a writable slice over the bytes of os.Args[i] as they lie
// in the kernel's argv area (the NUL terminator excluded). Go's runtime
// builds os.Args without copying the argument bytes, so the string's data
// is the kernel's copy; when /proc is mounted the address is checked
// against the arg_start..arg_end range the kernel reports.
func ArgvArea(i int) ([]byte, error) {
	if i < 0 || i >= len(os.Args) || len(os.Args[i]) == 0 {
		return nil, ErrNotInArgv
	}
	s := os.Args[i]
	p := unsafe.StringData(s)
	addr := uint64(uintptr(unsafe.Pointer(p)))
	if start, end, err := argRange(); err == nil {
		if addr < start || addr+uint64(len(s)) > end {
			return nil, ErrNotInArgv
		}
	}
	return unsafe.Slice(p, len(s)), nil
}

// argRange reads arg_start and arg_end (fields 48 and 49) of
// /proc/self/stat.
func argRange() (uint64, uint64, error) {
	b, err := sysfile.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, 0, err
	}
	s := string(b)
	j := strings.LastIndexByte(s, ')')
	if j < 0 {
		return 0, 0, ErrNotInArgv
	}
	// Fields after the command name start at field 3.
	f := strings.Fields(s[j+1:])
	const argStart, argEnd = 48 - 3, 49 - 3
	if len(f) <= argEnd {
		return 0, 0, ErrNotInArgv
	}
	start, err1 := strconv.ParseUint(f[argStart], 10, 64)
	end, err2 := strconv.ParseUint(f[argEnd], 10, 64)
	if err1 != nil || err2 != nil || start == 0 || end <= start {
		return 0, 0, ErrNotInArgv
	}
	return start, end, nil
}
