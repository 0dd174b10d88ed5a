// Package svwait is svkit's svwait: it waits until services reach a state.
//
//	svwait [-u|-U|-d|-D] [-t ms] dir...
//
// Modes (the last one given wins; -u is the default):
//
//	-u  up: supervise/status has a pid
//	-U  up and ready: up, and supervise/info says ready for that same pid.
//	    With no supervise/info (0.76's supervise) up counts as ready.
//	-d  down: supervise/status has no pid (./finish may still run)
//	-D  down and finished: down, and supervise/info says the state is down,
//	    not finish. With no supervise/info it is the same as -d.
//
// A supervise/info counts only when it describes the status's process and
// moment (svstat.Current). One that disagrees with an unchanged status for
// StaleAfter (1 s) is taken for a file left by svkit's supervise in a
// directory now run by 0.76's, and ignored.
//
// svwait exits 0 as soon as every dir is in the state at the same time (the
// condition is re-checked for all of them on every change, so a service
// that goes up and down again is waited for again). With -t ms it gives up
// after ms milliseconds, prints one warning per dir not in the state
// ("svwait: warning: timed out waiting for DIR: " and the svstat line,
// with ", waiting for A, B" when supervise holds ./run back for the
// needs A and B) and exits 1; -t 0, the default, waits forever.
//
// A wait for up (-u or -U) ends, with exit code 100 and
// "svwait: fatal: DIR failed: REASON; svc -u to retry", when supervise has
// given up on a service (DIR/permafail; supervise/info's failed mark): it
// would never come up by itself. A mark that was already there when svwait
// started counts only once it has stayed for FailedGrace (1 s), so that
// "svc -u DIR; svwait DIR" does not see the mark that svc -u is clearing.
//
// Every dir must have a running supervise when svwait starts: a dir that
// cannot be opened, a supervise/ok that cannot be opened (supervise not
// running, or no supervise/ directory yet) or an unreadable status is fatal
// (exit 111) before any waiting. Later, a supervise that stops does not end
// the wait (svscan may start another one), nor does a supervise/ directory
// or a DIR that is removed or replaced: svwait watches whatever appears at
// DIR/supervise, and a state it cannot read is simply not reached. Use -t
// to bound the wait.
//
// svwait never polls: it watches each DIR/supervise directory with inotify,
// where supervise replaces status and info through renames, and each DIR for
// a new supervise/; it re-reads the files on each event. The timeout is
// poll(2)'s.
//
// Exit codes: 0 reached, 1 timed out, 100 usage or a failed service, 111
// system failure.
package svwait

import (
	"errors"
	"io"
	"math"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"svkit/internal/diag"
	"svkit/internal/eintr"
	"svkit/internal/inotify"
	"svkit/internal/sgetopt"
	"svkit/internal/svstat"
	"svkit/pkg/svdir"
)

const prog = "svwait"

// Synopsis is the usage line.
const Synopsis = "svwait [-u|-U|-d|-D] [-t ms] dir..."

// ExitTimeout is the exit code when -t ran out.
const ExitTimeout = 1

// ExitFailed is the exit code when a service waited for up has failed.
const ExitFailed = 100

// FailedGrace is how long a failed mark that was there before the wait
// began must stay before it ends a wait for up.
const FailedGrace = time.Second

// Modes, named by their option letter.
const (
	Up        = 'u'
	UpReady   = 'U'
	Down      = 'd'
	DownFinal = 'D'
)

// Reached reports whether a service in state s is in the state mode waits
// for.
func Reached(mode byte, s svdir.State) bool {
	if s.Changing {
		return false // another event is on its way
	}
	up := s.Status.Pid != 0
	switch mode {
	case Up:
		return up
	case Down:
		return !up
	case UpReady:
		if !up {
			return false
		}
		if s.Info == nil {
			return true // 0.76's supervise: no readiness, up is ready
		}
		return s.Current && s.Info.Ready
	case DownFinal:
		if up {
			return false
		}
		if s.Info == nil {
			return true
		}
		return s.Current && s.Info.State != svdir.StateFinish
	}
	return false
}

// ParseMS parses the -t argument: one or more decimal digits, nothing else.
// Values too large for a time.Duration are clamped to the largest one.
func ParseMS(s string) (d time.Duration, ok bool) {
	if s == "" {
		return 0, false
	}
	const maxMS = math.MaxInt64 / int64(time.Millisecond)
	var ms int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if ms <= maxMS {
			ms = ms*10 + int64(c-'0')
		}
	}
	if ms > maxMS {
		return time.Duration(math.MaxInt64), true
	}
	return time.Duration(ms) * time.Millisecond, true
}

// Parse reads svwait's command line (argv[0] is the program name). On a
// usage error it writes the complaint and the usage line to stderr and
// returns ok == false.
func Parse(argv []string, stderr io.Writer) (mode byte, timeout time.Duration, dirs []string, ok bool) {
	mode = Up
	p := sgetopt.New(argv, "uUdDt:", stderr)
	for c := p.Next(); c != sgetopt.EOF; c = p.Next() {
		switch c {
		case 'u', 'U', 'd', 'D':
			mode = byte(c)
		case 't':
			d, good := ParseMS(p.Arg)
			if !good {
				diag.Usage(stderr, prog, Synopsis)
				return 0, 0, nil, false
			}
			timeout = d
		default:
			diag.Usage(stderr, prog, Synopsis)
			return 0, 0, nil, false
		}
	}
	dirs = p.Rest()
	if len(dirs) == 0 {
		diag.Usage(stderr, prog, Synopsis)
		return 0, 0, nil, false
	}
	return mode, timeout, dirs, true
}

// Main runs svwait with argv (argv[0] is the program name) and returns the
// exit code.
func Main(argv []string, _ io.Reader, stdout, stderr io.Writer) int {
	mode, timeout, dirs, ok := Parse(argv, stderr)
	if !ok {
		return diag.ExitUsage
	}
	return Wait(dirs, mode, timeout, stderr)
}

// Inotify masks. On DIR/supervise: status and info are renamed into place
// (0.76 and svkit) or written in place (other writers), and the directory
// itself may go away. On DIR: a supervise/ directory may appear or go, and
// DIR itself may go away.
const (
	selfMask       = unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR
	superviseMask  = unix.IN_MOVED_TO | unix.IN_CREATE | unix.IN_CLOSE_WRITE | selfMask
	serviceDirMask = unix.IN_MOVED_TO | unix.IN_CREATE | unix.IN_MOVED_FROM | unix.IN_DELETE | selfMask
)

// watcher holds the inotify instance and knows which watch descriptors
// stand for service directories (as opposed to supervise/ directories).
type watcher struct {
	fd      int
	dirWDs  map[int32]string // wd of a DIR watch -> DIR
	buf     []byte
	stderr  io.Writer
	pending []inotify.Event
}

// watch (re)adds the watches of one service: DIR must be there (else the
// error is returned); DIR/supervise may be missing for now, since DIR's
// watch reports its arrival. Adding a watch that exists changes nothing.
func (w *watcher) watch(dir string) (string, error) {
	wd, err := unix.InotifyAddWatch(w.fd, dir, serviceDirMask)
	if err != nil {
		return dir, err
	}
	w.dirWDs[int32(wd)] = dir
	_, err = unix.InotifyAddWatch(w.fd, dir+"/supervise", superviseMask)
	if err == unix.ENOENT || err == unix.ENOTDIR {
		err = nil
	}
	return dir + "/supervise", err
}

// watchAll re-adds every service's watches. Failures are ignored: a DIR
// that is gone stays "not reached" until -t runs out.
func (w *watcher) watchAll(dirs []string) {
	for _, dir := range dirs {
		w.watch(dir)
	}
}

// handle reads the queued events and reacts to them: it re-adds watches
// when a directory came, went or moved, and reports whether the states
// must be read again.
//
// A removed directory's own IN_DELETE_SELF may come late (an open file in
// it, such as supervise/ok held by a supervise, keeps it alive), so the
// entry events that DIR's watch reports for "supervise" are what counts.
func (w *watcher) handle(dirs []string) (recheck bool, err error) {
	evs, err := w.drain()
	if err != nil {
		return false, err
	}
	rewatch := false
	for _, ev := range evs {
		_, isDir := w.dirWDs[ev.WD]
		switch {
		case ev.Mask&unix.IN_Q_OVERFLOW != 0:
			recheck, rewatch = true, true
		case ev.Mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_IGNORED|unix.IN_UNMOUNT) != 0:
			recheck, rewatch = true, true
		case isDir && ev.Name == "supervise":
			recheck, rewatch = true, true
		case !isDir && (ev.Name == "status" || ev.Name == "info"):
			recheck = true
		}
	}
	if rewatch {
		w.watchAll(dirs)
	}
	return recheck, nil
}

// drain reads every queued event.
func (w *watcher) drain() ([]inotify.Event, error) {
	evs := w.pending[:0]
	for {
		n, err := eintr.Retry(func() (int, error) { return unix.Read(w.fd, w.buf) })
		if err == unix.EAGAIN {
			w.pending = evs
			return evs, nil
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return nil, errors.New("short read")
		}
		evs = inotify.ParseEvents(evs, w.buf[:n])
	}
}

// Wait waits until every dir is in the state mode (see Reached), at most
// timeout (0: forever), and returns the exit code: 0, ExitTimeout, or 111
// after a fatal message on stderr.
func Wait(dirs []string, mode byte, timeout time.Duration, stderr io.Writer) int {
	return wait(dirs, mode, timeout, stderr, nil)
}

// wait is Wait; started, if not nil, is called once the start checks have
// passed and the watches are in place (tests synchronise on it).
func wait(dirs []string, mode byte, timeout time.Duration, stderr io.Writer, started func()) int {
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	ifd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return diag.Fatal(stderr, prog, diag.ExitTemp, "unable to create inotify instance: ", diag.Str(err))
	}
	// Closing an inotify instance that had watches waits for the kernel's
	// fsnotify mark reaper (an SRCU grace period, often 10 ms or more), so
	// it is done in the background: a caller learns the result at once.
	// (A process still pays it in exit(2) before its parent sees it end.)
	defer func() { go unix.Close(ifd) }()
	w := &watcher{fd: ifd, dirWDs: map[int32]string{}, stderr: stderr,
		buf: make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))}

	for _, dir := range dirs {
		if code := w.start(dir); code != 0 {
			return code
		}
	}

	if started != nil {
		started()
	}
	c := &checker{mode: mode, stale: map[string]mismatch{}, begun: time.Now(), failed: map[string]failedMark{}}
	check := true
	var wake time.Time
	for {
		if check {
			var reached bool
			if reached, wake = c.all(dirs); reached {
				return 0
			}
			if c.gaveUp != "" {
				return c.failure(stderr)
			}
		}
		ms := -1
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				if !check {
					if reached, _ := c.all(dirs); reached {
						return 0 // reached right at the deadline
					}
				}
				c.timedOut(dirs, stderr)
				return ExitTimeout
			}
			ms = roundMS(left)
		}
		if !wake.IsZero() {
			if w := roundMS(time.Until(wake)); ms < 0 || w < ms {
				ms = w
			}
		}
		fds := []unix.PollFd{{Fd: int32(ifd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, ms)
		if err == unix.EINTR {
			check = false
			continue
		}
		if err != nil {
			return diag.Fatal(stderr, prog, diag.ExitTemp, "unable to poll: ", diag.Str(err))
		}
		if n == 0 {
			// The deadline, or a disagreeing info's grace, ran out.
			check = !wake.IsZero() && !time.Now().Before(wake)
			continue
		}
		if check, err = w.handle(dirs); err != nil {
			return diag.Fatal(stderr, prog, diag.ExitTemp, "unable to read inotify events: ", diag.Str(err))
		}
	}
}

// roundMS converts d to poll(2)'s milliseconds, rounded up so that poll
// never returns just before the moment, and at least 0.
func roundMS(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(min((d+time.Millisecond-1)/time.Millisecond, math.MaxInt32))
}

// start checks that dir has a running supervise and a readable status, and
// watches it. It returns 0, or 111 after a fatal message.
func (w *watcher) start(dir string) int {
	stderr := w.stderr
	dfd, err := svdir.OpenDir(dir)
	if err != nil {
		return diag.Fatal(stderr, prog, diag.ExitTemp, "unable to chdir to ", dir, ": ", diag.Str(err))
	}
	defer unix.Close(dfd)
	if err := svdir.OpenOKAt(dfd); err != nil {
		if err == unix.ENXIO {
			return diag.Fatal(stderr, prog, diag.ExitTemp, "unable to wait for ", dir, ": supervise not running")
		}
		return diag.Fatal(stderr, prog, diag.ExitTemp, "unable to open ", dir, "/supervise/ok: ", svdir.ErrText(err))
	}
	// Watch before the first read, so no change can fall between.
	if path, err := w.watch(dir); err != nil {
		return diag.Fatal(stderr, prog, diag.ExitTemp, "unable to watch ", path, ": ", diag.Str(err))
	}
	if _, err := svdir.ReadState(dfd, 2, 0); err != nil {
		// "unable to read supervise/status: bad format" and the like.
		msg := strings.Replace(err.Error(), svdir.StatusPath, dir+"/"+svdir.StatusPath, 1)
		return diag.Fatal(stderr, prog, diag.ExitTemp, msg)
	}
	return 0
}

// StaleAfter is how long an info that disagrees with an unchanged status
// is taken for one that svkit's supervise is about to replace (it writes
// status, then info). After that it is taken for one left behind by an
// earlier supervise under one that writes no info (0.76's), and ignored.
const StaleAfter = time.Second

// mismatch is a status and an info that disagree, and when svwait first
// saw them.
type mismatch struct {
	rec  svdir.Status
	info string // the info's encoding
	seen time.Time
}

// checker reads the services' states for one wait.
type checker struct {
	mode   byte
	stale  map[string]mismatch // by dir
	begun  time.Time           // when the wait began
	failed map[string]failedMark
	gaveUp string // a dir waited for up whose supervise gave up on it
	reason string // and why
}

// failedMark is a failed mark and when svwait first saw it.
type failedMark struct {
	at   int64 // the mark's failedat
	seen time.Time
}

// checkFailed notes in c.gaveUp a service waited for up that supervise
// has given up on; it returns when a mark older than the wait will count
// (zero if none waits).
func (c *checker) checkFailed(dir string, st svdir.State, now time.Time) time.Time {
	if c.mode != Up && c.mode != UpReady || st.Status.Pid != 0 || !st.Current || st.Info == nil || !st.Info.Failed {
		delete(c.failed, dir)
		return time.Time{}
	}
	m, ok := c.failed[dir]
	if !ok || m.at != st.Info.FailedAt {
		m = failedMark{at: st.Info.FailedAt, seen: now}
		c.failed[dir] = m
	}
	if st.Info.FailedAt > c.begun.UnixNano() || now.Sub(m.seen) >= FailedGrace {
		if c.gaveUp == "" {
			c.gaveUp, c.reason = dir, st.Info.FailedReason
		}
		return time.Time{}
	}
	return m.seen.Add(FailedGrace)
}

// failure says which service failed and returns ExitFailed.
func (c *checker) failure(stderr io.Writer) int {
	return diag.Fatal(stderr, prog, ExitFailed, c.gaveUp, " failed: ", c.reason, "; svc -u to retry")
}

// state reads the state of dir at now. An info that has disagreed with the
// same status for StaleAfter is dropped; wake is when a disagreement seen
// now expires (zero if there is none).
func (c *checker) state(dir string, now time.Time) (st svdir.State, wake time.Time, err error) {
	dfd, err := svdir.OpenDir(dir)
	if err != nil {
		return svdir.State{}, wake, err
	}
	defer unix.Close(dfd)
	st, err = svdir.ReadState(dfd, 2, 0)
	if err != nil || st.Info == nil || st.Current || st.Changing {
		delete(c.stale, dir)
		return st, wake, err
	}
	m, ok := c.stale[dir]
	info := string(st.Info.Encode())
	if !ok || m.rec != st.Status || m.info != info {
		m = mismatch{rec: st.Status, info: info, seen: now}
		c.stale[dir] = m
	}
	if now.Sub(m.seen) >= StaleAfter {
		st.Info, st.Current = nil, false
		return st, wake, nil
	}
	return st, m.seen.Add(StaleAfter), nil
}

// all reports whether every service is in the state now, and the earliest
// moment at which a disagreeing info expires (zero if none). A status that
// cannot be read counts as not reached; the next change is awaited.
func (c *checker) all(dirs []string) (reached bool, wake time.Time) {
	now := time.Now()
	reached = true
	earliest := func(w time.Time) {
		if !w.IsZero() && (wake.IsZero() || w.Before(wake)) {
			wake = w
		}
	}
	for _, dir := range dirs {
		st, w, err := c.state(dir, now)
		earliest(w)
		if err != nil || !Reached(c.mode, st) {
			reached = false
		}
		if err == nil {
			earliest(c.checkFailed(dir, st, now))
		}
	}
	return reached, wake
}

// timedOut warns about each service not in the state.
func (c *checker) timedOut(dirs []string, stderr io.Writer) {
	now := time.Now()
	for _, dir := range dirs {
		st, _, err := c.state(dir, now)
		if err == nil && Reached(c.mode, st) {
			continue
		}
		line := svstat.Status(dir, now)
		if err == nil && st.Status.Pid != 0 && c.mode == UpReady {
			line += ", not ready"
		}
		if err == nil && st.Status.Pid == 0 && c.mode == DownFinal {
			line += ", finishing"
		}
		if err == nil && st.Current && len(st.Info.WaitingFor) > 0 {
			line += ", waiting for " + strings.Join(st.Info.WaitingFor, ", ")
		}
		diag.Warn(stderr, prog, "timed out waiting for ", dir, ": ", line)
	}
}
