package svhttpd

// The HTTP API: the router (a pure function of method and path, fuzzed),
// and the handlers. Every answer is JSON except /metrics (Prometheus text),
// /v1/events and the lines endpoints with follow=1 (Server-Sent Events) and
// /healthz.

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"svkit/internal/needs"
)

// Routes.
const (
	rNone = iota
	rHealth
	rMetrics
	rList
	rOne
	rSvc
	rLogSvc
	rBatch
	rEvents
	rLines
	rAllLines
	rPage
	rStatic
)

// Route is where a request goes: Kind is one of the routes above; Name is
// the service name of the per-service routes, unescaped and valid.
type Route struct {
	Kind int
	Name string
}

// Match routes a request by method and escaped path. status is 0 when it
// routed, else the error status: 404 for a path that is not the API's (a
// name that cannot be a service included), 405 for a method the path does
// not take (allow then lists the ones it does).
func Match(method, escapedPath string) (r Route, status int, allow string) {
	segs := strings.Split(escapedPath, "/")
	if len(segs) < 2 || segs[0] != "" {
		return Route{}, http.StatusNotFound, ""
	}
	segs = segs[1:]
	get := func(k int, name string) (Route, int, string) {
		if method != http.MethodGet && method != http.MethodHead {
			return Route{}, http.StatusMethodNotAllowed, "GET, HEAD"
		}
		return Route{k, name}, 0, ""
	}
	post := func(k int, name string) (Route, int, string) {
		if method != http.MethodPost {
			return Route{}, http.StatusMethodNotAllowed, "POST"
		}
		return Route{k, name}, 0, ""
	}
	stream := func(k int, name string) (Route, int, string) {
		if method != http.MethodGet {
			return Route{}, http.StatusMethodNotAllowed, "GET"
		}
		return Route{k, name}, 0, ""
	}
	switch {
	case len(segs) == 1 && segs[0] == "":
		return get(rPage, "")
	case len(segs) == 2 && segs[0] == "static" && staticFile(segs[1]) != nil:
		return get(rStatic, segs[1])
	case len(segs) == 1 && segs[0] == "healthz":
		return get(rHealth, "")
	case len(segs) == 1 && segs[0] == "metrics":
		return get(rMetrics, "")
	case len(segs) == 2 && segs[0] == "v1" && segs[1] == "services":
		return get(rList, "")
	case len(segs) == 2 && segs[0] == "v1" && segs[1] == "svc":
		return post(rBatch, "")
	case len(segs) == 2 && segs[0] == "v1" && segs[1] == "events":
		return stream(rEvents, "")
	case len(segs) == 2 && segs[0] == "v1" && segs[1] == "lines":
		return stream(rAllLines, "")
	case len(segs) >= 3 && segs[0] == "v1" && segs[1] == "services":
		name, err := url.PathUnescape(segs[2])
		if err != nil || !ValidName(name) {
			return Route{}, http.StatusNotFound, ""
		}
		switch {
		case len(segs) == 3:
			return get(rOne, name)
		case len(segs) == 4 && segs[3] == "svc":
			return post(rSvc, name)
		case len(segs) == 4 && segs[3] == "lines":
			return stream(rLines, name)
		case len(segs) == 5 && segs[3] == "log" && segs[4] == "svc":
			return post(rLogSvc, name)
		}
	}
	return Route{}, http.StatusNotFound, ""
}

// Limits on requests.
const (
	maxBody        = 4096
	maxQuery       = 64 * 1024
	maxBatch       = 10000 // svscan's limit on services
	defaultWait    = 2000 * time.Millisecond
	maxWait        = 60 * time.Second
	handlerTimeout = 30 * time.Second
	batchParallel  = 8
	drainPoll      = 2 * time.Millisecond
)

// jsonError answers with status and {"error": text}.
func jsonError(w http.ResponseWriter, status int, text string) {
	writeJSON(w, status, map[string]string{"error": text})
}

// writeJSON answers with status and v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		b.Reset()
		b.WriteString(`{"error":"unable to encode"}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// Handler is the whole API and the page, for the unix socket, behind the
// cross-origin protection.
func (s *Server) Handler() http.Handler {
	return s.crossOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, false) }))
}

// TCPHandler is the whole API and the page for a TCP listener (-l): the
// cross-origin protection, then a token from tk (see auth.go).
func (s *Server) TCPHandler(tk *Tokens) http.Handler {
	return s.crossOrigin(s.RequireToken(tk, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, false) })))
}

// crossOrigin refuses a state-changing request (any method but GET, HEAD
// and OPTIONS) that a browser says comes from another origin
// (Sec-Fetch-Site, else Origin against Host): net/http's
// CrossOriginProtection, answering 403 with a JSON error, and logging it.
func (s *Server) crossOrigin(h http.Handler) http.Handler {
	c := http.NewCrossOriginProtection()
	c.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.logf(prog + ": warning: cross-origin request refused: " + r.Method + " " + strconv.Quote(r.URL.Path) +
			" Sec-Fetch-Site " + strconv.Quote(r.Header.Get("Sec-Fetch-Site")) + " Origin " + strconv.Quote(r.Header.Get("Origin")))
		jsonError(w, http.StatusForbidden, "cross-origin request refused")
	}))
	return c.Handler(h)
}

// MetricsHandler serves GET /metrics and nothing else, for the TCP
// listener.
func (s *Server) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, true) })
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, metricsOnly bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if r.ContentLength > maxBody {
		jsonError(w, http.StatusRequestEntityTooLarge, "request body too large")
		return
	}
	if len(r.URL.RawQuery) > maxQuery {
		jsonError(w, http.StatusRequestURITooLong, "query too long")
		return
	}
	rt, status, allow := Match(r.Method, r.URL.EscapedPath())
	if status == 0 && metricsOnly && rt.Kind != rMetrics {
		status = http.StatusNotFound
	}
	if status != 0 {
		if allow != "" {
			w.Header().Set("Allow", allow)
		}
		jsonError(w, status, http.StatusText(status))
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		jsonError(w, http.StatusBadRequest, "bad query")
		return
	}
	securityHeaders(w.Header())
	rc := http.NewResponseController(w)
	if rt.Kind != rEvents && rt.Kind != rLines && rt.Kind != rAllLines {
		rc.SetWriteDeadline(time.Now().Add(handlerTimeout))
	}
	switch rt.Kind {
	case rPage:
		s.page(w, r)
	case rStatic:
		serveStatic(w, r, rt.Name)
	case rHealth:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	case rMetrics:
		s.metrics(w)
	case rList:
		s.list(w, r)
	case rOne:
		s.one(w, r, rt.Name)
	case rSvc, rLogSvc:
		s.command(w, r, q, rt)
	case rBatch:
		s.batch(w, r, q)
	case rEvents:
		s.events(w, r, rc)
	case rLines, rAllLines:
		s.lines(w, r, q, rc, rt.Name)
	}
}

// list is GET /v1/services: every service, with may_control for the
// caller.
func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	entries, may, err := s.readForCaller(peerFrom(r.Context()))
	if err != nil {
		jsonError(w, http.StatusInternalServerError, "unable to read "+s.Tree.Dir+": "+err.Error())
		return
	}
	out := make([]any, len(entries))
	for i, e := range entries {
		out[i] = e.ValueFor(may[i])
	}
	writeJSON(w, http.StatusOK, out)
}

// readForCaller reads every service, and whether the caller p may command
// each.
func (s *Server) readForCaller(p *Peer) ([]*Entry, []bool, error) {
	entries, err := s.Tree.ReadAll()
	if err != nil {
		return nil, nil, err
	}
	dirs := make([]string, len(entries))
	for i, e := range entries {
		dirs[i] = s.Tree.Dir + "/" + e.Name()
	}
	return entries, s.mayControl(p, dirs), nil
}

// one is GET /v1/services/NAME, with may_control for the caller.
func (s *Server) one(w http.ResponseWriter, r *http.Request, name string) {
	dir := s.Tree.Lookup(name)
	if dir == "" {
		jsonError(w, http.StatusNotFound, "no such service")
		return
	}
	may := s.mayControl(peerFrom(r.Context()), []string{dir})
	writeJSON(w, http.StatusOK, Read(name, dir).ValueFor(may[0]))
}

func (s *Server) metrics(w http.ResponseWriter) {
	entries, err := s.Tree.ReadAll()
	if err != nil {
		jsonError(w, http.StatusInternalServerError, "unable to read "+s.Tree.Dir+": "+err.Error())
		return
	}
	var b bytes.Buffer
	WriteMetrics(&b, entries)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.Write(b.Bytes())
}

// waitParams reads wait and timeout: whether to wait for supervise to
// rewrite its status, and for how long.
func waitParams(q url.Values) (wait bool, timeout time.Duration, ok bool) {
	wait, timeout = true, defaultWait
	if v, has := q["wait"]; has {
		switch v[0] {
		case "0":
			wait = false
		case "1":
		default:
			return false, 0, false
		}
	}
	if v, has := q["timeout"]; has {
		ms, err := strconv.ParseUint(v[0], 10, 32)
		if err != nil || v[0] == "" || v[0][0] == '+' {
			return false, 0, false
		}
		timeout = min(time.Duration(ms)*time.Millisecond, maxWait)
	}
	return wait, timeout, true
}

// Result is the answer for one service of a command.
type Result struct {
	Name    string `json:"name"`
	Status  int    `json:"status"`
	Service any    `json:"service,omitempty"`
	Error   string `json:"error,omitempty"`
}

// run sends letters to one service (or its logger) as the caller p may,
// waits for supervise to take them if asked, and logs the command.
func (s *Server) run(r *http.Request, p *Peer, name string, logger bool, letters string, wait bool, timeout time.Duration) Result {
	label := name
	if logger {
		label += "/log"
	}
	res := Result{Name: label}
	dir := s.Tree.Lookup(name)
	if dir != "" && logger {
		dir += "/log"
		if !isDir(dir) {
			dir = ""
		}
	}
	if dir == "" {
		res.Status, res.Error = http.StatusNotFound, "no such service"
		s.audit(p, label, letters, res)
		return res
	}
	w := newWaiter(dir, letters)
	defer w.close()
	code, text := s.sendAs(p, dir, letters)
	res.Status = httpStatus(code)
	if code != helperSent {
		res.Error = text
		s.audit(p, label, letters, res)
		return res
	}
	if !wait || !s.waitTaken(r, w, timeout) {
		res.Status = http.StatusAccepted
	}
	s.audit(p, label, letters, res)
	if logger {
		res.Service = read(label, dir).Value()
	} else {
		res.Service = Read(name, dir).Value()
	}
	return res
}

// waitTaken waits until supervise has taken the letters (see waiter), at
// most timeout. A change of status wakes it through the hub's inotify;
// supervise reading the FIFO is checked every few milliseconds (inotify
// would report it only together with every other read in supervise/,
// svhttpd's own included).
func (s *Server) waitTaken(r *http.Request, w *waiter, timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	poll := time.NewTicker(drainPoll)
	defer poll.Stop()
	for {
		tick := s.Hub.Tick()
		if w.taken() {
			return true
		}
		select {
		case <-tick:
		case <-poll.C:
		case <-t.C:
			return false
		case <-r.Context().Done():
			return false
		}
	}
}

// audit logs a command on stderr: who asked, what, and the answer.
func (s *Server) audit(p *Peer, name, letters string, res Result) {
	who := "unknown caller"
	switch {
	case p.Known && p.Client != "":
		who = "client " + strconv.Quote(p.Client) + " uid " + strconv.FormatUint(uint64(p.Uid), 10) +
			" gid " + strconv.FormatUint(uint64(p.Gid), 10)
	case p.Known:
		who = "uid " + strconv.FormatUint(uint64(p.Uid), 10) + " gid " + strconv.FormatUint(uint64(p.Gid), 10) +
			" pid " + strconv.FormatInt(int64(p.Pid), 10)
	}
	line := prog + ": " + who + ": svc -" + letters + " " + strconv.Quote(name) + ": " + strconv.Itoa(res.Status)
	if res.Error != "" {
		line += " " + res.Error
	}
	s.logf(line)
}

// command is POST /v1/services/NAME/svc and /v1/services/NAME/log/svc.
func (s *Server) command(w http.ResponseWriter, r *http.Request, q url.Values, rt Route) {
	p := peerFrom(r.Context())
	letters, ok := ParseLetters(q.Get("cmd"))
	wait, timeout, wok := waitParams(q)
	if !ok || !wok {
		res := Result{Name: rt.Name, Status: http.StatusBadRequest, Error: "cmd must be letters of udopchaitkx; wait 0 or 1; timeout milliseconds"}
		s.audit(p, rt.Name, q.Get("cmd"), res)
		jsonError(w, res.Status, res.Error)
		return
	}
	res := s.run(r, p, rt.Name, rt.Kind == rLogSvc, letters, wait, timeout)
	if res.Service != nil {
		writeJSON(w, res.Status, res.Service)
		return
	}
	jsonError(w, res.Status, res.Error)
}

// batch is POST /v1/svc?cmd=LETTERS&service=A&service=B (or service=*):
// the command for each service, answered per service.
func (s *Server) batch(w http.ResponseWriter, r *http.Request, q url.Values) {
	p := peerFrom(r.Context())
	letters, ok := ParseLetters(q.Get("cmd"))
	wait, timeout, wok := waitParams(q)
	names := q["service"]
	if !ok || !wok || len(names) == 0 || len(names) > maxBatch {
		res := Result{Status: http.StatusBadRequest, Error: "cmd must be letters of udopchaitkx, service one or more names or *"}
		s.audit(p, strings.Join(names, ","), q.Get("cmd"), res)
		jsonError(w, res.Status, res.Error)
		return
	}
	if len(names) == 1 && names[0] == "*" {
		all, err := s.Tree.Names()
		if err != nil {
			jsonError(w, http.StatusInternalServerError, "unable to read "+s.Tree.Dir+": "+err.Error())
			return
		}
		names = all
	} else {
		seen := map[string]bool{}
		uniq := names[:0:0]
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				uniq = append(uniq, n)
			}
		}
		names = uniq
		sort.Strings(names)
	}
	out := make([]Result, len(names))
	for _, wave := range s.waves(names, letters) {
		var wg sync.WaitGroup
		sem := make(chan struct{}, batchParallel)
		for _, i := range wave {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				out[i] = s.run(r, p, names[i], false, letters, wait, timeout)
				<-sem
			}()
		}
		wg.Wait()
	}
	writeJSON(w, http.StatusOK, out)
}

// waves orders a batch as svgroup does (package needs): letters starting
// services (u, o) go to what is needed first, a wave at a time; letters
// stopping them (d) go to dependents first; others go to all at once.
func (s *Server) waves(names []string, letters string) [][]int {
	all := [][]int{make([]int, len(names))}
	for i := range names {
		all[0][i] = i
	}
	up, down := strings.ContainsAny(letters, "uo"), strings.Contains(letters, "d")
	if up == down {
		return all
	}
	dirs := make([]string, len(names))
	for i, n := range names {
		dirs[i] = filepath.Join(s.Tree.Dir, n)
	}
	if down {
		return needs.Build(dirs).StopWaves()
	}
	return needs.Build(dirs).Waves()
}

// events is GET /v1/events: Server-Sent Events.
func (s *Server) events(w http.ResponseWriter, r *http.Request, rc *http.ResponseController) {
	if n := s.clients.Add(1); int(n) > s.MaxClients {
		s.clients.Add(-1)
		jsonError(w, http.StatusServiceUnavailable, "too many event clients")
		return
	}
	defer s.clients.Add(-1)
	sub, snapshot, seq := s.Hub.Subscribe(r.Header.Get("Last-Event-ID"))
	defer s.Hub.Unsubscribe(sub)
	startStream(w, rc)
	var b bytes.Buffer
	b.WriteString("retry: 1000\n\n")
	if snapshot != nil {
		writeEvent(&b, s.Hub.ID(seq), "snapshot", snapshot)
	}
	send := func() bool {
		rc.SetWriteDeadline(time.Now().Add(s.WriteTimeout))
		_, err := w.Write(b.Bytes())
		b.Reset()
		return err == nil && rc.Flush() == nil
	}
	if !send() {
		return
	}
	keep := time.NewTicker(s.KeepAlive)
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-sub.C:
			for b.Len() < 64*1024 {
				evs, ok := s.Hub.Next(sub, 64)
				if !ok {
					return // fell behind the ring: it reconnects for a snapshot
				}
				if len(evs) == 0 {
					break
				}
				for _, ev := range evs {
					writeEvent(&b, s.Hub.ID(ev.Seq), ev.Kind, ev.Data)
				}
			}
			if b.Len() >= 64*1024 {
				// More to come: wake up again at once.
				select {
				case sub.C <- struct{}{}:
				default:
				}
			}
		case <-keep.C:
			b.WriteString(": keep-alive\n\n")
		}
		if b.Len() > 0 && !send() {
			return
		}
	}
}

// writeEvent appends one SSE event; data is one line of JSON.
func writeEvent(b *bytes.Buffer, id, kind string, data []byte) {
	b.WriteString("id: " + id + "\nevent: " + kind + "\ndata: ")
	b.Write(data)
	b.WriteString("\n\n")
}

// startStream begins an event stream: the request is read, so no read
// deadline may end the stream (net/http clears it too before it watches for
// the client going away), and the headers go out with 200.
func startStream(w http.ResponseWriter, rc *http.ResponseController) {
	rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
}
