package svlog

import (
	"bytes"
	"errors"
	"io"
	"os"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"svkit/internal/diag"
	"svkit/pkg/tai64"
)

// chunk is the size of one backward read.
const chunk = 64 << 10

// ReadError is a log file or directory svlog cannot read.
type ReadError struct {
	Path string
	Op   string // "open", "read", "list"
	Err  error
}

func (e *ReadError) Error() string {
	return "unable to " + e.Op + " " + e.Path + ": " + diag.Str(e.Err)
}

func (e *ReadError) Unwrap() error { return e.Err }

// Tail is a log directory read from its end: the last lines and where
// following it starts.
type Tail struct {
	Lines   []Line   // oldest first
	Current *os.File // current, open; following starts at Offset
	Offset  int64    // just after the last complete line of current
}

// Archives returns the archive names of a log directory (@<tai64n>.s and
// .u, which sort by time), newest first.
func Archives(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, &ReadError{dir, "open", err}
	}
	defer f.Close()
	var names []string
	for {
		ents, err := f.Readdirnames(1024)
		for _, n := range ents {
			if isArchive(n) {
				names = append(names, n)
			}
		}
		if err == io.EOF || (err == nil && len(ents) == 0) {
			break
		}
		if err != nil {
			return nil, &ReadError{dir, "list", err}
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	return names, nil
}

// isArchive reports whether n is an archive name multilog makes.
func isArchive(n string) bool {
	if len(n) != 1+24+2 || n[0] != '@' || !(strings.HasSuffix(n, ".s") || strings.HasSuffix(n, ".u")) {
		return false
	}
	for i := 1; i < 25; i++ {
		if !isHex(n[i]) {
			return false
		}
	}
	return true
}

// LastLines reads the last n lines of the log directory dir for the service
// name: backwards from the end of current, then archives newest first, only
// as far as needed. current is left open in the result for Follow.
func LastLines(name, dir string, n int) (*Tail, error) {
	cur, err := os.Open(dir + "/current")
	if err != nil {
		return nil, &ReadError{dir + "/current", "open", err}
	}
	st, err := cur.Stat()
	if err != nil {
		cur.Close()
		return nil, &ReadError{dir + "/current", "read", err}
	}
	t := &Tail{Current: cur}
	end, err := lastNewline(cur, st.Size())
	if err != nil {
		cur.Close()
		return nil, &ReadError{dir + "/current", "read", err}
	}
	t.Offset = end
	var groups [][]Line // newest file first
	got := 0
	if n > 0 {
		ls, err := lastOf(cur, end, n, name, labelOf(st.ModTime()))
		if err != nil {
			cur.Close()
			return nil, &ReadError{dir + "/current", "read", err}
		}
		groups, got = append(groups, ls), len(ls)
	}
	if got < n {
		names, err := Archives(dir)
		if err != nil {
			cur.Close()
			return nil, err
		}
		for _, a := range names {
			if got >= n {
				break
			}
			ls, err := lastOfFile(dir+"/"+a, n-got, name)
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					continue // removed by a rotation meanwhile
				}
				cur.Close()
				return nil, err
			}
			groups, got = append(groups, ls), got+len(ls)
		}
	}
	for i := len(groups) - 1; i >= 0; i-- {
		t.Lines = append(t.Lines, groups[i]...)
	}
	return t, nil
}

// lastOfFile reads the last n lines of an archive.
func lastOfFile(path string, n int, name string) ([]Line, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &ReadError{path, "open", err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, &ReadError{path, "read", err}
	}
	ls, err := lastOf(f, st.Size(), n, name, labelOf(st.ModTime()))
	if err != nil {
		return nil, &ReadError{path, "read", err}
	}
	return ls, nil
}

// lastNewline returns the offset just after the last '\n' before size, or
// 0: where the complete lines of a file being written end.
func lastNewline(f *os.File, size int64) (int64, error) {
	buf := make([]byte, chunk)
	for pos := size; pos > 0; {
		k := min(int64(chunk), pos)
		pos -= k
		if _, err := f.ReadAt(buf[:k], pos); err != nil && err != io.EOF {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:k], '\n'); i >= 0 {
			return pos + int64(i) + 1, nil
		}
	}
	return 0, nil
}

// lastOf returns the last n lines of f's first end bytes (a last line
// without a newline counts), oldest first. It reads backwards in chunks to
// find line starts, then at most MaxLine bytes of each line.
func lastOf(f *os.File, end int64, n int, name string, mtime tai64.Label) ([]Line, error) {
	if end == 0 || n <= 0 {
		return nil, nil
	}
	// starts of the last n lines, newest first; a line ends where the next
	// begins (minus its '\n') or at end.
	stop := end
	if b, err := byteAt(f, end-1); err != nil {
		return nil, err
	} else if b == '\n' {
		stop = end - 1 // the final newline ends the last line
	}
	var starts []int64
	buf := make([]byte, chunk)
	pos := stop
	for pos > 0 && len(starts) < n {
		k := min(int64(chunk), pos)
		pos -= k
		if _, err := f.ReadAt(buf[:k], pos); err != nil && err != io.EOF {
			return nil, err
		}
		b := buf[:k]
		for len(starts) < n {
			i := bytes.LastIndexByte(b, '\n')
			if i < 0 {
				break
			}
			starts = append(starts, pos+int64(i)+1)
			b = b[:i]
		}
	}
	if pos == 0 && len(starts) < n {
		starts = append(starts, 0)
	}
	lines := make([]Line, 0, len(starts))
	lineEnd := stop
	for _, s := range starts {
		ln := lineEnd - s
		cut := ln > MaxLine
		k := min(ln, MaxLine)
		raw := make([]byte, k)
		if _, err := f.ReadAt(raw, s); err != nil && err != io.EOF {
			return nil, err
		}
		lines = append(lines, makeLine(name, raw, cut, mtime))
		lineEnd = s - 1
	}
	for i, j := 0, len(lines)-1; i < j; i, j = i+1, j-1 {
		lines[i], lines[j] = lines[j], lines[i]
	}
	return lines, nil
}

// byteAt reads one byte of f.
func byteAt(f *os.File, off int64) (byte, error) {
	var b [1]byte
	_, err := f.ReadAt(b[:], off)
	return b[0], err
}

// inode returns the inode number of an open file.
func inode(f *os.File) (uint64, int64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return 0, 0, err
	}
	return st.Ino, st.Size, nil
}
