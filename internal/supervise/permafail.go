package supervise

// When a service stops for good: the opt-in files that keep a dead service
// down instead of restarting it.
//
//   - DIR/permafail, "N SECONDS [EVENTS]": s6-permafailon's test, made by
//     supervise itself. When the service has died N times within SECONDS,
//     counting only the deaths listed in EVENTS when it is given, supervise
//     gives up: the service stays down, wanted down, and is marked failed in
//     supervise/info until svc -u or svc -o. EVENTS is s6's comma-separated
//     list of exit codes (1), ranges of them (101-103) and signals (SIGTERM,
//     TERM, sigsegv, SIG11).
//   - ./finish exiting 125 (s6's rule): as svc -d from inside, the service
//     stays down; a svc -u or svc -o that came while finish ran wins.
//   - DIR/main, "exit" (or empty) or "restart": the service svscan follows
//     when it runs as PID 1 or with -o. With "exit" supervise runs it once:
//     when it ends while wanted up it stays down, wanted down, and svscan
//     ends the tree with its exit code.
//
// A failed mark is kept in supervise/info with the boot it was set in, so
// that a supervise started again in the same boot (after a crash, or by a
// new svscan) keeps the service down; a reboot forgets it.

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"svkit/internal/proc"
	"svkit/pkg/svdir"
)

// Files of the service directory for stopping for good.
const (
	filePermafail = "permafail" // "N SECONDS [EVENTS]": give up after N deaths in SECONDS
	fileMain      = "main"      // "exit" or "restart": the service that ends the tree
)

// finishDown is the exit code of ./finish that keeps the service down.
const finishDown = 125

// Bounds of a permafail line: a tally longer than maxPermafailDeaths would
// only cost memory, and a window beyond a year is a mistake.
const (
	maxPermafailDeaths  = 1000
	maxPermafailSeconds = 366 * 24 * 3600
)

// permafail is a parsed DIR/permafail line.
type permafail struct {
	deaths  int           // N: deaths that make the service fail
	seconds int           // SECONDS, as written
	window  time.Duration // SECONDS in supervise's schedule
	filter  bool          // only the listed events count
	codes   [4]uint64     // exit codes 0-255 that count, as a bit set
	signals uint64        // signals 1-64 that count: bit sig-1
}

var errPermafail = errors.New("expected N SECONDS [CODES-OR-SIGNALS]")

// parsePermafail parses "N SECONDS [EVENTS]".
func parsePermafail(line string) (permafail, error) {
	f := strings.Fields(line)
	if len(f) < 2 || len(f) > 3 {
		return permafail{}, errPermafail
	}
	n, err1 := strconv.Atoi(f[0])
	secs, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || n < 1 || n > maxPermafailDeaths || secs < 1 || secs > maxPermafailSeconds {
		return permafail{}, errPermafail
	}
	p := permafail{deaths: n, seconds: secs, window: time.Duration(secs) * second}
	if len(f) == 3 {
		p.filter = true
		for _, ev := range strings.Split(f[2], ",") {
			if !p.addEvent(ev) {
				return permafail{}, errors.New("bad event " + strconv.Quote(ev))
			}
		}
	}
	return p, nil
}

// addEvent adds one event of the list: an exit code, a range of them, or a
// signal given by name (with or without SIG) or as SIG and its number.
func (p *permafail) addEvent(ev string) bool {
	if ev == "" {
		return false
	}
	if c := ev[0]; c >= '0' && c <= '9' {
		lo, hi, isRange := strings.Cut(ev, "-")
		a, ok := exitCode(lo)
		b := a
		if isRange {
			b, ok = exitCode(hi)
			ok = ok && a <= b
		}
		if !ok {
			return false
		}
		for c := a; c <= b; c++ {
			p.codes[c/64] |= 1 << (c % 64)
		}
		return ok
	}
	sig := eventSignal(ev)
	if sig < 1 || sig > 64 {
		return false
	}
	p.signals |= 1 << (sig - 1)
	return true
}

// exitCode parses an exit code, 0 to 255, in decimal digits only.
func exitCode(s string) (int, bool) {
	if s == "" || len(s) > 3 || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	n, _ := strconv.Atoi(s)
	return n, n <= 255
}

// eventSignal returns the signal an event names: TERM, SIGTERM, sigterm or
// SIG15; 0 if none.
func eventSignal(ev string) int {
	name := strings.ToUpper(ev)
	rest := strings.TrimPrefix(name, "SIG")
	if rest != name && rest != "" && strings.Trim(rest, "0123456789") == "" {
		n, err := strconv.Atoi(rest)
		if err != nil {
			return 0
		}
		return n
	}
	return int(unix.SignalNum("SIG" + rest))
}

// counts reports whether a death with exit code code (-1 if none) and
// signal sig (0 if none) counts. Without a list every death counts; with
// one, a death whose cause is unknown (an adopted process) does not.
func (p *permafail) counts(code, sig int) bool {
	switch {
	case !p.filter:
		return true
	case sig > 0 && sig <= 64:
		return p.signals&(1<<(sig-1)) != 0
	case code >= 0 && code <= 255:
		return p.codes[code/64]&(1<<(code%64)) != 0
	}
	return false
}

// giveUp is what supervise knows of a service's deaths and of giving up on
// it.
type giveUp struct {
	tally        []time.Time // counted deaths within the window, oldest first
	failed       bool        // supervise gave up: the service stays down until svc -u
	failedReason string
	failedAt     time.Time
	badPermafail string // a permafail line already warned about
	badMain      string // a main line already warned about
}

// died decides, as the service goes down while wanted up, whether it
// stays down: DIR/main says exit, or DIR/permafail's count is reached. It
// changes the wanted state accordingly.
func (s *supervisor) died() {
	if s.want != svdir.WantUp || s.exit {
		return
	}
	if s.mainSaysExit() {
		s.want = svdir.WantDown
		s.statusDirty, s.extDirty = true, true
		return
	}
	p, ok := s.readPermafail()
	if !ok {
		s.tally = s.tally[:0]
		return
	}
	if !p.counts(s.exitCode, s.exitSignal) {
		return
	}
	now := s.diedAt
	keep := s.tally[:0]
	for _, t := range s.tally {
		if now.Sub(t) < p.window {
			keep = append(keep, t)
		}
	}
	s.tally = append(keep, now)
	if len(s.tally) > p.deaths {
		s.tally = s.tally[len(s.tally)-p.deaths:]
	}
	if len(s.tally) >= p.deaths {
		s.fail(p)
	}
}

// fail gives up on the service: it is wanted down and marked failed.
func (s *supervisor) fail(p permafail) {
	s.want = svdir.WantDown
	s.failed, s.failedAt = true, s.diedAt
	s.failedReason = "died " + count(len(s.tally), "time") + " in " + count(p.seconds, "second") +
		" (" + deathCause(s.exitCode, s.exitSignal) + ")"
	s.tally = s.tally[:0]
	s.statusDirty, s.extDirty = true, true
	s.warn("giving up on ", s.dir, ": ", s.failedReason, "; svc -u to start it again")
}

// count says "1 time" or "N times".
func count(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// deathCause says in words how the last run ended.
func deathCause(code, sig int) string {
	switch {
	case sig > 0:
		return "signal " + strings.TrimPrefix(unix.SignalName(unix.Signal(sig)), "SIG")
	case code >= 0:
		return "exit " + strconv.Itoa(code)
	}
	return "exit status unknown"
}

// clearFailed forgets the failed mark and the counted deaths: svc -u or
// svc -o asks for the service again.
func (s *supervisor) clearFailed() {
	s.tally = s.tally[:0]
	if s.failed {
		s.failed, s.failedReason, s.failedAt = false, "", time.Time{}
		s.extDirty = true
	}
}

// finishSaysDown acts on ./finish's exit status: 125 keeps the service
// down, unless svc -u or svc -o came while finish ran.
func (s *supervisor) finishSaysDown(ws unix.WaitStatus) {
	if !ws.Exited() || ws.ExitStatus() != finishDown || s.startAfterFinish {
		return
	}
	if s.want == svdir.WantDown {
		return
	}
	s.want = svdir.WantDown
	s.cancelRestart()
	s.announce()
}

// readPermafail reads DIR/permafail; ok is false when there is none or it
// cannot be parsed (which is said once for each bad content).
func (s *supervisor) readPermafail() (permafail, bool) {
	line := s.readConfig(filePermafail)
	if line == "" {
		return permafail{}, false
	}
	p, err := parsePermafail(line)
	if err != nil {
		if line != s.badPermafail {
			s.badPermafail = line
			s.warn("unable to parse ", s.dir, "/", filePermafail, ": ", err.Error(), ": ", line)
		}
		return permafail{}, false
	}
	return p, true
}

// mainSaysExit reports whether the service directory has a main file
// that says exit (or nothing). Another word is said once and taken as exit.
// Only a regular file counts: a log service's directory of the same name
// (multilog ./main, the daemontools convention) is not one.
func (s *supervisor) mainSaysExit() bool {
	var st unix.Stat_t
	if unix.Fstatat(s.dirfd, fileMain, &st, unix.AT_SYMLINK_NOFOLLOW) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return false
	}
	switch v := s.readConfig(fileMain); v {
	case "", "exit":
		return true
	case "restart":
		return false
	default:
		if v != s.badMain {
			s.badMain = v
			s.warn("unable to parse ", s.dir, "/", fileMain, ": expected exit or restart: ", v, "; using exit")
		}
		return true
	}
}

// restoreFailed takes back the failed mark a previous supervise of this
// directory left in supervise/info during this boot: the service stays
// down.
func (s *supervisor) restoreFailed() {
	in := svdir.ReadInfo(s.dirfd)
	if in == nil || !in.Failed || in.FailedBoot == "" || in.FailedBoot != proc.BootID() {
		return
	}
	s.failed, s.failedReason = true, in.FailedReason
	if in.FailedAt > 0 {
		s.failedAt = time.Unix(0, in.FailedAt)
	}
	s.exitCode, s.exitSignal = in.ExitCode, in.ExitSignal
	if in.Exited > 0 {
		s.diedAt = time.Unix(0, in.Exited)
	}
	s.want = svdir.WantDown
}

// failedInfo fills in the failed mark of supervise/info.
func (s *supervisor) failedInfo(in *svdir.Info) {
	if !s.failed {
		return
	}
	in.Failed, in.FailedReason, in.FailedAt, in.FailedBoot = true, s.failedReason, unixNano(s.failedAt), proc.BootID()
}
