package svhttpd

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"svkit/internal/testenv"
	"svkit/pkg/svdir"
)

// inproc runs the API in the test process over a unix socket, on a scan
// directory of plain directories (nothing supervised: these tests are
// about HTTP, not supervise).
func inproc(t *testing.T, services ...string) (*Server, string, string) {
	t.Helper()
	dir := t.TempDir()
	scan := filepath.Join(dir, "sv")
	for _, s := range services {
		if err := os.MkdirAll(filepath.Join(scan, s), 0755); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(scan, 0755)
	var log bytes.Buffer
	s, err := NewServer(scan, "/nonexistent", &log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	sock := filepath.Join(dir, "sock")
	l, err := ListenUnix(sock, 0600, -1)
	if err != nil {
		t.Fatal(err)
	}
	srv := HTTPServer(s.Handler())
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return s, sock, scan
}

// TestCommandWaitsForStatus: a supervise that rewrites its status
// unchanged after the letters were written and before it acts on them (as
// 0.76's does at the end of the pause after its first start) does not get
// the command answered early: the answer waits for the status the letters
// ask for. The supervise here is the test, acting out that order.
func TestCommandWaitsForStatus(t *testing.T) {
	testenv.RequireRoot(t) // a root caller's commands are sent in-process
	_, sock, scan := inproc(t, "web")
	dir := filepath.Join(scan, "web")
	os.Mkdir(dir+"/supervise", 0700)
	dfd, err := svdir.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dfd)
	up := svdir.Status{Pid: os.Getpid(), Want: svdir.WantUp}
	svdir.WriteStatus(dfd, up)
	var control int
	for _, f := range []string{svdir.OKPath, svdir.ControlPath} {
		unix.Mkfifo(dir+"/"+f, 0600)
		fd, err := unix.Open(dir+"/"+f, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		control = fd
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The letters are in the FIFO; status is rewritten unchanged,
		// then the letters are read, then acted on a moment later.
		var b [1]byte
		for {
			n, _ := unix.IoctlGetInt(control, unix.TIOCINQ)
			if n > 0 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		svdir.WriteStatus(dfd, up)
		time.Sleep(50 * time.Millisecond)
		unix.Read(control, b[:])
		time.Sleep(300 * time.Millisecond)
		svdir.WriteStatus(dfd, svdir.Status{Pid: os.Getpid(), Want: svdir.WantDown})
	}()
	code, b := do(t, unixClient(sock), "POST", "/v1/services/web/svc?cmd=d")
	<-done
	if o := object(t, b); code != 200 || o["wanted"] != "down" {
		t.Errorf("answer: %d %v", code, o)
	}
}

// TestKeepAlive: an idle event stream gets keep-alive comments.
func TestKeepAlive(t *testing.T) {
	s, sock, _ := inproc(t, "a")
	s.KeepAlive = 20 * time.Millisecond
	d := &daemon{sock: sock}
	ev := d.events(t, "")
	ev.next(t, 2*time.Second)
	deadline := time.After(2 * time.Second)
	for n := 0; n < 2; {
		select {
		case e := <-ev.evs:
			if e.kind == "comment" && string(e.data) == ": keep-alive" {
				n++
			}
		case <-deadline:
			t.Fatal("no keep-alive comments")
		}
	}
}

// serve runs srv on a fresh socket until the test ends and returns the
// socket's path.
func serve(t *testing.T, srv *http.Server) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "sock")
	l, err := ListenUnix(sock, 0600, -1)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return sock
}

// slowClient sends a GET of target on a connection with a small receive
// buffer and then reads nothing; the connection is closed when the test
// ends.
func slowClient(t *testing.T, sock, target string) {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.(*net.UnixConn).SetReadBuffer(4096)
	io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: x\r\n\r\n")
}

// TestEventsOutliveReadTimeout: the server's read timeout, which bounds
// how long a request may take to arrive, does not end an event stream.
func TestEventsOutliveReadTimeout(t *testing.T) {
	s, _, scan := inproc(t, "a")
	srv := HTTPServer(s.Handler())
	srv.ReadTimeout = 200 * time.Millisecond
	sock := serve(t, srv)
	d := &daemon{sock: sock}
	ev := d.events(t, "")
	ev.next(t, 2*time.Second)
	time.Sleep(4 * srv.ReadTimeout)
	os.Mkdir(filepath.Join(scan, "b"), 0755)
	ev.until(t, 2*time.Second, "b's event", func(e sseEvent) bool {
		return e.kind == "state" && bytes.Contains(e.data, []byte(`"name":"b"`))
	})
}

// TestHubForgetsWatches: a service whose supervise/ directory is made and
// removed again and again leaves no watch behind in the hub's tables.
func TestHubForgetsWatches(t *testing.T) {
	s, _, scan := inproc(t, "a")
	sup := filepath.Join(scan, "a", "supervise")
	watched := func() bool {
		s.Hub.mu.Lock()
		defer s.Hub.mu.Unlock()
		for _, ws := range s.Hub.wds {
			for _, w := range ws {
				if w.name == "a" && w.kind == 's' {
					return true
				}
			}
		}
		return false
	}
	for i := 0; i < 20; i++ {
		os.Mkdir(sup, 0700)
		testenv.WaitFor(t, 5*time.Second, "supervise/ watched", watched)
		os.Remove(sup)
		testenv.WaitFor(t, 5*time.Second, "supervise/ forgotten", func() bool { return !watched() })
	}
	s.Hub.mu.Lock()
	defer s.Hub.mu.Unlock()
	if n := len(s.Hub.names["a"]); n > 4 {
		t.Errorf("service a holds %d watches, want at most 4: %v", n, s.Hub.names["a"])
	}
	if n := len(s.Hub.wds); n > 1+4+4 {
		t.Errorf("%d watches for two services", n)
	}
}

// TestSlowClient: a client that never reads its event stream blocks
// neither svhttpd's other clients nor its hub; it is disconnected once a
// write to it has waited WriteTimeout, and the client cap answers 503
// beyond it.
func TestSlowClient(t *testing.T) {
	s, sock, scan := inproc(t)
	s.MaxClients = 3
	s.WriteTimeout = 300 * time.Millisecond
	// A client that reads the response headers and then nothing.
	slowClient(t, sock, "/v1/events")
	d := &daemon{sock: sock, c: unixClient(sock)}
	fast := d.events(t, "")
	fast.next(t, 2*time.Second)
	// Many changes, each a big event, more than the slow client's queue.
	long := strings.Repeat("x", 250)
	for i := 0; i < 2000; i++ {
		n := filepath.Join(scan, long+strconv.Itoa(i%50))
		if i%100 < 50 {
			os.Mkdir(n, 0755)
		} else {
			os.Remove(n)
		}
	}
	last := filepath.Join(scan, "last")
	os.Mkdir(last, 0755)
	fast.until(t, 5*time.Second, "the last change on the fast client", func(ev sseEvent) bool {
		return ev.kind == "state" && bytes.Contains(ev.data, []byte(`"name":"last"`))
	})
	if code, _ := do(t, d.c, "GET", "/healthz"); code != 200 {
		t.Errorf("healthz: %d", code)
	}
	testenv.WaitFor(t, 5*time.Second, "the slow client dropped", func() bool {
		s.Hub.mu.Lock()
		defer s.Hub.mu.Unlock()
		return len(s.Hub.subs) == 1
	})
	// The cap.
	d.events(t, "")
	d.events(t, "")
	if code, b := do(t, d.c, "GET", "/v1/events"); code != 503 {
		t.Errorf("client over the cap: %d %s", code, b)
	}
}

// TestLimits: oversized bodies and queries, unknown methods, and bad
// queries get 4xx with a JSON error.
func TestLimits(t *testing.T) {
	testenv.RequireRoot(t) // a root caller's commands are sent in-process
	_, sock, _ := inproc(t, "a")
	c := unixClient(sock)
	req := func(method, path string, body io.Reader) (int, string) {
		r, _ := http.NewRequest(method, "http://x"+path, body)
		resp, err := c.Do(r)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path[:min(len(path), 40)], err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	cases := []struct {
		method, path string
		body         io.Reader
		want         int
	}{
		{"POST", "/v1/services/a/svc?cmd=d", strings.NewReader(strings.Repeat("x", maxBody+1)), 413},
		{"GET", "/v1/services?" + strings.Repeat("x", maxQuery+1), nil, 414},
		{"POST", "/v1/services/a/svc?cmd=%zz", nil, 400},
		{"PUT", "/v1/services/a", nil, 405},
		{"BREW", "/metrics", nil, 405},
		{"POST", "/v1/svc?cmd=d&service=a&timeout=" + strings.Repeat("9", 30), nil, 400},
		{"GET", "/v1/services/b", nil, 404},
		{"POST", "/v1/services/a/svc?cmd=d", nil, 503}, // not supervised
	}
	for _, tc := range cases {
		code, body := req(tc.method, tc.path, tc.body)
		if code != tc.want || !strings.HasPrefix(body, `{"error":`) {
			t.Errorf("%s %s: %d %s, want %d with a JSON error", tc.method, tc.path[:min(len(tc.path), 40)], code, body, tc.want)
		}
	}
	// A header too big is refused by net/http itself.
	r, _ := http.NewRequest("GET", "http://x/healthz", nil)
	r.Header.Set("X-Big", strings.Repeat("x", maxQuery+16384))
	if resp, err := c.Do(r); err == nil {
		if resp.StatusCode != 431 {
			t.Errorf("big header: %d", resp.StatusCode)
		}
		resp.Body.Close()
	}
}

// TestHeaderTimeout: svhttpd's servers have their limits set, and a
// client that never finishes its request header is disconnected (shown
// with a shorter header timeout than the real 5 s).
func TestHeaderTimeout(t *testing.T) {
	s, _, _ := inproc(t, "a")
	srv := HTTPServer(s.Handler())
	if srv.ReadHeaderTimeout <= 0 || srv.IdleTimeout <= 0 || srv.MaxHeaderBytes <= 0 || srv.ReadTimeout <= 0 {
		t.Fatalf("limits not set: %+v", srv)
	}
	srv.ReadHeaderTimeout = 200 * time.Millisecond
	sock := serve(t, srv)
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /healthz HTTP/1.1\r\n")
	c.SetReadDeadline(time.Now().Add(srv.ReadHeaderTimeout + 3*time.Second))
	start := time.Now()
	_, err = bufio.NewReader(c).ReadByte()
	if err == nil || time.Since(start) > srv.ReadHeaderTimeout+2*time.Second {
		t.Errorf("connection with a half header still open after %v: %v", time.Since(start), err)
	}
}

// FuzzServe: any method, path and query is answered without a panic, with
// a status of the API's and, apart from the successes that are not JSON,
// a JSON body. Commands come from an unknown caller, so none is sent.
func FuzzServe(f *testing.F) {
	dir := f.TempDir()
	scan := filepath.Join(dir, "sv")
	os.MkdirAll(filepath.Join(scan, "web", "log"), 0755)
	s, err := NewServer(scan, "/nonexistent", io.Discard)
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	h := s.Handler()
	for _, seed := range [][2]string{{"GET", "/v1/services"}, {"POST", "/v1/services/web/svc?cmd=dx"},
		{"POST", "/v1/svc?cmd=t&service=*&timeout=5"}, {"POST", "/v1/services/web/log/svc?cmd=u&wait=0"},
		{"GET", "/v1/services/..%2Fetc"}, {"GET", "/metrics?x=%zz"}, {"DELETE", "/healthz"},
		{"GET", "/v1/services/web/lines?n=3"}, {"GET", "/v1/lines?n=2&follow=1"}, {"GET", "/"}, {"HEAD", "/"},
		{"GET", "/static/svhttpd.js"}, {"GET", "/static/..%2Fpage.html"}, {"POST", "/"}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, method, target string) {
		if !validMethod(method) {
			return
		}
		u, err := url.ParseRequestURI(target)
		if err != nil || u.Path == "/v1/events" {
			return
		}
		r := &http.Request{Method: method, URL: u, Header: http.Header{}, Body: http.NoBody, Host: "x", RequestURI: target}
		r = r.WithContext(context.WithValue(context.Background(), peerKey{}, &Peer{}))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case 200, 400, 403, 404, 405, 413, 414, 500, 503:
		default:
			t.Fatalf("%s %q: status %d", method, target, w.Code)
		}
		ct := w.Header().Get("Content-Type")
		if w.Code != 200 && ct != "application/json" {
			t.Fatalf("%s %q: %d with %q", method, target, w.Code, ct)
		}
	})
}

// validMethod reports whether m is an HTTP token, as net/http requires.
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

// TestListenUnix: the socket gets its mode and group before anyone can
// connect; a stale socket is replaced, a live one is not.
func TestListenUnix(t *testing.T) {
	testenv.RequireRoot(t) // chown to another group
	sock := filepath.Join(t.TempDir(), "run", "s.sock")
	l, err := ListenUnix(sock, 0620, 100)
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(sock, &st); err != nil || st.Mode&0777 != 0620 || st.Gid != 100 || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		t.Errorf("socket mode %o gid %d: %v", st.Mode, st.Gid, err)
	}
	if _, err := ListenUnix(sock, 0600, -1); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second listener on a live socket: %v", err)
	}
	l.Close() // the file stays: stale now
	l2, err := ListenUnix(sock, 0600, -1)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	l2.Close()
	os.Remove(sock)
	os.WriteFile(sock, nil, 0644)
	if _, err := ListenUnix(sock, 0600, -1); err == nil {
		t.Error("a regular file at the socket's path was replaced")
	}
}
