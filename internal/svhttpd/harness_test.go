package svhttpd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"svkit/internal/testenv"
	"svkit/pkg/svdir"
)

// serviceRun is the run script of the test services: it records the
// signals it gets in ./sigs, and stops on TERM. Its pid goes into ./pids
// once the traps are set.
const serviceRun = `s=""
trap 'echo hup >> sigs' HUP
trap 'echo alrm >> sigs' ALRM
trap 'echo int >> sigs' INT
trap 'echo term >> sigs; [ -z "$s" ] || kill "$s" 2>/dev/null; exit 0' TERM
echo $$ >> pids
while :; do sleep 5 & s=$!; wait "$s"; done
`

// scanTree is a scan directory in a temporary directory that every user
// may search (the unprivileged callers' helper needs to).
type scanTree struct {
	root, scan string
}

// newTree makes ROOT/sv with the services web (with a log) and db (with a
// down file). Its cleanup, which runs after whatever supervises the tree
// was killed, stops every supervise and what they ran.
func newTree(t *testing.T) *scanTree {
	t.Helper()
	root := t.TempDir()
	os.Chmod(filepath.Dir(root), 0755)
	os.Chmod(root, 0755)
	tr := &scanTree{root: root, scan: filepath.Join(root, "sv")}
	testenv.WriteScript(t, filepath.Join(tr.scan, "web/run"), serviceRun)
	testenv.WriteScript(t, filepath.Join(tr.scan, "web/log/run"), "exec cat > /dev/null\n")
	testenv.WriteScript(t, filepath.Join(tr.scan, "db/run"), serviceRun)
	if err := os.WriteFile(filepath.Join(tr.scan, "db/down"), nil, 0644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopAll(tr.dirs()) })
	return tr
}

// dirs lists the service directories of the tree, loggers included.
func (tr *scanTree) dirs() []string {
	var out []string
	names, _ := (&Tree{Dir: tr.scan}).Names()
	for _, n := range names {
		d := filepath.Join(tr.scan, n)
		out = append(out, d)
		if isDir(d + "/log") {
			out = append(out, d+"/log")
		}
	}
	return out
}

// stopAll sends dx to every directory, waits for the supervise processes
// to go, and kills by pid whatever run left.
func stopAll(dirs []string) {
	for _, d := range dirs {
		svdir.Send(d, "dx")
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, d := range dirs {
		for time.Now().Before(deadline) {
			if ok, _ := svdir.OK(d); !ok {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		b, _ := os.ReadFile(d + "/pids")
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil && testenv.Alive(pid) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		testenv.RemoveGroup(d)
	}
}

// svscan runs svkit's svscan on the tree and waits until every service and
// logger is supervised.
func (tr *scanTree) svscan(t *testing.T) *testenv.Proc {
	t.Helper()
	cmd := exec.Command(testenv.Prog(t, "svscan"), tr.scan)
	cmd.Env = append(os.Environ(), "PATH="+testenv.Bin(t)+":"+os.Getenv("PATH"))
	p := testenv.Start(t, cmd)
	tr.waitSupervised(t)
	return p
}

// supervise runs svkit's supervise (or prog) on each directory, without
// svscan.
func (tr *scanTree) supervise(t *testing.T, prog string) map[string]*testenv.Proc {
	t.Helper()
	ps := map[string]*testenv.Proc{}
	for _, d := range tr.dirs() {
		ps[d] = testenv.StartSupervise(t, prog, d)
	}
	return ps
}

func (tr *scanTree) waitSupervised(t *testing.T) {
	t.Helper()
	for _, d := range tr.dirs() {
		testenv.WaitFor(t, 15*time.Second, "supervise in "+d, func() bool {
			ok, _ := svdir.OK(d)
			_, err := svdir.ReadStatusOf(d)
			return ok && err == nil
		})
	}
}

// daemon is a running svhttpd.
type daemon struct {
	p       *testenv.Proc
	sock    string
	metrics string // host:port of -m, if any
	c       *http.Client
}

// freePort returns a TCP address on the loopback that was free a moment
// ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// startDaemon runs the svhttpd binary on scan with a socket in dir and
// the extra options, and waits until it answers.
func startDaemon(t *testing.T, dir, scan string, opts ...string) *daemon {
	t.Helper()
	d := &daemon{sock: filepath.Join(dir, "svhttpd.sock")}
	args := append([]string{"-s", d.sock}, opts...)
	for i, o := range opts {
		if o == "-m" {
			d.metrics = opts[i+1]
		}
	}
	d.p = testenv.Start(t, exec.Command(testenv.Prog(t, "svhttpd"), append(args, scan)...))
	d.c = unixClient(d.sock)
	testenv.WaitFor(t, 10*time.Second, "svhttpd to answer", func() bool {
		if d.p.Exited() {
			t.Fatalf("svhttpd exited: %s", d.p.Stderr)
		}
		resp, err := d.c.Get("http://svhttpd/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return d
}

// unixClient is an HTTP client that connects to the unix socket sock.
func unixClient(sock string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}}
}

// do sends a request over c (a unixClient) and returns the status and
// body.
func do(t *testing.T, c *http.Client, method, path string) (int, []byte) {
	t.Helper()
	code, _, b := tcpDo(t, c, method, "http://svhttpd"+path, "")
	return code, b
}

// object decodes one JSON object.
func object(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, b)
	}
	return m
}

// get returns the object of one service.
func (d *daemon) get(t *testing.T, name string) map[string]any {
	t.Helper()
	code, b := do(t, d.c, "GET", "/v1/services/"+name)
	if code != 200 {
		t.Fatalf("GET %s: %d %s", name, code, b)
	}
	return object(t, b)
}

// sse reads Server-Sent Events from a stream.
type sse struct {
	resp *http.Response
	r    *bufio.Reader
	evs  chan sseEvent
}

type sseEvent struct {
	id, kind string
	data     []byte
}

// events opens GET /v1/events with lastID (if not empty).
func (d *daemon) events(t *testing.T, lastID string) *sse {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://svhttpd/v1/events", nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	c := unixClient(d.sock)
	c.Timeout = 0
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET /v1/events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &sse{resp: resp, r: bufio.NewReader(resp.Body), evs: make(chan sseEvent, 10000)}
	t.Cleanup(func() { resp.Body.Close() })
	go s.read()
	return s
}

// read parses the stream into s.evs until it ends.
func (s *sse) read() {
	defer close(s.evs)
	var ev sseEvent
	for {
		line, err := s.r.ReadBytes('\n')
		if err != nil {
			return
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		switch {
		case len(line) == 0:
			if ev.kind != "" || ev.data != nil {
				s.evs <- ev
			}
			ev = sseEvent{}
		case bytes.HasPrefix(line, []byte("id: ")):
			ev.id = string(line[4:])
		case bytes.HasPrefix(line, []byte("event: ")):
			ev.kind = string(line[7:])
		case bytes.HasPrefix(line, []byte("data: ")):
			ev.data = append([]byte(nil), line[6:]...)
		case bytes.HasPrefix(line, []byte(":")):
			s.evs <- sseEvent{kind: "comment", data: line}
		}
	}
}

// next returns the next event that is not a comment, failing after
// timeout.
func (s *sse) next(t *testing.T, timeout time.Duration) sseEvent {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-s.evs:
			if !ok {
				t.Fatal("event stream ended")
			}
			if ev.kind != "comment" {
				return ev
			}
		case <-deadline:
			t.Fatalf("no event within %v", timeout)
		}
	}
}

// until returns the first event for which ok holds, failing after timeout.
func (s *sse) until(t *testing.T, timeout time.Duration, what string, ok func(sseEvent) bool) sseEvent {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("no event %s within %v", what, timeout)
		}
		ev := s.next(t, left)
		if ok(ev) {
			return ev
		}
	}
}
