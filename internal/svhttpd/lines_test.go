package svhttpd

import (
	"bufio"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"svkit/internal/testenv"
)

func TestLinesParams(t *testing.T) {
	for q, want := range map[string]int{"": 10, "n=0": 0, "n=7": 7, "n=10000": 10000, "n=10000&follow=1": 10000, "follow=0": 10,
		"n=10001": -1, "n=-1": -1, "n=+1": -1, "n=": -1, "n=x": -1, "follow=2": -1, "follow=": -1} {
		v, _ := url.ParseQuery(q)
		n, _, ok := linesParams(v)
		if (want < 0) == ok || (ok && n != want) {
			t.Errorf("linesParams(%q) = %d, %v; want %d", q, n, ok, want)
		}
	}
}

// logTree is newTree whose web service prints what is written into the
// FIFO web/in, logged by svkit's multilog t ./main; db has no log.
type logTree struct {
	*scanTree
	web string
	in  *os.File
}

func newLogTree(t *testing.T) *logTree {
	t.Helper()
	tr := &logTree{scanTree: newTree(t)}
	tr.web = filepath.Join(tr.scan, "web")
	testenv.WriteScript(t, filepath.Join(tr.web, "run"), "echo $$ >> pids\nexec cat < in\n")
	testenv.WriteScript(t, filepath.Join(tr.web, "log/run"), "exec multilog t ./main\n")
	if err := syscall.Mkfifo(filepath.Join(tr.web, "in"), 0600); err != nil {
		t.Fatal(err)
	}
	in, err := os.OpenFile(filepath.Join(tr.web, "in"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	tr.in = in
	tr.svscan(t)
	return tr
}

// say makes web print lines and waits until the last is in current.
func (tr *logTree) say(t *testing.T, lines ...string) {
	t.Helper()
	if _, err := tr.in.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
		t.Fatal(err)
	}
	last := lines[len(lines)-1] + "\n"
	testenv.WaitFor(t, 5*time.Second, "the line in web's current", func() bool {
		b, _ := os.ReadFile(filepath.Join(tr.web, "log/main/current"))
		return strings.HasSuffix(string(b), last)
	})
}

// linesOf decodes a JSON array of lines.
func linesOf(t *testing.T, b []byte) []LineJSON {
	t.Helper()
	var ls []LineJSON
	if err := json.Unmarshal(b, &ls); err != nil {
		t.Fatalf("not a JSON array of lines: %v: %s", err, b)
	}
	return ls
}

// asSvlog formats a line as svlog does in UTC.
func asSvlog(t *testing.T, name string, l LineJSON) string {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, l.Time)
	if err != nil {
		t.Fatalf("time %q: %v", l.Time, err)
	}
	s := tm.UTC().Format("2006-01-02 15:04:05.000000000")
	if !l.Stamped {
		s += "~"
	}
	return s + " " + name + ": " + l.Line
}

// TestLines: the last n lines of a service, as svlog shows them (the
// svlog program run in UTC on the same directory); n's bounds; an unknown
// service and one without a log; /v1/lines across services.
func TestLines(t *testing.T) {
	tr := newLogTree(t)
	d := startDaemon(t, tr.root, tr.scan)
	var said []string
	for i := 0; i < 30; i++ {
		said = append(said, "line "+strconv.Itoa(i)+` "quoted" é`)
	}
	tr.say(t, said...)
	code, b := do(t, d.c, "GET", "/v1/services/web/lines?n=20")
	if code != 200 {
		t.Fatalf("lines: %d %s", code, b)
	}
	ls := linesOf(t, b)
	if len(ls) != 20 || ls[0].Line != said[10] || ls[19].Line != said[29] || !ls[0].Stamped || ls[0].Service != "" {
		t.Fatalf("lines: %s", b)
	}
	cmd := exec.Command(testenv.Prog(t, "svlog"), "-n", "20", tr.web)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("svlog: %v", err)
	}
	var got []string
	for _, l := range ls {
		got = append(got, asSvlog(t, "web", l))
	}
	if want := strings.TrimSuffix(string(out), "\n"); strings.Join(got, "\n") != want {
		t.Errorf("svhttpd:\n%s\nsvlog:\n%s", strings.Join(got, "\n"), want)
	}
	if code, b := do(t, d.c, "GET", "/v1/services/web/lines"); code != 200 || len(linesOf(t, b)) != 10 {
		t.Errorf("default n: %d %s", code, b)
	}
	if code, b := do(t, d.c, "GET", "/v1/services/web/lines?n=0"); code != 200 || strings.TrimSpace(string(b)) != "[]" {
		t.Errorf("n=0: %d %s", code, b)
	}
	for _, q := range []string{"n=10001", "n=-1", "n=x", "follow=2"} {
		if code, b := do(t, d.c, "GET", "/v1/services/web/lines?"+q); code != 400 || !strings.Contains(string(b), `"error"`) {
			t.Errorf("%s: %d %s, want 400", q, code, b)
		}
	}
	if code, b := do(t, d.c, "GET", "/v1/services/nosuch/lines"); code != 404 || !strings.Contains(string(b), "no such service") {
		t.Errorf("unknown service: %d %s", code, b)
	}
	if code, b := do(t, d.c, "GET", "/v1/services/db/lines"); code != 404 || !strings.Contains(string(b), `"no log"`) {
		t.Errorf("service without a log: %d %s", code, b)
	}
	code, b = do(t, d.c, "GET", "/v1/lines?n=3")
	ls = linesOf(t, b)
	if code != 200 || len(ls) != 3 || ls[2].Service != "web" || ls[2].Line != said[29] {
		t.Errorf("/v1/lines: %d %s", code, b)
	}
}

// stream opens an SSE stream at path.
func (d *daemon) stream(t *testing.T, path string) *sse {
	t.Helper()
	c := unixClient(d.sock)
	c.Timeout = 0
	resp, err := c.Get("http://svhttpd" + path)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &sse{resp: resp, r: bufio.NewReader(resp.Body), evs: make(chan sseEvent, 10000)}
	t.Cleanup(func() { resp.Body.Close() })
	go s.read()
	return s
}

// nextLine returns the text of the next line event.
func (s *sse) nextLine(t *testing.T, timeout time.Duration) LineJSON {
	t.Helper()
	ev := s.next(t, timeout)
	var l LineJSON
	if ev.kind != "line" || json.Unmarshal(ev.data, &l) != nil {
		t.Fatalf("not a line event: %q %s", ev.kind, ev.data)
	}
	return l
}

// inotifyFDs counts the inotify descriptors of pid.
func inotifyFDs(pid int) int {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, _ := os.ReadDir(dir)
	n := 0
	for _, e := range ents {
		if l, _ := os.Readlink(dir + "/" + e.Name()); l == "anon_inode:inotify" {
			n++
		}
	}
	return n
}

// TestLinesFollow: follow=1 sends the last lines, then each new line
// within a second, across a rotation (svc -a on the logger); a client
// that goes away leaves no descriptor behind in svhttpd.
func TestLinesFollow(t *testing.T) {
	tr := newLogTree(t)
	d := startDaemon(t, tr.root, tr.scan)
	tr.say(t, "one", "two", "three")
	pid := d.p.Pid()
	fds, ins := testenv.FDCount(pid), inotifyFDs(pid)
	s := d.stream(t, "/v1/services/web/lines?n=2&follow=1")
	if l := s.nextLine(t, 2*time.Second); l.Line != "two" {
		t.Fatalf("first line %+v", l)
	}
	if l := s.nextLine(t, 2*time.Second); l.Line != "three" {
		t.Fatalf("second line %+v", l)
	}
	testenv.WaitFor(t, 2*time.Second, "svhttpd's inotify descriptor for the follower", func() bool {
		return inotifyFDs(pid) == ins+1
	})
	tr.in.WriteString("four\n")
	if l := s.nextLine(t, time.Second); l.Line != "four" || !l.Stamped {
		t.Fatalf("new line %+v", l)
	}
	testenv.Control(t, tr.web+"/log", "a")
	testenv.WaitFor(t, 5*time.Second, "an archive", func() bool {
		m, _ := filepath.Glob(tr.web + "/log/main/@*.s")
		return len(m) == 1
	})
	tr.in.WriteString("five\n")
	if l := s.nextLine(t, time.Second); l.Line != "five" {
		t.Fatalf("line after the rotation %+v", l)
	}
	all := d.stream(t, "/v1/lines?n=1&follow=1")
	if l := all.nextLine(t, 2*time.Second); l.Line != "five" || l.Service != "web" {
		t.Fatalf("/v1/lines first line %+v", l)
	}
	tr.in.WriteString("six\n")
	if l := all.nextLine(t, time.Second); l.Line != "six" || l.Service != "web" {
		t.Fatalf("/v1/lines new line %+v", l)
	}
	s.resp.Body.Close()
	all.resp.Body.Close()
	testenv.WaitFor(t, 5*time.Second, "svhttpd's descriptors back to their number", func() bool {
		return testenv.FDCount(pid) == fds && inotifyFDs(pid) == ins
	})
}

// TestLinesPermission: a caller gets lines exactly when it could read
// the log's current itself: nobody is refused while multilog's main is
// 0700, served once it is 0755, refused when it is 0700 again; /v1/lines
// leaves out what it may not read.
func TestLinesPermission(t *testing.T) {
	testenv.RequireRoot(t)
	curl, err := exec.LookPath("curl")
	testenv.Require(t, err == nil, "curl is not installed (scripts/deps installs it)")
	tr := newLogTree(t)
	d := startDaemon(t, tr.root, tr.scan, "-M", "666")
	tr.say(t, "secret")
	as := func(path string) (int, string) {
		t.Helper()
		cmd := exec.Command(curl, "-s", "-o", "-", "-w", "\n%{http_code}", "--unix-socket", d.sock, "http://svhttpd"+path)
		cmd.SysProcAttr = credentials(65534, 65534, nil)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("curl as nobody: %v %s", err, out)
		}
		s := strings.TrimSpace(string(out))
		i := strings.LastIndexByte(s, '\n')
		code, _ := strconv.Atoi(s[i+1:])
		return code, strings.TrimSpace(s[:max(i, 0)])
	}
	main := filepath.Join(tr.web, "log/main")
	if st, err := os.Stat(main); err != nil || st.Mode().Perm() != 0700 {
		t.Fatalf("multilog's main: %v %v", st, err)
	}
	if code, body := as("/v1/services/web/lines"); code != 403 || strings.Contains(body, "secret") {
		t.Fatalf("nobody on a 0700 log: %d %s, want 403", code, body)
	}
	if code, body := as("/v1/lines"); code != 200 || body != "[]" {
		t.Errorf("nobody's /v1/lines on a 0700 log: %d %s", code, body)
	}
	if err := os.Chmod(main, 0755); err != nil {
		t.Fatal(err)
	}
	if code, body := as("/v1/services/web/lines"); code != 200 || !strings.Contains(body, `"line":"secret"`) {
		t.Fatalf("nobody on a 0755 log: %d %s, want 200", code, body)
	}
	if code, body := as("/v1/lines"); code != 200 || !strings.Contains(body, `"line":"secret"`) {
		t.Errorf("nobody's /v1/lines on a 0755 log: %d %s", code, body)
	}
	// A caller who could write the directory is refused (it could plant
	// a symbolic link for svhttpd to read).
	if err := os.Chmod(main, 0777); err != nil {
		t.Fatal(err)
	}
	if code, body := as("/v1/services/web/lines"); code != 403 {
		t.Errorf("nobody on a 0777 log: %d %s, want 403", code, body)
	}
	if err := os.Chmod(main, 0700); err != nil {
		t.Fatal(err)
	}
	if code, body := as("/v1/services/web/lines"); code != 403 {
		t.Errorf("nobody on a 0700 log again: %d %s, want 403", code, body)
	}
	if code, _ := do(t, d.c, "GET", "/v1/services/web/lines"); code != 200 {
		t.Errorf("root: %d, want 200", code)
	}
}

// TestLinesSlowClient: a following client that reads nothing is cut off
// once a write to it has waited WriteTimeout, and leaves neither a
// goroutine nor a client slot behind; follow=1 shares the event clients'
// cap.
func TestLinesSlowClient(t *testing.T) {
	testenv.RequireRoot(t) // a root caller's lines are read in-process
	s, sock, scan := inproc(t, "web/log/main")
	s.WriteTimeout = 300 * time.Millisecond
	line := strings.Repeat("x", 1000) + "\n"
	if err := os.WriteFile(filepath.Join(scan, "web/log/main/current"), []byte(strings.Repeat(line, 5000)), 0644); err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	slowClient(t, sock, "/v1/services/web/lines?n=5000&follow=1")
	testenv.WaitFor(t, 2*time.Second, "the client counted", func() bool { return s.clients.Load() == 1 })
	testenv.WaitFor(t, 5*time.Second, "the slow client cut off", func() bool { return s.clients.Load() == 0 })
	testenv.WaitFor(t, 5*time.Second, "goroutines back to their number", func() bool {
		return runtime.NumGoroutine() <= before+1 // the client connection's reader may linger
	})
	s.MaxClients = 1
	d := &daemon{sock: sock, c: unixClient(sock)}
	f := d.stream(t, "/v1/services/web/lines?n=1&follow=1")
	if l := f.nextLine(t, 2*time.Second); l.Stamped || len(l.Line) != 1000 {
		t.Fatalf("unstamped line: %+v", l)
	}
	if code, b := do(t, d.c, "GET", "/v1/events"); code != 503 {
		t.Errorf("events over the cap: %d %s", code, b)
	}
	if code, b := do(t, d.c, "GET", "/v1/lines?follow=1"); code != 503 {
		t.Errorf("lines over the cap: %d %s", code, b)
	}
}
