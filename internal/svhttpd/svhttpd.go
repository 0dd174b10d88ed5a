// Package svhttpd is svkit's control plane for callers without a root
// shell: an HTTP API on a unix socket (status, commands, Server-Sent
// Events, log lines) and Prometheus metrics, for the services of one scan
// directory.
//
//	svhttpd [-s socket] [-M mode] [-g group] [-m host:port] [-c clients]
//	        [-l host:port -a tokendir [-C cert -K key]] scandir
//
// It keeps no state of its own: every answer is read from the services'
// supervise/ directories through pkg/svdir and svstat, and every command is
// written into supervise/control as svc writes it. Anyone who can connect
// to the socket may read status; a command is sent only if the caller could
// send it with svc (see send.go), and log lines are given only to a caller
// who could read the log (see lines.go). -m serves GET /metrics, and
// nothing else, over TCP. -l serves the API and the page (page.go) over
// TCP to callers with a token (auth.go), over TLS unless the address is a
// loopback one.
package svhttpd

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"svkit/internal/diag"
	"svkit/internal/sgetopt"
)

const prog = "svhttpd"

// Synopsis is the usage line.
const Synopsis = "svhttpd [-s socket] [-M mode] [-g group] [-m host:port] [-c clients] [-l host:port -a tokendir [-C cert -K key]] scandir"

// Defaults.
const (
	DefaultSocket  = "/run/svkit/svhttpd.sock"
	DefaultMode    = 0660
	DefaultClients = 256
	keepAlive      = 15 * time.Second
	sseWrite       = 10 * time.Second
)

// Server serves one scan directory.
type Server struct {
	Tree       *Tree
	Hub        *Hub
	MaxClients int           // SSE clients at once
	KeepAlive  time.Duration // between SSE keep-alive comments
	// WriteTimeout bounds each write to an SSE client: one that does not
	// read for that long is disconnected.
	WriteTimeout time.Duration
	helper       string // the program run as HelperName
	stderr       io.Writer
	logMu        sync.Mutex
	clients      atomic.Int32
}

// NewServer starts watching scandir. helper is the svhttpd binary run as
// HelperName for callers other than root ("/proc/self/exe" in svhttpd).
func NewServer(scandir, helper string, stderr io.Writer) (*Server, error) {
	abs, err := filepath.Abs(scandir)
	if err != nil {
		return nil, err
	}
	if !isDir(abs) {
		return nil, &os.PathError{Op: "open", Path: scandir, Err: unix.ENOTDIR}
	}
	s := &Server{Tree: &Tree{Dir: abs}, MaxClients: DefaultClients, KeepAlive: keepAlive, WriteTimeout: sseWrite, helper: helper, stderr: stderr}
	s.Hub, err = NewHub(s.Tree, stderr)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Close stops the hub.
func (s *Server) Close() { s.Hub.Close() }

// logf writes one line to stderr.
func (s *Server) logf(line string) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	io.WriteString(s.stderr, line+"\n")
}

// HTTPServer wraps h with svhttpd's limits: header and idle timeouts, a
// bounded header, and the caller's credentials in each request's context.
func HTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    maxQuery + 8192,
		ConnContext:       withPeer,
		ErrorLog:          nil,
	}
}

// options is the parsed command line.
type options struct {
	socket  string
	mode    os.FileMode
	gid     int // -1: leave the socket's group as created
	metrics string
	clients int
	listen  string // -l: the TCP API's address
	tokens  string // -a: the token directory
	cert    string // -C, -K: TLS certificate and key
	key     string
	dir     string
}

func parse(argv []string, stderr io.Writer) (options, bool) {
	o := options{socket: DefaultSocket, mode: DefaultMode, gid: -1, clients: DefaultClients}
	p := sgetopt.New(argv, "s:M:g:m:c:l:a:C:K:", stderr)
	for c := p.Next(); c != sgetopt.EOF; c = p.Next() {
		switch c {
		case 's':
			o.socket = p.Arg
		case 'M':
			m, err := strconv.ParseUint(p.Arg, 8, 32)
			if err != nil || m > 0777 {
				return o, false
			}
			o.mode = os.FileMode(m)
		case 'g':
			gid, ok := lookupGroup(p.Arg)
			if !ok {
				diag.Warn(stderr, prog, "unknown group: ", p.Arg)
				return o, false
			}
			o.gid = gid
		case 'm':
			o.metrics = p.Arg
		case 'c':
			n, err := strconv.Atoi(p.Arg)
			if err != nil || n < 0 {
				return o, false
			}
			o.clients = n
		case 'l':
			o.listen = p.Arg
		case 'a':
			o.tokens = p.Arg
		case 'C':
			o.cert = p.Arg
		case 'K':
			o.key = p.Arg
		default:
			return o, false
		}
	}
	rest := p.Rest()
	if len(rest) != 1 || o.socket == "" || (o.cert == "") != (o.key == "") {
		return o, false
	}
	o.dir = rest[0]
	return o, true
}

// lookupGroup takes a group name (from /etc/group) or number.
func lookupGroup(s string) (int, bool) {
	if n, err := strconv.ParseUint(s, 10, 31); err == nil {
		return int(n), true
	}
	g, err := user.LookupGroup(s)
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(g.Gid)
	return n, err == nil
}

// Main runs svhttpd (or, called as HelperName, the helper).
func Main(argv []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(argv) > 0 && filepath.Base(argv[0]) == HelperName {
		return helperMain(argv, stdout, stderr)
	}
	o, ok := parse(argv, stderr)
	if !ok {
		return diag.Usage(stderr, prog, Synopsis)
	}
	if msg := checkListen(o); msg != "" {
		return diag.Fatal(stderr, prog, diag.ExitUsage, msg)
	}
	s, err := NewServer(o.dir, "/proc/self/exe", stderr)
	if err != nil {
		return diag.Fatal(stderr, prog, diag.ExitTemp, "unable to watch ", o.dir, ": ", diag.Str(err))
	}
	s.MaxClients = o.clients
	ul, err := ListenUnix(o.socket, o.mode, o.gid)
	if err != nil {
		return diag.Fatal(stderr, prog, diag.ExitTemp, "unable to listen on ", o.socket, ": ", diag.Str(err))
	}
	defer os.Remove(o.socket)
	servers := []*http.Server{HTTPServer(s.Handler())}
	listeners := []net.Listener{ul}
	if o.metrics != "" {
		ml, err := net.Listen("tcp", o.metrics)
		if err != nil {
			ul.Close()
			return diag.Fatal(stderr, prog, diag.ExitTemp, "unable to listen on ", o.metrics, ": ", diag.Str(err))
		}
		servers = append(servers, HTTPServer(s.MetricsHandler()))
		listeners = append(listeners, ml)
	}
	if o.listen != "" {
		var cfg *tls.Config
		if o.cert != "" {
			if cfg, err = tlsConfig(o.cert, o.key); err != nil {
				for _, l := range listeners {
					l.Close()
				}
				return diag.Fatal(stderr, prog, diag.ExitTemp, "unable to load ", o.cert, " and ", o.key, ": ", errStr(err))
			}
		}
		tl, err := listenAPI(o.listen, cfg)
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return diag.Fatal(stderr, prog, diag.ExitTemp, "unable to listen on ", o.listen, ": ", diag.Str(err))
		}
		servers = append(servers, HTTPServer(s.TCPHandler(&Tokens{Dir: o.tokens})))
		listeners = append(listeners, tl)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	failed := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { failed <- srv.Serve(listeners[i]) }()
	}
	code := 0
	select {
	case <-sig:
	case err := <-failed:
		diag.Fatal(stderr, prog, diag.ExitTemp, "unable to serve: ", diag.Str(err))
		code = diag.ExitTemp
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, srv := range servers {
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
	}
	s.Close()
	return code
}

// checkListen checks -l, -a, -C and -K before anything is listened on: a
// TCP listener needs a token directory that CheckDir accepts, and TLS
// unless its host is a loopback address. It returns what is wrong, or "".
func checkListen(o options) string {
	if o.listen == "" {
		if o.tokens != "" || o.cert != "" {
			return "-a, -C and -K go with -l"
		}
		return ""
	}
	if o.tokens == "" {
		return "-l needs a token directory (-a)"
	}
	if err := CheckDir(o.tokens); err != nil {
		return "token directory " + o.tokens + ": " + errStr(err)
	}
	host, _, err := net.SplitHostPort(o.listen)
	if err != nil {
		return "bad -l address " + o.listen + ": " + errStr(err)
	}
	if o.cert == "" && !Loopback(host) {
		return "plain HTTP only on a loopback address: " + o.listen + " needs -C and -K"
	}
	return ""
}

// Loopback reports whether host is a literal loopback address (127.0.0.0/8,
// ::1) or "localhost" (which svhttpd listens on as 127.0.0.1, never
// resolving it). An empty host is every address: not loopback.
func Loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// tlsConfig is crypto/tls's defaults with TLS 1.2 at least.
func tlsConfig(cert, key string) (*tls.Config, error) {
	c, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{c}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}, nil
}

// listenAPI listens on addr (-l), with TLS when cfg is not nil.
func listenAPI(addr string, cfg *tls.Config) (net.Listener, error) {
	if host, port, _ := net.SplitHostPort(addr); host == "localhost" {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil || cfg == nil {
		return l, err
	}
	return tls.NewListener(l, cfg), nil
}

// ListenUnix listens on a unix socket at path with the given mode and
// group (gid -1: svhttpd's own). The socket is made under a temporary name,
// given its mode and group, then renamed into place, so nobody connects
// before the permissions are right. A stale socket (nothing listening) is
// replaced; a live one is an error: another svhttpd runs.
func ListenUnix(path string, mode os.FileMode, gid int) (*net.UnixListener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0755); err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, errors.New("exists and is not a socket")
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, errors.New("in use by another process")
		}
	}
	tmp := path + ".new" + strconv.Itoa(os.Getpid())
	os.Remove(tmp)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, err
	}
	l.SetUnlinkOnClose(false)
	fail := func(err error) (*net.UnixListener, error) {
		l.Close()
		os.Remove(tmp)
		return nil, err
	}
	if gid >= 0 {
		if err := os.Lchown(tmp, -1, gid); err != nil {
			return fail(err)
		}
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	return l, nil
}
