package svlog

import (
	"context"
	"errors"
	"io"
	"os"
	"sort"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"svkit/internal/diag"
	"svkit/internal/inotify"
)

// Window is how long Follow holds a line back so that lines of several
// services arriving close together come out in time order. With Batch, a
// line is shown at most 100 ms after it reached its file.
const Window = 80 * time.Millisecond

// Batch is the shortest time between two reads of the inotify queue: the
// changes within it are read together, so a busy log costs one read per
// Batch rather than one per line.
const Batch = 20 * time.Millisecond

// rescan is how often Follow looks at every file even without an inotify
// event (a directory inotify cannot watch, an event queue overflow).
const rescan = time.Second

// Follower reads on from the end of one service's log directory across
// rotations: it keeps current open after multilog renames it, drains it, and
// then reads the new current from its start; a current that shrank is read
// again from its start.
type Follower struct {
	Name, Dir string
	f         *os.File
	ino       uint64
	off       int64
	sp        Splitter
	gone      bool // current was missing at the last poll
}

// NewFollower follows dir from t's end (t.Current is taken over).
func NewFollower(name, dir string, t *Tail) (*Follower, error) {
	fl := &Follower{Name: name, Dir: dir, f: t.Current, off: t.Offset}
	ino, _, err := inode(t.Current)
	if err != nil {
		return nil, &ReadError{dir + "/current", "read", err}
	}
	fl.ino = ino
	return fl, nil
}

// Close closes the open current.
func (fl *Follower) Close() {
	if fl.f != nil {
		fl.f.Close()
		fl.f = nil
	}
}

// Poll reads what was appended since the last poll, switching to a new
// current after a rotation, and calls emit for each complete line. warn
// receives notes such as a truncation.
func (fl *Follower) Poll(emit func(Line), warn func(string)) error {
	if err := fl.drain(emit, warn); err != nil {
		return err
	}
	if afterDrain != nil {
		afterDrain()
	}
	var st unix.Stat_t
	err := unix.Stat(fl.Dir+"/current", &st)
	if err == unix.ENOENT {
		fl.gone = true
		return nil // between multilog's rename and its new current
	}
	if err != nil {
		return &ReadError{fl.Dir + "/current", "open", err}
	}
	if st.Ino == fl.ino {
		return nil
	}
	// A rotation: read the old current to its end (it may have grown since
	// the drain above, before it was renamed); a line it left unfinished
	// is shown as it is.
	if err := fl.drain(emit, warn); err != nil {
		return err
	}
	if fl.sp.Pending() > 0 {
		fl.sp.Write([]byte{'\n'}, fl.emitter(emit))
	}
	f, err := os.Open(fl.Dir + "/current")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return &ReadError{fl.Dir + "/current", "open", err}
	}
	ino, _, err := inode(f)
	if err != nil {
		f.Close()
		return &ReadError{fl.Dir + "/current", "read", err}
	}
	fl.f.Close()
	fl.f, fl.ino, fl.off, fl.gone = f, ino, 0, false
	return fl.drain(emit, warn)
}

// afterDrain, when set by a test, runs between Poll's first drain and its
// look at the directory: where a logger may write and rotate.
var afterDrain func()

// emitter returns the Splitter callback that makes Lines stamped, when
// unstamped, with current's modification time.
func (fl *Follower) emitter(emit func(Line)) func([]byte, bool) {
	var mtime time.Time
	return func(raw []byte, cut bool) {
		if mtime.IsZero() {
			if st, err := fl.f.Stat(); err == nil {
				mtime = st.ModTime()
			} else {
				mtime = time.Now()
			}
		}
		emit(makeLine(fl.Name, raw, cut, labelOf(mtime)))
	}
}

// drain reads the open file from the last offset to its end.
func (fl *Follower) drain(emit func(Line), warn func(string)) error {
	_, size, err := inode(fl.f)
	if err != nil {
		return &ReadError{fl.Dir + "/current", "read", err}
	}
	if size < fl.off {
		warn(fl.Name + ": " + fl.Dir + "/current was truncated; reading it again from its start")
		fl.off = 0
		fl.sp.Reset()
	}
	if size == fl.off {
		return nil
	}
	out := fl.emitter(emit)
	bp := bufs.Get().(*[]byte)
	defer bufs.Put(bp)
	buf := *bp
	for {
		n, err := fl.f.ReadAt(buf, fl.off)
		if n > 0 {
			fl.off += int64(n)
			fl.sp.Write(buf[:n], out)
		}
		if err == io.EOF || n == 0 {
			return nil
		}
		if err != nil {
			return &ReadError{fl.Dir + "/current", "read", err}
		}
	}
}

// bufs holds the read buffers of drain, so that following many files
// does not allocate one per read.
var bufs = sync.Pool{New: func() any { b := make([]byte, chunk); return &b }}

// merger holds followed lines back for at most a window, to put lines of
// different services that arrive close together in time order.
type merger struct {
	window time.Duration
	buf    []held
	seq    uint64
}

type held struct {
	l   Line
	at  time.Time
	seq uint64
}

func (m *merger) add(l Line, now time.Time) {
	m.seq++
	m.buf = append(m.buf, held{l, now, m.seq})
}

// due returns, in time order, every line held for the window and every
// line no later than the latest of those, and keeps the rest.
func (m *merger) due(now time.Time) []Line {
	var cutoff *Line
	for i := range m.buf {
		h := &m.buf[i]
		if now.Sub(h.at) >= m.window && (cutoff == nil || cutoff.Before(&h.l)) {
			cutoff = &h.l
		}
	}
	if cutoff == nil {
		return nil
	}
	c := *cutoff
	var out []held
	keep := m.buf[:0]
	for _, h := range m.buf {
		if now.Sub(h.at) >= m.window || !c.Before(&h.l) {
			out = append(out, h)
		} else {
			keep = append(keep, h)
		}
	}
	m.buf = keep
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].l.Before(&out[j].l) {
			return true
		}
		if out[j].l.Before(&out[i].l) {
			return false
		}
		return out[i].seq < out[j].seq
	})
	lines := make([]Line, len(out))
	for i := range out {
		lines[i] = out[i].l
	}
	return lines
}

// wait returns how long until the oldest held line is due, or -1.
func (m *merger) wait(now time.Time) time.Duration {
	if len(m.buf) == 0 {
		return -1
	}
	oldest := m.buf[0].at
	for _, h := range m.buf[1:] {
		if h.at.Before(oldest) {
			oldest = h.at
		}
	}
	return max(0, m.window-now.Sub(oldest))
}

// Follow reads on from every follower until ctx is done, and calls emit
// with batches of lines in time order, each line held back at most window.
// A follower that fails is reported through warn once and dropped. Follow
// returns ctx's error, or an error when no follower is left.
func Follow(ctx context.Context, fls []*Follower, window time.Duration, emit func([]Line), warn func(string)) error {
	defer func() {
		for _, fl := range fls {
			fl.Close()
		}
	}()
	live := make(map[*Follower]bool, len(fls))
	for _, fl := range fls {
		live[fl] = true
	}
	m := &merger{window: window}
	events, wds, stop := watch(fls, warn)
	defer stop()
	poll := func(fl *Follower) {
		if !live[fl] {
			return
		}
		now := time.Now()
		if err := fl.Poll(func(l Line) { m.add(l, now) }, warn); err != nil {
			warn(fl.Name + ": " + err.Error() + "; no longer following it")
			live[fl] = false
			fl.Close()
		}
	}
	flush := func() {
		if ls := m.due(time.Now()); len(ls) > 0 {
			emit(ls)
		}
	}
	for _, fl := range fls {
		poll(fl) // what was written between the tail and the watch
	}
	tick := time.NewTicker(rescan)
	defer tick.Stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if len(m.buf) == 0 && !anyLive(live) {
			return errors.New("no log left to follow")
		}
		flush()
		timer.Reset(time.Hour)
		if d := m.wait(time.Now()); d >= 0 {
			timer.Reset(d)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case wdset, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			for _, fl := range fls {
				if wdset.all || wdset.wds[wds[fl]] {
					poll(fl)
				}
			}
		case <-tick.C:
			for _, fl := range fls {
				poll(fl)
			}
		case <-timer.C:
		}
	}
}

func anyLive(live map[*Follower]bool) bool {
	for _, ok := range live {
		if ok {
			return true
		}
	}
	return false
}

// wdSet is the watches one read of the inotify descriptor named; all is
// set when the queue overflowed.
type wdSet struct {
	wds map[int32]bool
	all bool
}

// watch puts an inotify watch on every follower's directory and returns a
// channel of the watches that saw changes. Without inotify the channel is
// nil and Follow relies on its rescan.
func watch(fls []*Follower, warn func(string)) (<-chan wdSet, map[*Follower]int32, func()) {
	wds := make(map[*Follower]int32, len(fls))
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		warn("unable to use inotify: " + diag.Str(err) + "; looking every second")
		return nil, wds, func() {}
	}
	const mask = unix.IN_MODIFY | unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_CREATE | unix.IN_DELETE | unix.IN_ATTRIB
	for _, fl := range fls {
		wd, err := unix.InotifyAddWatch(fd, fl.Dir, mask)
		if err != nil {
			warn("unable to watch " + fl.Dir + ": " + diag.Str(err) + "; looking every second")
			wds[fl] = -1
			continue
		}
		wds[fl] = int32(wd)
	}
	f := os.NewFile(uintptr(fd), "inotify")
	ch := make(chan wdSet, 1)
	go func() {
		defer close(ch)
		buf := make([]byte, 64<<10)
		var evs []inotify.Event
		for {
			n, err := f.Read(buf)
			if err != nil {
				return
			}
			evs = inotify.ParseEvents(evs[:0], buf[:n])
			s := wdSet{wds: make(map[int32]bool)}
			for _, e := range evs {
				if e.Mask&unix.IN_Q_OVERFLOW != 0 {
					s.all = true
				}
				s.wds[e.WD] = true
			}
			ch <- s
			time.Sleep(Batch)
		}
	}()
	return ch, wds, func() {
		f.Close()
		for range ch {
		}
	}
}
