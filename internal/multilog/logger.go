package multilog

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"svkit/internal/diag"
	"svkit/internal/eintr"
	"svkit/pkg/tai64"
)

// PauseFor is how long multilog sleeps after an error before retrying
// (deepsleep(5) in 0.76). Tests may shorten it.
var PauseFor = 5 * time.Second

// ReadSize is the size of one read from stdin.
const ReadSize = 256 << 10

// lineMax is how much of a line selection, e and = look at.
const lineMax = 1000

// Logger is one running multilog.
type Logger struct {
	script Script
	stderr io.Writer
	now    func() time.Time
	dirs   []*logDir

	// status files, indexed like script.Actions (fd -1 when not '=')
	statusFD   []int
	statusLine [][]byte
	statusSet  []bool

	// fast: no +, -, e or =, so every line goes to every directory whole
	fast bool

	inLine  bool   // part of a line has been read
	decided bool   // its first 1000 bytes have been handled
	line    []byte // its first (up to) 1000 bytes, timestamp included
	stamp   []byte // the timestamp of the current read
	sbuf    []byte // the timestamped read (fast path)
	ebuf    []byte // e output of the current read

	lastArchive tai64.Label

	// The peek-and-consume input of a pipe (see pipe.go): head is how many
	// bytes at the front of the pipe have been processed but not yet
	// consumed; in is the pipe (-1 when input is read); splice is the
	// directory current is spliced into straight from the pipe.
	in, priv, privW, null int
	head                  int
	splice                *logDir
	lineStamp             int           // length of the stamp at the start of m.line
	waitStep              time.Duration // see backoff

	term, alrm atomic.Bool
	sigR, sigW int
	sigCh      []chan os.Signal // TERM, ALRM
	sigDone    chan struct{}
}

func (m *Logger) pause(msg string, err error) {
	diag.Warn(m.stderr, prog, msg, diag.Str(err))
	m.sleep()
}

func (m *Logger) sleep() { time.Sleep(PauseFor) }

const prog = "multilog"

// Main runs multilog with argv (argv[0] is the program name, the rest is
// the script), reading stdin until EOF (or TERM when stdin is an *os.File),
// and returns the exit code.
func Main(argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return MainClock(argv[min(1, len(argv)):], stdin, stderr, time.Now)
}

// MainClock is Main with the clock given (for tests).
func MainClock(args []string, stdin io.Reader, stderr io.Writer, now func() time.Time) int {
	unix.Umask(022)
	m := &Logger{script: Parse(args), stderr: stderr, now: now, sigR: -1, sigW: -1, in: -1, priv: -1, privW: -1, null: -1}
	defer m.release()
	if code := m.setup(); code != 0 {
		return code
	}
	if f, ok := stdin.(*os.File); ok {
		if err := m.catchSignals(); err != nil {
			return diag.Fatal(stderr, prog, diag.ExitTemp, "unable to create pipe: ", diag.Str(err))
		}
		m.runFD(int(f.Fd()))
	} else {
		m.runReader(stdin)
	}
	m.quit()
	return 0
}

// setup opens the = files, then the directories, in 0.76's order.
func (m *Logger) setup() int {
	acts := m.script.Actions
	m.statusFD = make([]int, len(acts))
	m.statusLine = make([][]byte, len(acts))
	m.statusSet = make([]bool, len(acts))
	m.fast = true
	for i, a := range acts {
		m.statusFD[i] = -1
		switch a.Kind {
		case Select, Deselect, Alert:
			m.fast = false
		case Status:
			m.fast = false
			fd, err := unix.Open(a.Arg, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_NONBLOCK|unix.O_CLOEXEC, 0600)
			if err != nil {
				return diag.Fatal(m.stderr, prog, diag.ExitTemp, "unable to create ", a.Arg, ": ", diag.Str(err))
			}
			unix.Close(fd)
			fd, err = unix.Open(a.Arg, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
			if err != nil {
				return diag.Fatal(m.stderr, prog, diag.ExitTemp, "unable to write ", a.Arg, ": ", diag.Str(err))
			}
			m.statusFD[i] = fd
		}
	}
	size, num, proc, hasProc := uint64(99999), uint64(10), "", false
	for _, a := range acts {
		switch a.Kind {
		case Size:
			size = a.N
		case Count:
			num = a.N
		case Processor:
			proc, hasProc = a.Arg, true
		case Dir:
			d := &logDir{m: m, path: a.Arg, size: size, num: num, processor: proc, hasProc: hasProc, fd: -1, lock: -1, cur: -1, sel: true}
			m.dirs = append(m.dirs, d)
			if err := d.open(); err != nil {
				var fe *fatalErr
				if !errors.As(err, &fe) {
					return diag.Fatal(m.stderr, prog, diag.ExitTemp, "unable to open ", a.Arg, ": ", diag.Str(err))
				}
				return diag.Fatal(m.stderr, prog, diag.ExitTemp, fe.msg, diag.Str(fe.err))
			}
		}
	}
	if ign := m.script.IgnoredArgs(); len(ign) > 0 && !m.script.Writes() {
		diag.Warn(m.stderr, prog, "ignoring unknown action ", strings.Join(ign, " "),
			": no action writes anywhere (e, =file, or a directory starting with . or /)")
	}
	return 0
}

func (m *Logger) release() {
	for _, d := range m.dirs {
		d.close()
	}
	for _, fd := range m.statusFD {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	if m.sigCh != nil {
		for _, ch := range m.sigCh {
			signal.Stop(ch)
		}
		close(m.sigCh[0]) // ends the goroutine
		<-m.sigDone
	}
	if m.sigR >= 0 {
		unix.Close(m.sigR)
		unix.Close(m.sigW)
	}
	m.closePipe()
}

// catchSignals turns TERM and ALRM into flags plus a byte on a pipe that
// the read loop polls together with stdin.
func (m *Logger) catchSignals() error {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return err
	}
	m.sigR, m.sigW = p[0], p[1]
	// One channel per signal: a burst of ALRM cannot fill the one TERM
	// comes through and have the runtime drop it.
	term, alrm := make(chan os.Signal, 1), make(chan os.Signal, 1)
	m.sigCh, m.sigDone = []chan os.Signal{term, alrm}, make(chan struct{})
	signal.Notify(term, syscall.SIGTERM)
	signal.Notify(alrm, syscall.SIGALRM)
	w := m.sigW
	go func() {
		defer close(m.sigDone)
		for {
			select {
			case _, ok := <-term:
				if !ok {
					return
				}
				m.term.Store(true)
			case _, ok := <-alrm:
				if !ok {
					return
				}
				m.alrm.Store(true)
			}
			unix.Write(w, []byte{1})
		}
	}()
	return nil
}

// runFD is the loop of the real program: poll stdin and the signal pipe,
// read what is there (one byte at a time after TERM, until the line ends),
// and write it out before reading again.
func (m *Logger) runFD(fd int) {
	growPipe(fd)
	if m.openPipe(fd) {
		m.runPipe(fd)
		if m.in >= 0 {
			return
		}
	}
	buf := make([]byte, ReadSize)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(m.sigR), Events: unix.POLLIN}}
	var drain [64]byte
	for {
		m.handleAlarm()
		want := len(buf)
		if m.term.Load() {
			if !m.inLine {
				return
			}
			want = 1
		}
		fds[0].Revents, fds[1].Revents = 0, 0
		if _, err := unix.Poll(fds, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			return
		}
		if fds[1].Revents != 0 {
			unix.Read(m.sigR, drain[:])
			continue
		}
		if fds[0].Revents == 0 {
			continue
		}
		n, err := unix.Read(fd, buf[:want])
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if n <= 0 {
			return // EOF, or a read error, which 0.76 treats as EOF
		}
		m.process(buf[:n])
	}
}

// growPipe asks for a 1 MiB pipe buffer when stdin is a pipe, so that a
// fast producer and multilog trade big reads instead of 64 KiB ones.
// Failure (not a pipe, a lower pipe-max-size) is harmless.
func growPipe(fd int) {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFIFO {
		unix.FcntlInt(uintptr(fd), unix.F_SETPIPE_SZ, 1<<20)
	}
}

// runReader is the loop for an io.Reader (in-process use): no signals.
func (m *Logger) runReader(r io.Reader) {
	buf := make([]byte, ReadSize)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			m.process(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

func (m *Logger) handleAlarm() {
	if !m.alrm.Swap(false) {
		return
	}
	for _, d := range m.dirs {
		if d.bytes > 0 {
			d.rotate()
		}
	}
}

// makeStamp sets the timestamp every line starting in this read gets.
func (m *Logger) makeStamp() {
	m.stamp = m.stamp[:0]
	switch m.script.Stamp {
	case 't':
		m.stamp = append(m.stamp, '@')
		m.stamp = tai64.FromTime(m.now()).AppendHex(m.stamp)
		m.stamp = append(m.stamp, ' ')
	case 'T':
		t := m.now()
		m.stamp = strconv.AppendInt(m.stamp, t.Unix(), 10)
		m.stamp = append(m.stamp, '.')
		us := t.Nanosecond() / 1000
		for d := 100000; d > 0; d /= 10 {
			m.stamp = append(m.stamp, byte('0'+us/d%10))
		}
		m.stamp = append(m.stamp, ' ')
	}
}

// process handles one read (or one peek at the pipe): every line (or
// piece of one) in data, written out in pieces that end where a directory
// rotates, so that the input of a piece is consumed before the rotation.
func (m *Logger) process(data []byte) {
	if m.script.Stamp != 0 {
		m.makeStamp()
	}
	if m.fast {
		m.processFast(data)
		return
	}
	for len(data) > 0 {
		k := m.processLines(data)
		m.head += k
		m.flush()
		m.commit()
		m.rotateDue()
		data = data[k:]
	}
}

// processLines runs the script over the lines of data until a line end at
// which a directory will rotate, queueing what each directory takes, and
// returns how many bytes of data it handled.
func (m *Logger) processLines(data []byte) int {
	all := len(data)
	for len(data) > 0 {
		if !m.inLine {
			m.inLine, m.decided = true, false
			m.line = append(m.line[:0], m.stamp...)
			m.lineStamp = len(m.stamp)
		}
		if !m.decided {
			need := lineMax - len(m.line)
			k := need
			if k > len(data) {
				k = len(data)
			}
			if i := bytes.IndexByte(data[:k], '\n'); i >= 0 {
				m.line = append(m.line, data[:i]...)
				data = data[i+1:]
				m.decide()
				m.emit(m.line)
				m.emit(newline)
				m.inLine = false
				if m.rotationDue() {
					break
				}
				continue
			}
			m.line = append(m.line, data[:k]...)
			data = data[k:]
			if len(m.line) < lineMax {
				break // wait for more of the line
			}
			m.decide()
			m.emit(m.line)
			m.decided = true
			continue
		}
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			m.emit(data)
			data = nil
			break
		}
		m.emit(data[:i+1])
		data = data[i+1:]
		m.inLine = false
		if m.rotationDue() {
			break
		}
	}
	return all - len(data)
}

// rotationDue reports whether a directory will rotate once what is queued
// for it is written (queues end at a line end when this is asked).
func (m *Logger) rotationDue() bool {
	for _, d := range m.dirs {
		if len(d.pend) > 0 && d.bytes+uint64(len(d.pend)) >= d.size-2000 {
			return true
		}
	}
	return false
}

// undecided is how many input bytes of the line being read have been
// taken but not yet written anywhere: the start of a line whose first
// 1000 bytes are not all there to decide on.
func (m *Logger) undecided() int {
	if m.fast || !m.inLine || m.decided {
		return 0
	}
	return len(m.line) - m.lineStamp
}

// rotateDue rotates every directory whose current ended at a rotation
// point with the last write.
func (m *Logger) rotateDue() {
	for _, d := range m.dirs {
		if d.due {
			d.rotate()
		}
	}
}

var newline = []byte{'\n'}

// processFast handles a read when every line goes whole to every
// directory: the read itself, or its timestamped copy, is written as is,
// in pieces that end where a directory rotates. The first directory is
// written last: with the pipe peeked at, it may be spliced from the pipe,
// which consumes the input in the same step.
func (m *Logger) processFast(data []byte) {
	mid := m.inLine // the first piece continues a line
	out := data
	if m.script.Stamp != 0 {
		out = m.stampLines(data)
	} else {
		m.inLine = data[len(data)-1] != '\n'
	}
	for len(out) > 0 {
		n := m.pieceEnd(out)
		piece := out[:n]
		m.head += m.inputBytes(piece, mid)
		for i := len(m.dirs) - 1; i >= 0; i-- {
			m.dirs[i].write(piece)
		}
		m.commit()
		m.rotateDue()
		mid = piece[n-1] != '\n'
		out = out[n:]
	}
}

// pieceEnd returns the length of the first piece of out: up to the line
// end at which some directory rotates, or all of it.
func (m *Logger) pieceEnd(out []byte) int {
	end := len(out)
	for _, d := range m.dirs {
		th := d.size - 2000
		if d.bytes+uint64(len(out)) < th || d.bytes >= d.size {
			continue
		}
		start := uint64(0)
		if d.bytes < th {
			start = th - d.bytes - 1
		}
		limit := uint64(end)
		if room := d.size - d.bytes; limit > room {
			limit = room
		}
		if start >= limit {
			continue
		}
		if i := bytes.IndexByte(out[start:limit], '\n'); i >= 0 {
			end = int(start) + i + 1
		}
	}
	return end
}

// inputBytes returns how many input bytes the output piece holds: its
// length less the stamps in it. A piece starts a line unless mid, ends at
// a line end or where out ends, and so holds its stamps whole.
func (m *Logger) inputBytes(piece []byte, mid bool) int {
	s := len(m.stamp)
	if m.script.Stamp == 0 || s == 0 {
		return len(piece)
	}
	starts := bytes.Count(piece, newline)
	if piece[len(piece)-1] == '\n' {
		starts-- // the line after the last line end is not in the piece
	}
	if !mid {
		starts++
	}
	return len(piece) - starts*s
}

// stampLines returns data with the read's timestamp before every line
// that starts in it, built in one buffer of the exact size.
func (m *Logger) stampLines(data []byte) []byte {
	st := m.stamp
	n := len(data) + bytes.Count(data, newline)*len(st)
	if !m.inLine {
		n += len(st)
	}
	if cap(m.sbuf) < n {
		m.sbuf = make([]byte, n+n/4)
	}
	b := m.sbuf[:n]
	o := 0
	if !m.inLine {
		o += copy(b, st)
	}
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			o += copy(b[o:], data)
			m.inLine = len(data) > 0
			break
		}
		o += copy(b[o:], data[:i+1])
		data = data[i+1:]
		if len(data) == 0 {
			m.inLine = false
			break
		}
		o += copy(b[o:], st)
	}
	return b[:o]
}

// decide runs the script over the first 1000 bytes of the line: selection,
// e, = and which directories take it.
func (m *Logger) decide() {
	line := m.line
	sel := true
	j := 0
	for i, a := range m.script.Actions {
		switch a.Kind {
		case Select:
			if !sel && Match(a.Arg, line) {
				sel = true
			}
		case Deselect:
			if sel && Match(a.Arg, line) {
				sel = false
			}
		case Alert:
			if sel {
				if len(line) > 200 {
					m.ebuf = append(m.ebuf, line[:200]...)
					m.ebuf = append(m.ebuf, "...\n"...)
				} else {
					m.ebuf = append(m.ebuf, line...)
					m.ebuf = append(m.ebuf, '\n')
				}
			}
		case Status:
			if sel {
				m.statusLine[i] = append(m.statusLine[i][:0], line...)
				m.statusSet[i] = true
			}
		case Dir:
			m.dirs[j].sel = sel
			j++
		}
	}
}

// emit queues p for every directory that selected the current line.
func (m *Logger) emit(p []byte) {
	for _, d := range m.dirs {
		if d.sel {
			d.pend = append(d.pend, p...)
		}
	}
}

// flush writes what one read produced: each directory, each = file (its
// last selected line), and the e lines, one write each.
func (m *Logger) flush() {
	for _, d := range m.dirs {
		d.flush()
	}
	for i, set := range m.statusSet {
		if !set {
			continue
		}
		m.statusSet[i] = false
		var buf [lineMax + 1]byte
		n := copy(buf[:], m.statusLine[i])
		for k := n; k < len(buf); k++ {
			buf[k] = '\n'
		}
		for {
			w, err := eintr.Retry(func() (int, error) { return unix.Pwrite(m.statusFD[i], buf[:], 0) })
			if w == len(buf) {
				break
			}
			if err == nil {
				err = unix.EIO
			}
			m.pause("unable to write "+m.script.Actions[i].Arg+", pausing: ", err)
		}
	}
	if len(m.ebuf) > 0 {
		m.stderr.Write(m.ebuf)
		m.ebuf = m.ebuf[:0]
	}
}

// quit ends a partial last line with a newline, then flushes, fsyncs and
// marks every current as cleanly closed.
func (m *Logger) quit() {
	if m.inLine {
		if m.fast {
			for _, d := range m.dirs {
				d.write(newline)
			}
		} else {
			if !m.decided {
				m.decide()
				m.emit(m.line)
			}
			m.emit(newline)
			m.flush()
		}
		m.inLine = false
	}
	m.commit()
	for _, d := range m.dirs {
		d.quit()
	}
}
