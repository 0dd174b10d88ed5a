package needs

import (
	"math"
	"time"

	"golang.org/x/sys/unix"

	"svkit/internal/eintr"
	"svkit/pkg/svdir"
)

// watchMask is what Wait watches in DIR and DIR/supervise: files renamed
// into place (status, info; a new supervise writes info after it opened
// supervise/ok) and entries coming and going. Not opens and closes: every
// look at status or supervise/ok would wake every waiter.
const watchMask = unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_DELETE |
	unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR

// Cond reports whether dir is where a wait wants it at now, and if not
// only because of a deadline, when to look again (zero: at the next
// change).
type Cond func(dir string, now time.Time) (bool, time.Time)

// Ready is the Cond of a service ready for those that need it
// (svdir.NeedReady).
func Ready(dir string, now time.Time) (bool, time.Time) {
	return svdir.NeedReady(svdir.Need{Kind: svdir.NeedService, Path: dir}, now)
}

// Down is the Cond of a service whose status says down.
func Down(dir string, _ time.Time) (bool, time.Time) {
	r, err := svdir.ReadStatusOf(dir)
	return err == nil && r.Pid == 0, time.Time{}
}

// Wait waits until cond holds for every dir at once. It watches each DIR
// and DIR/supervise with inotify and looks again at each change, or at
// the moment cond named; it never polls.
func Wait(dirs []string, cond Cond) error {
	ifd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return err
	}
	defer unix.Close(ifd)
	buf := make([]byte, 4096)
	for {
		// Watches first, then the look: no change falls between.
		for _, d := range dirs {
			unix.InotifyAddWatch(ifd, d, watchMask)
			unix.InotifyAddWatch(ifd, d+"/"+svdir.Dir, watchMask)
		}
		now := time.Now()
		all := true
		var wake time.Time
		for _, d := range dirs {
			ok, w := cond(d, now)
			if !ok {
				all = false
				if !w.IsZero() && (wake.IsZero() || w.Before(wake)) {
					wake = w
				}
			}
		}
		if all {
			return nil
		}
		ms := -1
		if !wake.IsZero() {
			d := time.Until(wake)
			ms = int(min(max((d+time.Millisecond-1)/time.Millisecond, 0), math.MaxInt32))
		}
		fds := []unix.PollFd{{Fd: int32(ifd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, ms); err != nil && err != unix.EINTR {
			return err
		}
		for {
			if _, err := eintr.Retry(func() (int, error) { return unix.Read(ifd, buf) }); err != nil {
				break
			}
		}
	}
}
