package svhttpd

// Commands: the letters a caller may send, and the rule that decides
// whether it may. A command is sent if and only if the caller could send it
// with svc: svhttpd runs a helper (its own binary, as "svhttpd-send") with
// the caller's uid, gid and supplementary groups, and the kernel decides
// whether that process may open DIR/supervise/control for writing. svhttpd
// never changes its own credentials (Go would apply that to every thread).
// A root caller needs no helper.

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"svkit/internal/diag"
	"svkit/pkg/svdir"
)

// HelperName is argv[0] of the helper mode: "svhttpd-send DIR LETTERS"
// writes LETTERS to DIR/supervise/control with the credentials it runs
// with, and exits with one of the helper codes below; "svhttpd-send -r
// LOGDIR" checks that it may read LOGDIR/current (see lines.go).
const HelperName = "svhttpd-send"

// Exit codes of the helper, one per answer svhttpd gives.
const (
	helperSent       = 0
	helperDenied     = 10 // EACCES, EPERM: 403
	helperNotRunning = 11 // ENXIO, no control FIFO: 503
	helperGone       = 12 // the directory is gone: 404
	helperFailed     = 13 // anything else: 500
	helperWritable   = 14 // -r: the caller may write the log directory: 403
)

// maxCmd bounds the cmd parameter before de-duplication.
const maxCmd = 64

// ParseLetters checks a cmd parameter: one or more of svc's letters,
// "udopchaitkx". It returns them de-duplicated in order, as svc sends them.
func ParseLetters(cmd string) (string, bool) {
	if cmd == "" || len(cmd) > maxCmd {
		return "", false
	}
	for i := 0; i < len(cmd); i++ {
		if !svdir.Valid(cmd[i]) {
			return "", false
		}
	}
	return svdir.Dedup(cmd), true
}

// classify maps the failure of a send to the helper's exit code and the
// text svhttpd answers with (svc's words).
func classify(err error) (int, string) {
	var sendErr *svdir.SendError
	switch {
	case err == nil:
		return helperSent, ""
	case errors.As(err, &sendErr):
		return helperFailed, "error writing commands: " + diag.Str(sendErr.Err)
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return helperDenied, "permission denied"
	case errors.Is(err, unix.ENXIO):
		return helperNotRunning, "supervise not running"
	case errors.Is(err, svdir.ErrSymlink):
		return helperFailed, svdir.ControlPath + " is a symbolic link"
	case errors.Is(err, svdir.ErrNotFIFO):
		return helperFailed, svdir.ControlPath + " is not a FIFO"
	}
	return helperFailed, diag.Str(err)
}

// sendDirect sends letters to dir with svhttpd's own credentials.
func sendDirect(dir, letters string) (int, string) {
	dfd, err := svdir.OpenDir(dir)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return helperGone, "unable to chdir: " + diag.Str(err)
		}
		code, text := classify(err)
		return code, "unable to chdir: " + text
	}
	defer unix.Close(dfd)
	err = svdir.SendAt(dfd, letters)
	if errors.Is(err, unix.ENOENT) {
		return helperNotRunning, "supervise not running"
	}
	return classify(err)
}

// helperMain is the helper mode: argv is HelperName DIR LETTERS.
func helperMain(argv []string, stdout, stderr io.Writer) int {
	if len(argv) == 3 && argv[1] == "-r" {
		return readCheck(argv[2], stdout, stderr)
	}
	if len(argv) >= 2 && argv[1] == "-w" {
		return writeCheck(argv[2:], stdout)
	}
	if len(argv) != 3 {
		return diag.Usage(stderr, HelperName, "svhttpd-send dir letters")
	}
	letters, ok := ParseLetters(argv[2])
	if !ok {
		return diag.Usage(stderr, HelperName, "svhttpd-send dir letters")
	}
	code, text := sendDirect(argv[1], letters)
	if code != helperSent {
		io.WriteString(stderr, text)
	}
	return code
}

// writeCheck is the helper's -w mode: may the credentials it runs with
// open each dir's supervise/control for writing (access(2), with the
// helper's real ids, which are its effective ones)? It prints one byte per
// dir, 1 or 0, then a newline. Nothing is opened or written.
func writeCheck(dirs []string, stdout io.Writer) int {
	out := make([]byte, 0, len(dirs)+1)
	for _, d := range dirs {
		if unix.Access(d+"/"+svdir.ControlPath, unix.W_OK) == nil {
			out = append(out, '1')
		} else {
			out = append(out, '0')
		}
	}
	out = append(out, '\n')
	if _, err := stdout.Write(out); err != nil {
		return helperFailed
	}
	return helperSent
}

// mayControl tells, for each dir, whether the caller p could send it a
// command: the check of sendAs without the sending. Root may; an unknown
// caller may not; anyone else is asked of the helper, run once with p's
// credentials for all of dirs. If the helper fails, p may not.
func (s *Server) mayControl(p *Peer, dirs []string) []bool {
	out := make([]bool, len(dirs))
	if !p.Known || len(dirs) == 0 {
		return out
	}
	if p.Uid == 0 {
		for i := range out {
			out[i] = true
		}
		return out
	}
	var b bytes.Buffer
	code, text := s.runHelperOut(p, &b, len(dirs)+1, append([]string{"-w"}, dirs...)...)
	if code != helperSent || b.Len() != len(dirs)+1 {
		s.logf(prog + ": warning: unable to check control permissions: " + text)
		return out
	}
	for i := range out {
		out[i] = b.Bytes()[i] == '1'
	}
	return out
}

// httpStatus is the answer for a helper code.
func httpStatus(code int) int {
	switch code {
	case helperSent:
		return 200
	case helperDenied:
		return 403
	case helperNotRunning:
		return 503
	case helperGone:
		return 404
	}
	return 500
}

// helperTimeout bounds one helper run: the write of at most MaxLetters
// bytes into a FIFO that has a reader does not block for long.
const helperTimeout = 5 * time.Second

// sendAs sends letters to dir as the caller p may: directly for root,
// through the helper otherwise. It returns a helper code and a text.
func (s *Server) sendAs(p *Peer, dir, letters string) (int, string) {
	if !p.Known {
		return helperDenied, "caller unknown"
	}
	if p.Uid == 0 {
		return sendDirect(dir, letters)
	}
	return s.runHelper(p, nil, dir, letters)
}

// runHelper runs the helper with args as the caller p and returns its
// code and what it wrote on stderr; its stdout goes to stdout (if not nil,
// at most 512 bytes).
func (s *Server) runHelper(p *Peer, stdout io.Writer, args ...string) (int, string) {
	return s.runHelperOut(p, stdout, 512, args...)
}

// runHelperOut is runHelper keeping at most max bytes of stdout.
func (s *Server) runHelperOut(p *Peer, stdout io.Writer, max int, args ...string) (int, string) {
	cmd := exec.Command(s.helper, args...)
	cmd.Args[0] = HelperName
	cmd.Env = []string{}
	cmd.Dir = "/"
	var out bytes.Buffer
	cmd.Stderr = &limitedWriter{w: &out, n: 512}
	if stdout != nil {
		cmd.Stdout = &limitedWriter{w: stdout, n: max}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: p.Uid, Gid: p.Gid, Groups: p.Groups},
	}
	cmd.WaitDelay = time.Second
	timer := time.AfterFunc(helperTimeout, func() {
		if cmd.Process != nil {
			cmd.Process.Kill()
		}
	})
	err := cmd.Run()
	timer.Stop()
	if err == nil {
		return helperSent, ""
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() >= helperDenied && ee.ExitCode() <= helperWritable {
		return ee.ExitCode(), out.String()
	}
	return helperFailed, "unable to run " + filepath.Base(s.helper) + ": " + err.Error() + " " + out.String()
}

// limitedWriter keeps the first n bytes written to it.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(b []byte) (int, error) {
	if l.n > 0 {
		k := min(len(b), l.n)
		l.w.Write(b[:k])
		l.n -= k
	}
	return len(b), nil
}

// waiter tells when supervise has taken a command: it has read every
// byte written to supervise/control (FIONREAD on the FIFO is 0), and, when
// the letters change what supervise/status records (u, d, o, p, c),
// status says what they ask for. That supervise replaced status is no
// proof: 0.76's rewrites it unchanged once more after the one-second pause
// that follows a start, possibly between reading the letters and acting
// on them; and it need not rewrite a status that does not change. Signal
// letters change nothing in status: supervise has taken them once it read
// them. Where svhttpd cannot open the FIFO, a replaced status stands in
// for the read.
type waiter struct {
	dir     string
	letters string
	fifo    int // supervise/control open for writing, -1 if it cannot be
	before  uint64
	had     bool
}

// newWaiter records the state before the letters are sent.
func newWaiter(dir, letters string) *waiter {
	w := &waiter{dir: dir, letters: letters, fifo: -1}
	if fd, err := svdir.OpenFIFO(unix.AT_FDCWD, dir+"/"+svdir.ControlPath, unix.O_WRONLY); err == nil {
		w.fifo = fd
	}
	w.before, w.had = statusID(dir)
	return w
}

func (w *waiter) close() {
	if w.fifo >= 0 {
		unix.Close(w.fifo)
		w.fifo = -1
	}
}

// taken reports whether supervise has taken the letters.
func (w *waiter) taken() bool {
	if w.fifo >= 0 {
		n, err := unix.IoctlGetInt(w.fifo, unix.TIOCINQ) // FIONREAD: bytes in the pipe
		if err != nil || n != 0 {
			return false
		}
	} else if id, ok := statusID(w.dir); !ok || (w.had && id == w.before) {
		return false
	}
	if !strings.ContainsAny(w.letters, "udopc") {
		return true
	}
	r, err := svdir.ReadStatusOf(w.dir)
	return err == nil && satisfied(r, w.letters)
}

// satisfied reports whether the status record r already shows what the
// letters ask supervise to record: the wanted state of the last of u, d
// and o, and, for a running service, the pause of the last of p and c.
func satisfied(r svdir.Status, letters string) bool {
	want, pause := -1, -1
	for i := 0; i < len(letters); i++ {
		switch letters[i] {
		case svdir.CmdUp:
			want = svdir.WantUp
		case svdir.CmdDown:
			want = svdir.WantDown
		case svdir.CmdOnce:
			want = svdir.WantOnce
		case svdir.CmdPause:
			pause = 1
		case svdir.CmdContinue:
			pause = 0
		}
	}
	if want >= 0 && int(r.Want) != want {
		return false
	}
	if pause >= 0 && r.Pid != 0 && r.Paused != (pause == 1) {
		return false
	}
	return true
}

// statusID identifies the current supervise/status file of dir: supervise
// replaces it whole (a new inode) every time it writes it, even when the
// 18 bytes stay the same.
func statusID(dir string) (uint64, bool) {
	var st unix.Stat_t
	if err := unix.Lstat(dir+"/"+svdir.StatusPath, &st); err != nil {
		return 0, false
	}
	return st.Ino ^ uint64(st.Ctim.Nsec)<<32 ^ uint64(st.Ctim.Sec), true
}
