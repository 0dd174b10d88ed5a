package multilog

import (
	"bytes"
	"time"

	"golang.org/x/sys/unix"

	"svkit/internal/diag"
	"svkit/internal/eintr"
)

// Reading a pipe without losing it.
//
// When stdin is a pipe (or a FIFO such as supervise/logpipe), multilog
// does not read it: it peeks at it with tee(2) into a private pipe, reads
// that copy, writes the lines out, and only then consumes from stdin, with
// splice(2) to /dev/null, the bytes whose lines every directory has been
// written (before any rotation their write ends). A multilog killed at any
// instant thus leaves in the pipe every byte it has not written, and the
// next multilog on the pipe writes them. Without a timestamp, a script
// whose lines all go whole to every directory splices the first
// directory's current straight from stdin, which writes and consumes in
// one step: nothing is written twice either. Otherwise a kill between a
// write and the consume that follows it writes that piece again (at most
// one peek, ReadSize bytes, per kill).
//
// A directory that cannot be written holds multilog in its pause, so
// nothing more is consumed and the producer blocks once the pipe is full,
// as with 0.76, but the lines are in the pipe, not in multilog's memory.
//
// The start of a line whose first 1000 bytes are not all there yet (a
// script with +, -, e or = decides on them) stays in the pipe until it is
// decided and written; multilog then waits for more than it holds by
// checking FIONREAD at growing intervals (1 ms to 100 ms), since poll says
// a pipe with anything in it is readable.

// openPipe prepares the peek-and-consume input when fd is a pipe, and
// reports whether it did.
func (m *Logger) openPipe(fd int) bool {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return false
	}
	var p [2]int
	if unix.Pipe2(p[:], unix.O_CLOEXEC) != nil {
		return false
	}
	m.priv, m.privW = p[0], p[1]
	// The copy must hold all that stdin holds.
	if size, err := unix.FcntlInt(uintptr(fd), unix.F_GETPIPE_SZ, 0); err == nil {
		unix.FcntlInt(uintptr(m.privW), unix.F_SETPIPE_SZ, size)
	}
	null, err := unix.Open("/dev/null", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		m.closePipe()
		return false
	}
	m.null = null
	m.in = fd
	if m.fast && m.script.Stamp == 0 && len(m.dirs) > 0 {
		m.splice = m.dirs[0]
	}
	if trace != nil {
		var st unix.Stat_t
		unix.Fstat(fd, &st)
		avail, _ := unix.IoctlGetInt(fd, unix.TIOCINQ)
		trace("open pipe %d:%d, %d bytes in it, splice %v", st.Dev, st.Ino, avail, m.splice != nil)
	}
	return true
}

func (m *Logger) closePipe() {
	for _, fd := range []*int{&m.priv, &m.privW, &m.null} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
	m.in = -1
	m.splice = nil
}

// runPipe is the loop of the real program on a pipe: wait for input beyond
// what is held, peek at it, handle it. After TERM it handles input only up
// to the end of the line it is in, and leaves the rest in the pipe. It
// returns at the end of input, or when the pipe could not be consumed as
// peeked (m.in is then -1 and the caller reads on).
func (m *Logger) runPipe(fd int) {
	buf := make([]byte, ReadSize)
	for {
		m.handleAlarm()
		if m.term.Load() && !m.inLine {
			return
		}
		more, eof := m.waitPipe(fd)
		if eof {
			return
		}
		if !more {
			continue
		}
		n, ok := m.peek(fd, buf)
		if !ok {
			return // EOF, or an error, which 0.76 treats as EOF
		}
		if n == 0 {
			continue
		}
		data := buf[:n]
		if m.term.Load() {
			if i := bytes.IndexByte(data, '\n'); i >= 0 {
				data = data[:i+1]
			}
		}
		m.process(data)
		if m.in < 0 {
			return
		}
	}
}

// waitPipe waits until the pipe holds more than the m.head bytes already
// taken, or a signal arrives. It reports more when there is input beyond
// those, eof when there never will be.
func (m *Logger) waitPipe(fd int) (more, eof bool) {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(m.sigR), Events: unix.POLLIN}}
	timeout := -1
	if m.head > 0 {
		avail, err := unix.IoctlGetInt(fd, unix.TIOCINQ)
		if err != nil {
			return false, true
		}
		if avail > m.head {
			return true, false
		}
		// Only hang-ups are of interest on stdin meanwhile.
		fds[0].Events = 0
		timeout = m.backoff()
	}
	if _, err := unix.Poll(fds, timeout); err != nil && err != unix.EINTR {
		return false, true
	}
	if fds[1].Revents != 0 {
		var drain [64]byte
		unix.Read(m.sigR, drain[:])
		return false, false
	}
	if m.head == 0 {
		return fds[0].Revents != 0, false
	}
	avail, err := unix.IoctlGetInt(fd, unix.TIOCINQ)
	if err != nil {
		return false, true
	}
	if avail > m.head {
		return true, false
	}
	return false, fds[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0
}

// backoff returns the next interval, in ms, at which to look for the rest
// of a held line: 1 ms doubling up to 100 ms, reset once input comes.
func (m *Logger) backoff() int {
	switch {
	case m.waitStep == 0:
		m.waitStep = time.Millisecond
	case m.waitStep < 100*time.Millisecond:
		m.waitStep *= 2
	}
	return int(m.waitStep / time.Millisecond)
}

// peek copies what the pipe holds beyond m.head, up to len(buf) bytes,
// into buf. It reports false at the end of input or on an error.
func (m *Logger) peek(fd int, buf []byte) (int, bool) {
	var n int64
	for {
		var err error
		n, err = unix.Tee(fd, m.privW, m.head+len(buf), unix.SPLICE_F_NONBLOCK)
		if err == nil {
			break
		}
		if err == unix.EINTR || err == unix.EAGAIN {
			return 0, true
		}
		return 0, false
	}
	if n == 0 {
		return 0, false // empty, and no writer left
	}
	m.waitStep = 0
	skip := min(int(n), m.head)
	if !m.drain(m.priv, skip) {
		return 0, false
	}
	if trace != nil {
		trace("tee %d bytes (head %d)", n, m.head)
	}
	got := 0
	for got < int(n)-skip {
		r, err := eintr.Retry(func() (int, error) { return unix.Read(m.priv, buf[got:int(n)-skip]) })
		if err != nil || r <= 0 {
			return 0, false
		}
		got += r
	}
	return got, true
}

// drain discards n bytes at the front of the pipe fd, which holds them.
func (m *Logger) drain(fd, n int) bool {
	for n > 0 {
		k, err := eintr.Retry(func() (int64, error) { return unix.Splice(fd, nil, m.null, nil, n, unix.SPLICE_F_NONBLOCK) })
		if err != nil || k <= 0 {
			return false
		}
		n -= int(k)
	}
	return true
}

// commit consumes from the pipe the bytes taken whose lines are written:
// all of m.head but a line still undecided.
func (m *Logger) commit() {
	keep := m.undecided()
	if m.in < 0 {
		m.head = keep
		return
	}
	if trace != nil && m.head > keep {
		trace("consume %d", m.head-keep)
	}
	if m.head > keep && !m.drain(m.in, m.head-keep) {
		// Someone else read the pipe, so that it no longer holds what
		// was taken: carry on reading it as 0.76 does.
		diag.Warn(m.stderr, prog, "unable to consume what was read from the pipe, reading it from now on")
		m.closePipe()
	}
	m.head = keep
}

// write1 is one write(2) of p to current, or, for the directory spliced
// from the pipe, one splice(2) of as much of p from the front of stdin.
func (d *logDir) write1(p []byte) (int, error) {
	m := d.m
	if m.splice != d || m.head < len(p) {
		if trace != nil {
			trace("write %d %q..%q", len(p), first(p), last(p))
		}
		return unix.Write(d.cur, p)
	}
	n, err := unix.Splice(m.in, nil, d.cur, nil, len(p), 0)
	if trace != nil {
		trace("splice %d of %d %q..%q: %d %v", len(p), m.head, first(p), last(p), n, err)
	}
	if err == unix.EINVAL {
		// The file system takes no splice: write, consume later.
		m.splice = nil
		return unix.Write(d.cur, p)
	}
	if n > 0 {
		m.head -= int(n)
	}
	return int(n), err
}

// first and last are the ends of p, for a trace.
func first(p []byte) []byte { return p[:min(len(p), 14)] }
func last(p []byte) []byte  { return p[max(0, len(p)-14):] }
