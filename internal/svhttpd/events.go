package svhttpd

// The event hub: inotify on the scan directory, each service directory,
// its log directory and both supervise/ directories tells which services
// may have changed; the hub reads them again and, when a service's object
// differs from the last one it saw, records a "state" event (a service that
// went away: "removed") in a bounded ring and wakes every subscriber
// without ever waiting for one. A subscriber is only a position in the
// ring and a wake-up channel of one slot, so an idle client costs little;
// one that falls behind the ring's oldest event is dropped, and reconnects
// with Last-Event-ID to get a fresh snapshot.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"svkit/internal/diag"
	"svkit/internal/inotify"
)

// Event is one change, as sent to SSE clients.
type Event struct {
	Seq  uint64
	Kind string // "state" or "removed"
	Data []byte // one line of JSON
}

// Inotify masks: entries coming and going in the scan directory and the
// service directories (supervise, log, down); status and info replaced in
// supervise/, and supervise/lock closed after writing: supervise opens it
// for writing and holds it until it exits (nothing else writes it).
// Reads are not watched (IN_ACCESS): svhttpd's own reads of every status
// would wake it for nothing.
const (
	entryMask     = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_ATTRIB | unix.IN_ONLYDIR
	superviseMask = unix.IN_MOVED_TO | unix.IN_CLOSE_WRITE | unix.IN_CREATE | unix.IN_DELETE | unix.IN_ONLYDIR
)

// Defaults of the hub.
const (
	ringSize  = 4096 // events kept for Last-Event-ID
	subBuffer = 512  // events queued for one subscriber before it is dropped
	eventsBuf = 64 * (unix.SizeofInotifyEvent + unix.NAME_MAX + 1)
)

// Hub watches a tree and fans out its changes.
type Hub struct {
	tree   *Tree
	start  int64 // svhttpd's start, Unix ns: the epoch of event ids
	stderr io.Writer

	mu    sync.Mutex
	seq   uint64
	ring  []Event // the last ringSize events, oldest first
	last  map[string][]byte
	subs  map[*Sub]struct{}
	tick  chan struct{} // closed and replaced after each batch of changes
	wds   map[int32][]watchOf
	ifd   int
	inf   *os.File
	names map[string][]int32
}

// watchOf is what one watch descriptor stands for.
type watchOf struct {
	name string // the service ("" for the scan directory)
	kind byte   // 'T' tree, 'S' service dir, 's' its supervise/, 'L' log dir, 'l' its supervise/
}

// Sub is one subscriber: C is signalled after new events are recorded;
// next is the sequence number of the next event it is to get.
type Sub struct {
	C    chan struct{}
	next uint64
}

// NewHub starts watching tree. The first reading of every service is
// taken before it returns.
func NewHub(tree *Tree, stderr io.Writer) (*Hub, error) {
	ifd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, err
	}
	h := &Hub{tree: tree, start: time.Now().UnixNano(), stderr: stderr,
		last: map[string][]byte{}, subs: map[*Sub]struct{}{}, tick: make(chan struct{}),
		wds: map[int32][]watchOf{}, ifd: ifd, names: map[string][]int32{}}
	wd, err := unix.InotifyAddWatch(ifd, tree.Dir, entryMask)
	if err != nil {
		unix.Close(ifd)
		return nil, err
	}
	h.wds[int32(wd)] = []watchOf{{"", 'T'}}
	h.inf = os.NewFile(uintptr(ifd), "inotify")
	h.mu.Lock()
	h.resyncLocked()
	h.mu.Unlock()
	go h.run()
	return h, nil
}

// run reads inotify events until the descriptor is closed.
func (h *Hub) run() {
	buf := make([]byte, eventsBuf)
	var evs []inotify.Event
	for {
		n, err := h.inf.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				diag.Warn(h.stderr, prog, "unable to read inotify events: ", diag.Str(err))
			}
			return
		}
		evs = inotify.ParseEvents(evs[:0], buf[:n])
		h.handle(evs)
	}
}

// Close stops the hub.
func (h *Hub) Close() { h.inf.Close() }

// handle works out which services an inotify batch concerns and reads them
// again.
func (h *Hub) handle(evs []inotify.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	all := false
	names := map[string]bool{}
	for _, ev := range evs {
		if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
			all = true
			continue
		}
		for _, w := range h.wds[ev.WD] {
			if ev.Mask&unix.IN_IGNORED != 0 {
				names[w.name] = true
				continue
			}
			switch w.kind {
			case 'T':
				if ValidName(ev.Name) {
					names[ev.Name] = true
				}
			case 'S', 'L':
				if ev.Name == "supervise" || ev.Name == "log" || ev.Name == "down" {
					names[w.name] = true
				}
			case 's', 'l':
				if relevant(ev) {
					names[w.name] = true
				}
			}
		}
		if ev.Mask&unix.IN_IGNORED != 0 {
			h.forgetLocked(ev.WD)
		}
	}
	if all {
		h.resyncLocked()
	} else {
		for n := range names {
			if n == "" {
				h.resyncLocked()
				break
			}
			h.refreshLocked(n)
		}
	}
	close(h.tick)
	h.tick = make(chan struct{})
}

// relevant reports whether an event in a supervise/ directory may change
// the service's object: status or info replaced, written or removed, the
// lock closed by an exiting supervise, ok made or removed. Reads (svhttpd's
// own among them) and svhttpd's opens of ok and control are not.
func relevant(ev inotify.Event) bool {
	switch ev.Name {
	case "status", "info":
		return ev.Mask&(unix.IN_MOVED_TO|unix.IN_CLOSE_WRITE|unix.IN_CREATE|unix.IN_DELETE) != 0
	case "lock":
		return ev.Mask&unix.IN_CLOSE_WRITE != 0
	case "ok":
		return ev.Mask&(unix.IN_CREATE|unix.IN_DELETE) != 0
	}
	return false
}

// resyncLocked reads the scan directory and every service again.
func (h *Hub) resyncLocked() {
	names, err := h.tree.Names()
	if err != nil {
		diag.Warn(h.stderr, prog, "unable to read directory ", h.tree.Dir, ": ", diag.Str(err))
		return
	}
	seen := map[string]bool{}
	for _, n := range names {
		seen[n] = true
		h.refreshLocked(n)
	}
	for n := range h.last {
		if !seen[n] {
			h.refreshLocked(n)
		}
	}
}

// refreshLocked reads one service again, (re)adds its watches, and records
// an event if its object changed or it went away.
func (h *Hub) refreshLocked(name string) {
	dir := h.tree.Lookup(name)
	if dir == "" {
		h.unwatchLocked(name)
		if _, ok := h.last[name]; ok {
			delete(h.last, name)
			b, _ := json.Marshal(map[string]string{"name": name})
			h.emitLocked("removed", b)
		}
		return
	}
	h.watchLocked(name, dir)
	b, err := json.Marshal(Read(name, dir).Value())
	if err != nil {
		return
	}
	if old, ok := h.last[name]; ok && bytes.Equal(old, b) {
		return
	}
	h.last[name] = b
	h.emitLocked("state", b)
}

// watchLocked adds the watches of one service; adding one that exists
// changes nothing. Directories that are not there yet are watched once
// their parent reports them.
func (h *Hub) watchLocked(name, dir string) {
	add := func(path string, mask uint32, kind byte) {
		wd, err := unix.InotifyAddWatch(h.ifd, path, mask)
		if err != nil {
			return
		}
		w := int32(wd)
		for _, o := range h.wds[w] {
			if o.name == name && o.kind == kind {
				return
			}
		}
		h.wds[w] = append(h.wds[w], watchOf{name, kind})
		h.names[name] = append(h.names[name], w)
	}
	add(dir, entryMask, 'S')
	add(dir+"/supervise", superviseMask, 's')
	add(dir+"/log", entryMask, 'L')
	add(dir+"/log/supervise", superviseMask, 'l')
}

// forgetLocked forgets a watch the kernel removed (its directory went).
func (h *Hub) forgetLocked(wd int32) {
	for _, o := range h.wds[wd] {
		kept := h.names[o.name][:0]
		for _, w := range h.names[o.name] {
			if w != wd {
				kept = append(kept, w)
			}
		}
		h.names[o.name] = kept
	}
	delete(h.wds, wd)
}

// unwatchLocked forgets the watches of a service that went away; a watch
// another service shares (two names for one directory) stays.
func (h *Hub) unwatchLocked(name string) {
	for _, w := range h.names[name] {
		kept := h.wds[w][:0]
		for _, o := range h.wds[w] {
			if o.name != name {
				kept = append(kept, o)
			}
		}
		if len(kept) == 0 {
			delete(h.wds, w)
			unix.InotifyRmWatch(h.ifd, uint32(w))
		} else {
			h.wds[w] = kept
		}
	}
	delete(h.names, name)
}

// emitLocked records an event and wakes every subscriber.
func (h *Hub) emitLocked(kind string, data []byte) {
	h.seq++
	ev := Event{Seq: h.seq, Kind: kind, Data: data}
	if len(h.ring) >= ringSize {
		copy(h.ring, h.ring[1:])
		h.ring = h.ring[:len(h.ring)-1]
	}
	h.ring = append(h.ring, ev)
	for s := range h.subs {
		select {
		case s.C <- struct{}{}:
		default: // already woken
		}
	}
}

// Next returns the events s has not had yet, at most max, and moves it
// past them. ok is false when s fell behind: events it has not had left
// the ring.
func (h *Hub) Next(s *Sub, max int) (evs []Event, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.next > h.seq {
		return nil, true
	}
	oldest := h.seq - uint64(len(h.ring)) + 1 // the seq of ring[0]
	if s.next < oldest {
		return nil, false
	}
	i := int(s.next - oldest)
	n := min(len(h.ring)-i, max)
	evs = append(evs, h.ring[i:i+n]...)
	s.next += uint64(n)
	return evs, true
}

// ID is the SSE id of event seq: svhttpd's start and the sequence number,
// so an id from an earlier svhttpd is never taken for one of this one.
func (h *Hub) ID(seq uint64) string {
	return strconv.FormatInt(h.start, 10) + "-" + strconv.FormatUint(seq, 10)
}

// parseID returns the sequence number of an id of this svhttpd.
func (h *Hub) parseID(id string) (uint64, bool) {
	start, seq, ok := strings.Cut(id, "-")
	if !ok || start != strconv.FormatInt(h.start, 10) {
		return 0, false
	}
	n, err := strconv.ParseUint(seq, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// Subscribe registers a subscriber. When lastID names an event this hub
// still holds, or the one just before its oldest, the subscriber gets what
// came after it (from Next), and snapshot is nil; otherwise snapshot is the
// JSON array of every service as of event seq, and the subscriber gets
// what comes after that.
func (h *Hub) Subscribe(lastID string) (s *Sub, snapshot []byte, seq uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s = &Sub{C: make(chan struct{}, 1), next: h.seq + 1}
	h.subs[s] = struct{}{}
	if n, ok := h.parseID(lastID); ok && n <= h.seq && n >= h.seq-uint64(len(h.ring)) {
		s.next = n + 1
		if s.next <= h.seq {
			s.C <- struct{}{}
		}
		return s, nil, h.seq
	}
	return s, h.snapshotLocked(), h.seq
}

// snapshotLocked is the JSON array of every service as the hub last saw it.
func (h *Hub) snapshotLocked() []byte {
	names := make([]string, 0, len(h.last))
	for n := range h.last {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	b.WriteByte('[')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(h.last[n])
	}
	b.WriteByte(']')
	return b.Bytes()
}

// Unsubscribe removes a subscriber.
func (h *Hub) Unsubscribe(s *Sub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, s)
}

// Tick returns a channel closed after the next batch of changes is read.
func (h *Hub) Tick() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.tick
}
