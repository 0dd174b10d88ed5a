package supervise

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"svkit/internal/diag"
	"svkit/internal/needs"
	"svkit/pkg/svdir"
)

// Start order (README, "Start order: needs/"). While a link in DIR/needs
// or DIR/binds leads to something that is not ready (svdir.NeedReady),
// supervise holds ./run back: the service stays down, wanted up, and
// supervise/info names what it waits for. It waits on inotify watches of
// the needed services' supervise/ directories (and of the directories
// where a missing need or a pid file would appear), with one deadline for
// the one-second rule and needs-timeout; it never polls. A need that
// leads back to the service itself is ignored with a warning naming the
// cycle. Once the service runs, a link in binds/ whose service's status
// says down stops it; it starts again once its needs are ready.

// needsMask is what is watched in each directory the needs depend on:
// entries created, renamed or removed (status and info are renamed into
// place, supervise/ comes and goes; a new supervise writes info after it
// opened supervise/ok). Opens and closes are not watched: every reader of
// a status, and every look at supervise/ok, would wake every waiter.
const needsMask = unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_DELETE |
	unix.IN_DELETE_SELF | unix.IN_MOVE_SELF

// pidDirMask adds pid files written in place.
const pidDirMask = needsMask | unix.IN_CLOSE_WRITE

// needing is what supervise tracks of the service's needs.
type needing struct {
	needWait    bool              // ./run is held back for needs
	needSince   time.Time         // when this wait began (needs-timeout)
	waitingFor  []string          // the links not ready, by name
	needNames   []string          // the links read at the last look
	needCycles  map[string]string // links leading back to the service, with the cycle in words
	needWarned  map[string]bool   // problems said during this wait
	cycleWarned map[string]bool   // cycles said by this supervise
	binds       []svdir.Need      // bound needs of the running service
	bindStopped bool              // a bound need went down: the service is being stopped
	onceOK      bool              // down after an svc -o run that exited 0
	protocol    bool              // readiness comes from a protocol, not from being up

	needTimer timer         // the one-second rule or needs-timeout
	needsC    chan struct{} // something watched changed
	needsFD   int           // inotify instance, -1 until needed
	needsFile *os.File      // the same, as the reader's file
	needWDs   map[int]bool  // its watches
}

// setupNeeds prepares the needs watcher's state and takes over what a
// predecessor recorded: a once-run that exited 0 stays one.
func (s *supervisor) setupNeeds() {
	s.needsC = make(chan struct{}, 1)
	s.needsFD = -1
	s.needWDs = map[int]bool{}
	s.cycleWarned = map[string]bool{}
	if s.phase != phaseDown {
		return
	}
	if st, err := svdir.ReadState(s.dirfd, 3, 0); err == nil && st.Status.Pid == 0 && st.Current && st.Info.OnceOK {
		s.onceOK = true
	}
}

// holdForNeeds reports whether ./run must wait for its needs, and if so
// sets up the wait.
func (s *supervisor) holdForNeeds() bool {
	list, err := svdir.ReadNeeds(s.here)
	if err != nil {
		s.warnNeedOnce("read", "unable to read ", s.dir, "/", svdir.NeedsDir, ": ", diag.Str(err))
	}
	list = s.withoutCycles(list)
	if len(list) == 0 {
		s.endNeedsWait()
		s.binds = nil
		return false
	}
	s.watchNeeds(list)
	now := clock()
	var missing []string
	var wake time.Time
	if s.needsFD < 0 {
		// Without inotify (warned of), look again each second.
		wake = now.Add(second)
	}
	for _, n := range list {
		ready, w := svdir.NeedReady(n, now)
		if ready {
			continue
		}
		missing = append(missing, n.Name)
		if p := n.Problem(); p != "" {
			s.warnNeedOnce("need "+n.Name, s.dir, "/", needSub(n), "/", n.Name, " ", p, "; waiting for it")
		}
		wake = earlier(wake, w)
	}
	if len(missing) == 0 {
		s.endNeedsWait()
		s.binds = bound(list)
		return false
	}
	first := !s.needWait
	if first {
		s.needWait, s.needSince = true, now
	}
	if !slices.Equal(s.waitingFor, missing) {
		s.waitingFor = missing
		s.extDirty = true
	}
	if d := s.needsTimeout(); d > 0 {
		due := s.needSince.Add(d)
		if !now.Before(due) {
			s.needsTimedOut(d)
			return true
		}
		wake = earlier(wake, due)
	}
	if wake.IsZero() {
		s.needTimer.stop()
	} else {
		s.needTimer.setAt(wake)
	}
	if first {
		// Wanted up, and down until the needs are ready: as 0.76
		// shows a service whose start is due.
		s.announce()
	}
	return true
}

// needSub names the directory a need's link is in.
func needSub(n svdir.Need) string {
	if n.Bind {
		return svdir.BindsDir
	}
	return svdir.NeedsDir
}

// bound returns the needs in binds/.
func bound(list []svdir.Need) []svdir.Need {
	var out []svdir.Need
	for _, n := range list {
		if n.Bind {
			out = append(out, n)
		}
	}
	return out
}

// earlier returns the earlier of two moments, a zero one counting as none.
func earlier(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// withoutCycles drops the needs that lead back to the service, saying
// each cycle once. The graph is walked again only when the set of links
// changed since the last look.
func (s *supervisor) withoutCycles(list []svdir.Need) []svdir.Need {
	names := make([]string, len(list))
	for i, n := range list {
		names[i] = n.Name
	}
	if s.needCycles == nil || !slices.Equal(names, s.needNames) {
		s.needNames = names
		s.needCycles = needs.Cycles(s.here, s.name())
		if s.needCycles == nil {
			s.needCycles = map[string]string{}
		}
	}
	out := list[:0:0]
	for _, n := range list {
		c, ok := s.needCycles[n.Name]
		if !ok {
			out = append(out, n)
			continue
		}
		if !s.cycleWarned[c] {
			s.cycleWarned[c] = true
			s.warn("needs cycle: ", c)
		}
	}
	return out
}

// name is the service directory's own name, as cycles are said.
func (s *supervisor) name() string {
	n := filepath.Base(filepath.Clean(s.dir))
	if n == "." || n == "/" {
		if real, err := os.Readlink(s.here); err == nil {
			n = filepath.Base(real)
		}
	}
	return n
}

// warnNeedOnce warns, once in a wait, of a problem with the needs.
func (s *supervisor) warnNeedOnce(key string, parts ...string) {
	if s.needWarned == nil {
		s.needWarned = map[string]bool{}
	}
	if s.needWarned[key] {
		return
	}
	s.needWarned[key] = true
	s.warn(parts...)
}

// endNeedsWait ends a wait for needs.
func (s *supervisor) endNeedsWait() {
	if s.needWait || s.waitingFor != nil {
		s.extDirty = true
	}
	s.needWait, s.waitingFor, s.needWarned = false, nil, nil
	s.needTimer.stop()
}

// needsTimeout returns the seconds of DIR/needs-timeout, 0 if none.
func (s *supervisor) needsTimeout() time.Duration {
	v := s.readConfig(svdir.NeedsTimeoutFile)
	if v == "" {
		return 0
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n == 0 {
		s.warnNeedOnce("timeout", "unable to parse ", s.dir, "/", svdir.NeedsTimeoutFile, ": ", v)
		return 0
	}
	return time.Duration(n) * second
}

// needsTimedOut records the wait that took longer than needs-timeout as a
// failed start naming the needs not ready, and waits again after the
// usual delay: a second, or the back-off schedule.
func (s *supervisor) needsTimedOut(d time.Duration) {
	cause := "needs not ready after " + strconv.FormatInt(int64(d/second), 10) + " seconds: " + strings.Join(s.waitingFor, ", ")
	now := s.countFailure(cause)
	if s.sameFailures <= sameFailuresSaid {
		s.warn(s.dir, ": ", cause)
	}
	s.endNeedsWait()
	delay := restartDelay
	if on, limit, _ := s.backoffPolicy(); on {
		s.deaths++
		delay = backoffDelay(s.deaths, limit)
	}
	s.scheduleStart(now.Add(delay))
	s.announce()
}

// needsChanged handles a change of what the needs depend on, or the
// needs deadline: a held start is tried again, a bound need that went
// down stops the service.
func (s *supervisor) needsChanged() {
	if s.needWait {
		if s.idle() && (s.want == svdir.WantUp || s.want == svdir.WantOnce) && !s.exit && !s.restart.pending() {
			s.start()
		} else {
			s.endNeedsWait()
		}
	}
	if s.main != nil {
		s.checkBinds()
	}
	if !s.needWait && (s.main == nil || len(s.binds) == 0) {
		s.unwatchNeeds()
	}
}

// startedNeeds follows a successful start: the watches stay only for the
// bound needs.
func (s *supervisor) startedNeeds() {
	s.bindStopped = false
	s.onceOK = false
	if len(s.binds) == 0 {
		s.unwatchNeeds()
	}
}

// checkBinds stops the service when a bound need's status says it went
// down (not when only its supervise is gone: status still names the
// process then), keeping it wanted up: its next start waits for the need.
func (s *supervisor) checkBinds() {
	if s.bindStopped || s.want != svdir.WantUp {
		return
	}
	now := clock()
	for _, b := range s.binds {
		if b.Kind != svdir.NeedService || !svdir.StatusDown(b.Path) {
			continue
		}
		if ready, _ := svdir.NeedReady(b, now); ready {
			continue // a once-run that exited 0
		}
		s.bindStopped = true
		s.warn("stopping ", s.dir, ": ", b.Name, " went down")
		s.stopMain()
		s.extDirty = true
		return
	}
}

// watchNeeds watches what the needs' readiness depends on: each needed
// service directory and its supervise/, the directory of each pid file,
// the directory a missing need would appear in, and needs/ and binds/.
func (s *supervisor) watchNeeds(list []svdir.Need) {
	if s.needsFD < 0 && !s.openNeedsWatcher() {
		return
	}
	s.addNeedsWatch(s.here + "/" + svdir.NeedsDir)
	s.addNeedsWatch(s.here + "/" + svdir.BindsDir)
	for _, n := range list {
		switch n.Kind {
		case svdir.NeedService:
			s.addNeedsWatch(n.Path)
			s.addNeedsWatch(n.Path + "/" + svdir.Dir)
		case svdir.NeedPidFile:
			if real, err := filepath.EvalSymlinks(n.Path); err == nil {
				s.addWatch(filepath.Dir(real), pidDirMask)
			}
		default:
			if t, err := os.Readlink(n.Path); err == nil {
				// Joined without lexical cleaning: the kernel resolves
				// ".." from where the link is (n.Path starts at a
				// /proc/self/fd link, which cleaning would cut).
				if !filepath.IsAbs(t) {
					t = n.Path[:strings.LastIndexByte(n.Path, '/')+1] + t
				}
				if i := strings.LastIndexByte(t, '/'); i > 0 {
					s.addNeedsWatch(t[:i])
				}
			}
		}
	}
}

// addNeedsWatch adds a watch on dir, if it is there.
func (s *supervisor) addNeedsWatch(dir string) { s.addWatch(dir, needsMask) }

// addWatch adds a watch on dir for the events of mask, if dir is there.
func (s *supervisor) addWatch(dir string, mask uint32) {
	wd, err := unix.InotifyAddWatch(s.needsFD, dir, mask|unix.IN_ONLYDIR)
	if err == nil {
		s.needWDs[wd] = true
	}
}

// unwatchNeeds removes every watch.
func (s *supervisor) unwatchNeeds() {
	for wd := range s.needWDs {
		unix.InotifyRmWatch(s.needsFD, uint32(wd))
		delete(s.needWDs, wd)
	}
}

// openNeedsWatcher creates the inotify instance and its reader, which
// reports on needsC whenever events came; the event loop then looks
// again. The reader waits in the runtime's poller.
func (s *supervisor) openNeedsWatcher() bool {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		s.warnNeedOnce("inotify", "unable to watch the needs of ", s.dir, ": ", diag.Str(err))
		return false
	}
	s.needsFD = fd
	f := os.NewFile(uintptr(fd), "needs-inotify")
	s.needsFile = f
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := f.Read(buf); err != nil {
				return
			}
			select {
			case s.needsC <- struct{}{}:
			default:
			}
		}
	}()
	return true
}
