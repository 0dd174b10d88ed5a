package svhttpd

// The page: GET / is one HTML page, rendered here from the services as
// they are (so it shows them before, or without, its script), then kept
// current by web/svhttpd.js from /v1/events. Everything it needs is
// embedded in the binary: it works offline, from no CDN. Its buttons send
// the API's POSTs; the ones the caller may not use are disabled. The
// script and the style sheet are files (GET /static/NAME), so the
// Content-Security-Policy allows no inline script or style at all.

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"svkit/internal/svstat"
)

//go:embed web/page.html web/svhttpd.js web/svhttpd.css
var webFiles embed.FS

var pageTemplate = template.Must(template.New("page.html").ParseFS(webFiles, "web/page.html"))

// static is a file served under /static/.
type static struct {
	body  []byte
	ctype string
}

var statics = map[string]*static{
	"svhttpd.js":  {mustRead("web/svhttpd.js"), "text/javascript; charset=utf-8"},
	"svhttpd.css": {mustRead("web/svhttpd.css"), "text/css; charset=utf-8"},
}

func mustRead(name string) []byte {
	b, err := webFiles.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return b
}

// staticFile returns the file name of /static/, or nil.
func staticFile(name string) *static { return statics[name] }

// contentPolicy allows the page its own script, style and requests, and
// nothing else: no inline script, no other origin, no framing.
const contentPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// securityHeaders are sent with every answer.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

func serveStatic(w http.ResponseWriter, r *http.Request, name string) {
	f := staticFile(name)
	w.Header().Set("Content-Type", f.ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(f.body)))
	w.Header().Set("Cache-Control", "no-cache")
	if r.Method == http.MethodHead {
		return
	}
	w.Write(f.body)
}

// Row is one service as the page's table shows it. The script fills the
// same cells from the service's object (web/svhttpd.js, fill()).
type Row struct {
	Name       string
	State      string // "up", "down", "finish", or svstat's error text
	Class      string // the row's class: up, down, finish, error
	Pid        string
	SinceNs    string // the state's start, Unix ns, for the uptime the script counts on
	Uptime     string
	Ready      string
	Restarts   string
	LastExit   string
	NormallyUp string
	Log        string
	MayControl bool
}

// pageData is what page.html is rendered from.
type pageData struct {
	Dir        string
	Rows       []Row
	AnyControl bool
}

// rowOf turns an entry into the table's cells at time now.
func rowOf(e *Entry, may bool, now time.Time) Row {
	r := Row{Name: e.Name(), MayControl: may}
	if e.Log != nil {
		r.Log = logState(e.Log)
	}
	if e.OK == nil {
		r.State, r.Class = e.Err.Error, "error"
		return r
	}
	o := e.OK.Object
	r.State, r.Class = stateText(o), o.State
	if o.Pid != 0 {
		r.Pid = strconv.FormatUint(uint64(o.Pid), 10)
	}
	if o.SinceNs != nil {
		r.SinceNs = strconv.FormatInt(*o.SinceNs, 10)
		r.Uptime = Duration(now.Sub(time.Unix(0, *o.SinceNs)))
	}
	if o.Ready != nil {
		r.Ready = yesNo(*o.Ready)
	}
	if o.Restarts != nil {
		r.Restarts = strconv.Itoa(*o.Restarts)
	}
	switch {
	case o.LastExitCode != nil:
		r.LastExit = "exit " + strconv.Itoa(*o.LastExitCode)
	case o.LastExitSignal != nil:
		r.LastExit = "signal " + strconv.Itoa(*o.LastExitSignal)
	}
	r.NormallyUp = yesNo(o.NormallyUp)
	return r
}

// stateText is the state cell: the state, "paused", and what supervise
// wants when that differs.
func stateText(o svstat.Object) string {
	t := o.State
	if o.Paused {
		t += ", paused"
	}
	if o.Wanted != nil && *o.Wanted != o.State {
		t += ", want " + *o.Wanted
	}
	return t
}

// logState is the logger's cell: its state or its error.
func logState(e *Entry) string {
	if e.OK == nil {
		return e.Err.Error
	}
	return stateText(e.OK.Object)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// Duration is an uptime as the page shows it: "42s", "5m 12s", "3h 4m",
// "2d 3h" (the script's dur() writes the same).
func Duration(d time.Duration) string {
	s := int64(d / time.Second)
	if s < 0 {
		s = 0
	}
	switch {
	case s < 60:
		return strconv.FormatInt(s, 10) + "s"
	case s < 3600:
		return strconv.FormatInt(s/60, 10) + "m " + strconv.FormatInt(s%60, 10) + "s"
	case s < 86400:
		return strconv.FormatInt(s/3600, 10) + "h " + strconv.FormatInt(s%3600/60, 10) + "m"
	}
	return strconv.FormatInt(s/86400, 10) + "d " + strconv.FormatInt(s%86400/3600, 10) + "h"
}

// page is GET /: the table as it is now, for this caller.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	entries, may, err := s.readForCaller(peerFrom(r.Context()))
	if err != nil {
		jsonError(w, http.StatusInternalServerError, "unable to read "+s.Tree.Dir+": "+err.Error())
		return
	}
	d := pageData{Dir: s.Tree.Dir, Rows: make([]Row, len(entries))}
	now := time.Now()
	for i, e := range entries {
		d.Rows[i] = rowOf(e, may[i], now)
		d.AnyControl = d.AnyControl || may[i]
	}
	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, d); err != nil {
		jsonError(w, http.StatusInternalServerError, "unable to render the page: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.Header().Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		return
	}
	w.Write(b.Bytes())
}
