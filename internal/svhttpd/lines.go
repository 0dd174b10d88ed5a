package svhttpd

// Log lines: GET /v1/services/NAME/lines?n=N[&follow=1] and
// GET /v1/lines?n=N[&follow=1], the lines svlog shows, read with svlog's
// code (Find, LastLines, Merge, Follow), as a JSON array or, with
// follow=1, one SSE "line" event each.
//
// A caller gets a service's lines if and only if it could read the log
// itself: root directly; anyone else through the helper, run with the
// caller's credentials as "svhttpd-send -r LOGDIR", which opens
// LOGDIR/current for reading (and reads nothing), prints its device and
// inode, and tells whether the caller may also write LOGDIR. svhttpd then
// reads the lines itself, and only from the current it checked (the same
// inode, else it checks again). A caller who may write the log directory
// is refused: it could put a symbolic link to any file there between the
// check and svhttpd's reading, so it reads its log itself.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"svkit/internal/diag"
	"svkit/internal/svlog"
)

// Limits of the lines endpoints.
const (
	defaultLines = 10
	maxLines     = 10000
	checkTries   = 3 // checks of a current that rotates meanwhile
)

// LineJSON is one log line as the API shows it: Time in RFC 3339 with
// nanoseconds, UTC; Stamped false when the line had no multilog t stamp
// and Time is its file's modification time; Line the text after the stamp
// (invalid UTF-8 replaced by U+FFFD); Cut when the line was longer than
// svlog.MaxLine and Line is its start. Service is set by /v1/lines.
type LineJSON struct {
	Service string `json:"service,omitempty"`
	Time    string `json:"time"`
	Stamped bool   `json:"stamped"`
	Line    string `json:"line"`
	Cut     bool   `json:"cut,omitempty"`
}

// lineJSON converts one line; withService names its service.
func lineJSON(l *svlog.Line, withService bool) LineJSON {
	j := LineJSON{Time: l.When().UTC().Format(time.RFC3339Nano), Stamped: l.Stamped, Line: string(l.Text), Cut: l.Cut}
	if withService {
		j.Service = l.Service
	}
	return j
}

// linesParams reads n and follow.
func linesParams(q url.Values) (n int, follow bool, ok bool) {
	n = defaultLines
	if v, has := q["n"]; has {
		k, err := strconv.ParseUint(v[0], 10, 32)
		if err != nil || v[0] == "" || v[0][0] == '+' || k > maxLines {
			return 0, false, false
		}
		n = int(k)
	}
	if v, has := q["follow"]; has {
		switch v[0] {
		case "0":
		case "1":
			follow = true
		default:
			return 0, false, false
		}
	}
	return n, follow, true
}

// readCheck is the helper's -r mode: may the credentials it runs with
// read dir/current? It prints "DEV INO" of the file it opened.
func readCheck(dir string, stdout, stderr io.Writer) int {
	fd, err := unix.Open(dir+"/current", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		text := "unable to open " + dir + "/current: " + diag.Str(err)
		io.WriteString(stderr, text)
		switch {
		case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
			return helperDenied
		case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
			return helperGone
		}
		return helperFailed
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		io.WriteString(stderr, "unable to stat "+dir+"/current: "+diag.Str(err))
		return helperFailed
	}
	if unix.Access(dir, unix.W_OK) == nil {
		io.WriteString(stderr, "caller may write "+dir+": read it directly")
		return helperWritable
	}
	if _, err := fmt.Fprintf(stdout, "%d %d\n", st.Dev, st.Ino); err != nil {
		return helperFailed
	}
	return helperSent
}

// fileID is a file's device and inode.
type fileID struct{ dev, ino uint64 }

// checkRead tells whether the caller p may read the log directory dir:
// a helper code and text, and for a caller other than root the identity
// of the current it opened (nil for root: anything goes).
func (s *Server) checkRead(p *Peer, dir string) (int, string, *fileID) {
	if !p.Known {
		return helperDenied, "caller unknown", nil
	}
	if p.Uid == 0 {
		return helperSent, "", nil
	}
	var out bytes.Buffer
	code, text := s.runHelper(p, &out, "-r", dir)
	if code != helperSent {
		return code, text, nil
	}
	var id fileID
	if _, err := fmt.Sscanf(out.String(), "%d %d\n", &id.dev, &id.ino); err != nil {
		return helperFailed, "unable to read the helper's answer", nil
	}
	return code, "", &id
}

// sameFile reports whether f is the file id names (always when id is nil).
func sameFile(t *svlog.Tail, id *fileID) bool {
	if id == nil {
		return true
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(t.Current.Fd()), &st); err != nil {
		return false
	}
	return uint64(st.Dev) == id.dev && st.Ino == id.ino
}

// lineErr is the answer for a service whose lines cannot be given.
type lineErr struct {
	status int
	text   string
}

// openLog finds the log of the service name, checks that p may read it,
// and reads its last n lines. The follower holds current open.
func (s *Server) openLog(p *Peer, name string, n int) (*svlog.Tail, *svlog.Follower, *lineErr) {
	dir := s.Tree.Lookup(name)
	if dir == "" {
		return nil, nil, &lineErr{http.StatusNotFound, "no such service"}
	}
	src, err := svlog.Find(dir, "")
	if err != nil {
		if errors.Is(err, svlog.ErrNoLogger) {
			return nil, nil, &lineErr{http.StatusNotFound, "no log"}
		}
		return nil, nil, &lineErr{http.StatusInternalServerError, err.Error()}
	}
	for try := 0; ; try++ {
		code, text, id := s.checkRead(p, src.Dir)
		if code != helperSent {
			if code == helperGone {
				return nil, nil, &lineErr{http.StatusNotFound, "no log"}
			}
			if code == helperWritable {
				code = helperDenied
			}
			return nil, nil, &lineErr{httpStatus(code), text}
		}
		t, err := svlog.LastLines(name, src.Dir, n)
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				return nil, nil, &lineErr{http.StatusNotFound, "no log"}
			}
			return nil, nil, &lineErr{http.StatusInternalServerError, err.Error()}
		}
		if !sameFile(t, id) {
			t.Current.Close()
			if try+1 < checkTries {
				continue // rotated between the check and the reading
			}
			return nil, nil, &lineErr{http.StatusServiceUnavailable, "log rotated while being read; try again"}
		}
		fl, err := svlog.NewFollower(name, src.Dir, t)
		if err != nil {
			t.Current.Close()
			return nil, nil, &lineErr{http.StatusInternalServerError, err.Error()}
		}
		return t, fl, nil
	}
}

// lines is GET /v1/services/NAME/lines (name set) and GET /v1/lines
// (every service the caller may read; the others are left out).
func (s *Server) lines(w http.ResponseWriter, r *http.Request, q url.Values, rc *http.ResponseController, name string) {
	n, follow, ok := linesParams(q)
	if !ok {
		jsonError(w, http.StatusBadRequest, "n must be 0 to "+strconv.Itoa(maxLines)+"; follow 0 or 1")
		return
	}
	if !follow {
		rc.SetWriteDeadline(time.Now().Add(handlerTimeout))
	} else {
		if c := s.clients.Add(1); int(c) > s.MaxClients {
			s.clients.Add(-1)
			jsonError(w, http.StatusServiceUnavailable, "too many event clients")
			return
		}
		defer s.clients.Add(-1)
	}
	p := peerFrom(r.Context())
	var groups [][]svlog.Line
	var fls []*svlog.Follower
	closeAll := func() {
		for _, fl := range fls {
			fl.Close()
		}
	}
	if name != "" {
		t, fl, le := s.openLog(p, name, n)
		if le != nil {
			jsonError(w, le.status, le.text)
			return
		}
		groups, fls = append(groups, t.Lines), append(fls, fl)
	} else {
		names, err := s.Tree.Names()
		if err != nil {
			jsonError(w, http.StatusInternalServerError, "unable to read "+s.Tree.Dir+": "+err.Error())
			return
		}
		for _, nm := range names {
			if t, fl, le := s.openLog(p, nm, n); le == nil {
				groups, fls = append(groups, t.Lines), append(fls, fl)
			}
		}
	}
	merged := svlog.Merge(groups)
	if len(merged) > n {
		merged = merged[len(merged)-n:] // the last n of the merged log
	}
	if !follow {
		closeAll()
		out := make([]LineJSON, len(merged))
		for i := range merged {
			out[i] = lineJSON(&merged[i], name == "")
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	s.followLines(w, r, rc, merged, fls, name == "")
}

// followLines streams lines, then follows fls until the client goes away,
// a write to it takes longer than WriteTimeout, or no log is left.
func (s *Server) followLines(w http.ResponseWriter, r *http.Request, rc *http.ResponseController, first []svlog.Line, fls []*svlog.Follower, withService bool) {
	startStream(w, rc)
	var b bytes.Buffer
	add := func(ls []svlog.Line) {
		for i := range ls {
			data, err := json.Marshal(lineJSON(&ls[i], withService))
			if err != nil {
				continue
			}
			b.WriteString("event: line\ndata: ")
			b.Write(data)
			b.WriteString("\n\n")
		}
	}
	send := func() bool {
		rc.SetWriteDeadline(time.Now().Add(s.WriteTimeout))
		_, err := w.Write(b.Bytes())
		b.Reset()
		return err == nil && rc.Flush() == nil
	}
	add(first)
	if !send() {
		for _, fl := range fls {
			fl.Close()
		}
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	batches := make(chan []svlog.Line)
	done := make(chan error, 1)
	go func() {
		done <- svlog.Follow(ctx, fls, svlog.Window, func(ls []svlog.Line) {
			select {
			case batches <- ls:
			case <-ctx.Done():
			}
		}, func(text string) { s.logf(prog + ": warning: " + text) })
	}()
	defer func() {
		cancel()
		<-done // Follow has closed the files and its inotify descriptor
	}()
	keep := time.NewTicker(s.KeepAlive)
	defer keep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-done:
			done <- nil // for the deferred wait
			return
		case ls := <-batches:
			add(ls)
		case <-keep.C:
			b.WriteString(": keep-alive\n\n")
		}
		if !send() {
			return
		}
	}
}
