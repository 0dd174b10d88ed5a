package svhttpd

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"svkit/internal/testenv"
)

// tokenDir makes a token directory (0700, root's) in dir.
func tokenDir(t *testing.T, dir string) string {
	t.Helper()
	tk := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tk, 0700); err != nil {
		t.Fatal(err)
	}
	return tk
}

// addToken writes the client file name holding token's hash, owned by
// uid, as the man page's one line does.
func addToken(t *testing.T, tk, name, token string, uid int) {
	t.Helper()
	sum := sha256.Sum256([]byte(token))
	p := filepath.Join(tk, name)
	if err := os.WriteFile(p, []byte(hex.EncodeToString(sum[:])+"\n"), 0600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, uid, -1); err != nil {
		t.Fatal(err)
	}
}

// tokenFile is a client of svhttpd's token directory: the file's name, the
// token whose hash it holds, and its owner.
type tokenFile struct {
	name, token string
	uid         int
}

// startTCP makes the token directory tr.root/tokens holding the clients and
// runs svhttpd on tr's scan directory with its TCP API on a free loopback
// port; it returns the daemon, that address and the token directory.
func startTCP(t *testing.T, tr *scanTree, clients ...tokenFile) (d *daemon, addr, tk string) {
	t.Helper()
	tk = tokenDir(t, tr.root)
	for _, c := range clients {
		addToken(t, tk, c.name, c.token, c.uid)
	}
	addr = freePort(t)
	return startDaemon(t, tr.root, tr.scan, "-l", addr, "-a", tk), addr, tk
}

// tcpDo sends a request to url over c (the TCP API's client, or the unix
// socket's for do) with the Authorization header auth (if any) and the
// extra headers hdr, and returns status, headers, body.
func tcpDo(t *testing.T, c *http.Client, method, url, auth string, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, b
}

func basic(user, pass string) string {
	req, _ := http.NewRequest("GET", "http://x/", nil)
	req.SetBasicAuth(user, pass)
	return req.Header.Get("Authorization")
}

// TestTokens: over TCP, nothing without a valid token: none, a wrong one,
// an unknown client, a file others may write or a symbolic link are 401
// with WWW-Authenticate; Basic and Bearer with the right token are served;
// a client added or removed takes effect at the next request.
func TestTokens(t *testing.T) {
	testenv.RequireRoot(t)
	tr := newTree(t)
	d, addr, tk := startTCP(t, tr, tokenFile{"alice", "alice-secret", 0})
	c := &http.Client{Timeout: 10 * time.Second}
	base := "http://" + addr
	for _, tc := range []struct {
		what, auth string
		want       int
	}{
		{"no token", "", 401},
		{"wrong token", basic("alice", "alice-secreT"), 401},
		{"unknown client", basic("bob", "alice-secret"), 401},
		{"dot name", basic(".alice", "alice-secret"), 401},
		{"wrong bearer", "Bearer alice-secre", 401},
		{"other scheme", "Digest alice-secret", 401},
		{"basic", basic("alice", "alice-secret"), 200},
		{"bearer", "Bearer alice-secret", 200},
	} {
		for _, path := range []string{"/", "/v1/services", "/metrics", "/healthz"} {
			code, h, b := tcpDo(t, c, "GET", base+path, tc.auth)
			if code != tc.want {
				t.Errorf("%s: GET %s: %d %s, want %d", tc.what, path, code, b, tc.want)
			}
			if code == 401 && (!strings.HasPrefix(h.Get("WWW-Authenticate"), `Basic realm="svhttpd"`) || object(t, b)["error"] == nil) {
				t.Errorf("%s: 401 without WWW-Authenticate or JSON error: %v %s", tc.what, h, b)
			}
		}
	}
	// A command without a token is refused before anything is sent.
	if code, _, _ := tcpDo(t, c, "POST", base+"/v1/services/web/svc?cmd=d", ""); code != 401 {
		t.Errorf("POST without token: %d", code)
	}

	// Added and removed without a restart.
	addToken(t, tk, "bob", "bob-secret", 0)
	if code, _, b := tcpDo(t, c, "GET", base+"/v1/services", "Bearer bob-secret"); code != 200 {
		t.Errorf("bob after adding: %d %s", code, b)
	}
	os.Remove(filepath.Join(tk, "bob"))
	if code, _, _ := tcpDo(t, c, "GET", base+"/v1/services", basic("bob", "bob-secret")); code != 401 {
		t.Errorf("bob after removing: %d", code)
	}
	// A file others may write is nobody's token, nor is a symbolic link.
	os.Chmod(filepath.Join(tk, "alice"), 0620)
	if code, _, _ := tcpDo(t, c, "GET", base+"/v1/services", basic("alice", "alice-secret")); code != 401 {
		t.Errorf("group-writable file: %d", code)
	}
	if code, _, _ := tcpDo(t, c, "GET", base+"/v1/services", "Bearer alice-secret"); code != 401 {
		t.Errorf("group-writable file, bearer: %d", code)
	}
	if want := "svhttpd: warning: unable to read " + tk + "/alice: writable by others"; !strings.Contains(d.p.Stderr.String(), want) {
		t.Errorf("log lacks %q: %s", want, d.p.Stderr)
	}
	os.Chmod(filepath.Join(tk, "alice"), 0600)
	os.Symlink(filepath.Join(tk, "alice"), filepath.Join(tk, "carol"))
	if code, _, _ := tcpDo(t, c, "GET", base+"/v1/services", basic("carol", "alice-secret")); code != 401 {
		t.Errorf("symbolic link: %d", code)
	}
	// A directory others may write trusts nobody.
	os.Chmod(tk, 0703)
	if code, _, _ := tcpDo(t, c, "GET", base+"/v1/services", basic("alice", "alice-secret")); code != 401 {
		t.Errorf("other-writable directory: %d", code)
	}
	os.Chmod(tk, 0700)
}

// TestListenRefused: svhttpd refuses to start a TCP listener without a
// token directory, with one others may write, or with plain HTTP on an
// address that is not loopback; it exits 100 with svhttpd: fatal (111
// for a certificate it cannot load).
func TestListenRefused(t *testing.T) {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	scan := filepath.Join(dir, "sv")
	os.Mkdir(scan, 0755)
	tk := tokenDir(t, dir)
	open := filepath.Join(dir, "open")
	os.Mkdir(open, 0700)
	os.Chmod(open, 0777)
	sock := filepath.Join(dir, "sock")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-l", "0.0.0.0:0", "-a", tk}, "svhttpd: fatal: plain HTTP only on a loopback address: 0.0.0.0:0 needs -C and -K\n"},
		{[]string{"-l", ":0", "-a", tk}, "svhttpd: fatal: plain HTTP only on a loopback address"},
		{[]string{"-l", "[::]:0", "-a", tk}, "svhttpd: fatal: plain HTTP only on a loopback address"},
		{[]string{"-l", "example.org:0", "-a", tk}, "svhttpd: fatal: plain HTTP only on a loopback address"},
		{[]string{"-l", "127.0.0.1:0"}, "svhttpd: fatal: -l needs a token directory (-a)\n"},
		{[]string{"-l", "127.0.0.1:0", "-a", open}, "svhttpd: fatal: token directory " + open + ": writable by others\n"},
		{[]string{"-a", tk}, "svhttpd: fatal: -a, -C and -K go with -l\n"},
	} {
		args := append(append([]string{"-s", sock}, tc.args...), scan)
		_, errOut, code := testenv.Run(t, dir, "", testenv.Prog(t, "svhttpd"), args...)
		if code != 100 || !strings.HasPrefix(errOut, tc.want) {
			t.Errorf("svhttpd %v: exit %d, %q; want 100, %q", tc.args, code, errOut, tc.want)
		}
	}
	// A certificate that cannot be loaded: 111, as a socket that cannot be
	// listened on.
	_, errOut, code := testenv.Run(t, dir, "", testenv.Prog(t, "svhttpd"), "-s", sock, "-l", "127.0.0.1:0", "-a", tk, "-C", dir+"/nosuch", "-K", dir+"/nosuch", scan)
	if want := "svhttpd: fatal: unable to load " + dir + "/nosuch and " + dir + "/nosuch: file does not exist\n"; code != 111 || errOut != want {
		t.Errorf("missing certificate: exit %d, %q; want 111, %q", code, errOut, want)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key into dir and
// returns their paths and a pool that trusts it.
func selfSigned(t *testing.T, dir string) (cert, key string, pool *x509.CertPool) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "svhttpd test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0644)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0600)
	c, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return cert, key, pool
}

// TestTLS: with -C and -K, svhttpd listens on every address (not only
// loopback) over TLS 1.2 or later; plain HTTP and TLS 1.1 are refused;
// Prometheus' bearer_token_file scrape works as the README shows it (curl
// --oauth2-bearer), and so does a command.
func TestTLS(t *testing.T) {
	testenv.RequireRoot(t)
	curl, err := exec.LookPath("curl")
	testenv.Require(t, err == nil, "curl is not installed (scripts/deps installs it)")
	tr := newTree(t)
	tr.svscan(t)
	tk := tokenDir(t, tr.root)
	addToken(t, tk, "prometheus", "scrape-token", 0)
	cert, key, pool := selfSigned(t, tr.root)
	port := freePort(t)[len("127.0.0.1:"):]
	d := startDaemon(t, tr.root, tr.scan, "-l", "0.0.0.0:"+port, "-a", tk, "-C", cert, "-K", key)
	url := "https://127.0.0.1:" + port
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	code, _, b := tcpDo(t, c, "GET", url+"/v1/services/web", "Bearer scrape-token")
	if code != 200 || object(t, b)["may_control"] != true {
		t.Fatalf("GET over TLS: %d %s", code, b)
	}
	if code, _, _ := tcpDo(t, c, "GET", url+"/v1/services/web", "Bearer wrong"); code != 401 {
		t.Errorf("wrong token over TLS: %d", code)
	}
	// Events over HTTP/2, as a browser gets them.
	h2 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	req, _ := http.NewRequest("GET", url+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer scrape-token")
	resp, err := h2.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Proto != "HTTP/2.0" || resp.StatusCode != 200 {
		t.Errorf("events over TLS: %s %d", resp.Proto, resp.StatusCode)
	}
	ev := &sse{resp: resp, r: bufio.NewReader(resp.Body), evs: make(chan sseEvent, 100)}
	go ev.read()
	if first := ev.next(t, 5*time.Second); first.kind != "snapshot" {
		t.Errorf("first event over HTTP/2: %s", first.kind)
	}
	resp.Body.Close()
	old := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}}
	if resp, err := old.Get(url + "/healthz"); err == nil {
		resp.Body.Close()
		t.Error("TLS 1.1 accepted")
	}
	if code, _, _ := tcpDo(t, &http.Client{Timeout: 10 * time.Second}, "GET", "http://127.0.0.1:"+port+"/healthz", "Bearer scrape-token"); code != 400 {
		t.Errorf("plain HTTP to the TLS port: %d, want 400", code)
	}
	caFile := cert
	out, err := exec.Command(curl, "-sS", "--cacert", caFile, "--oauth2-bearer", "scrape-token", url+"/metrics").Output()
	if err != nil || !strings.Contains(string(out), `svkit_service_up{service="web"} 1`) {
		t.Errorf("curl /metrics with a bearer token: %v %s", err, out)
	}
	out, err = exec.Command(curl, "-sS", "--cacert", caFile, "-u", "prometheus:scrape-token", "-X", "POST", url+"/v1/services/web/svc?cmd=d").Output()
	if err != nil || !strings.Contains(string(out), `"wanted":"down"`) {
		t.Errorf("curl POST over TLS: %v %s", err, out)
	}
	if log := d.p.Stderr.String(); !strings.Contains(log, `client "prometheus" uid 0 gid 0: svc -d "web": 200`) {
		t.Errorf("audit log: %s", log)
	}
}

// TestClientPermission: a client acts as its file's owner. A token whose
// file belongs to nobody reads everything but controls nothing of root's
// (may_control false, a command 403, nothing sent); a service whose
// control FIFO is given to a group nobody belongs to in /etc/group becomes
// its to control. root's token controls all.
func TestClientPermission(t *testing.T) {
	testenv.RequireRoot(t)
	tr := newTree(t)
	tr.svscan(t)
	d, addr, _ := startTCP(t, tr, tokenFile{"viewer", "viewer-token", 65534}, tokenFile{"admin", "admin-token", 0})
	c := &http.Client{Timeout: 10 * time.Second}
	base := "http://" + addr
	may := func(auth string) map[string]any {
		t.Helper()
		code, _, b := tcpDo(t, c, "GET", base+"/v1/services", auth)
		var list []map[string]any
		if code != 200 || json.Unmarshal(b, &list) != nil {
			t.Fatalf("GET /v1/services: %d %s", code, b)
		}
		m := map[string]any{}
		for _, o := range list {
			m[o["name"].(string)] = o["may_control"]
		}
		return m
	}
	if m := may("Bearer viewer-token"); m["web"] != false || m["db"] != false {
		t.Errorf("nobody's may_control: %v", m)
	}
	if m := may("Bearer admin-token"); m["web"] != true || m["db"] != true {
		t.Errorf("root's may_control: %v", m)
	}
	code, _, b := tcpDo(t, c, "POST", base+"/v1/services/web/svc?cmd=d", basic("viewer", "viewer-token"))
	if code != 403 || object(t, b)["error"] != "permission denied" {
		t.Errorf("nobody's command: %d %s, want 403", code, b)
	}
	if d.get(t, "web")["wanted"] != "up" {
		t.Fatal("a refused command was sent")
	}
	// Group users gets web's FIFO; /etc/group makes nobody a member.
	web := filepath.Join(tr.scan, "web")
	for _, cmd := range [][]string{
		{"chgrp", "users", web + "/supervise", web + "/supervise/control"},
		{"chmod", "710", web + "/supervise"},
		{"chmod", "620", web + "/supervise/control"},
	} {
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", cmd, err, out)
		}
	}
	addMember(t, "users", "nobody")
	if m := may("Bearer viewer-token"); m["web"] != true || m["db"] != false {
		t.Errorf("nobody's may_control with group users: %v", m)
	}
	code, _, b = tcpDo(t, c, "POST", base+"/v1/services/web/svc?cmd=d", basic("viewer", "viewer-token"))
	if code != 200 || object(t, b)["wanted"] != "down" {
		t.Errorf("nobody's command with group users: %d %s", code, b)
	}
	code, _, b = tcpDo(t, c, "GET", base+"/v1/services/db", basic("viewer", "viewer-token"))
	if code != 200 || object(t, b)["may_control"] != false {
		t.Errorf("nobody's GET db: %d %s", code, b)
	}
	log := d.p.Stderr.String()
	for _, want := range []string{`client "viewer" uid 65534 gid 65534: svc -d "web": 403 permission denied`, `client "viewer" uid 65534 gid 65534: svc -d "web": 200`} {
		if !strings.Contains(log, want) {
			t.Errorf("audit log lacks %q:\n%s", want, log)
		}
	}
}

// TestCrossOrigin: a POST a browser marks as coming from another origin is
// refused 403, on the TCP listener with a valid token and on the unix
// socket alike, and nothing is sent; the same POST from the page's own
// origin, or from curl (no such headers), is served.
func TestCrossOrigin(t *testing.T) {
	testenv.RequireRoot(t)
	tr := newTree(t)
	tr.svscan(t)
	d, addr, _ := startTCP(t, tr, tokenFile{"admin", "admin-token", 0})
	c := &http.Client{Timeout: 10 * time.Second}
	url := "http://" + addr + "/v1/services/web/svc?cmd=d"
	auth := basic("admin", "admin-token")
	for _, hdr := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
		{"Origin", "http://evil.example"},
	} {
		code, _, b := tcpDo(t, c, "POST", url, auth, hdr...)
		if code != 403 || object(t, b)["error"] != "cross-origin request refused" {
			t.Errorf("POST with %v: %d %s, want 403", hdr, code, b)
		}
		req, _ := http.NewRequest("POST", "http://svhttpd/v1/services/web/svc?cmd=d", nil)
		req.Header.Set(hdr[0], hdr[1])
		resp, err := d.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Errorf("unix socket POST with %v: %d, want 403", hdr, resp.StatusCode)
		}
	}
	if d.get(t, "web")["wanted"] != "up" {
		t.Fatal("a cross-origin command was sent")
	}
	if !strings.Contains(d.p.Stderr.String(), `svhttpd: warning: cross-origin request refused: POST "/v1/services/web/svc" Sec-Fetch-Site "cross-site"`) {
		t.Errorf("no warning for the refusal: %s", d.p.Stderr)
	}
	// A GET from another origin reads nothing it could not read anyway:
	// it is served (the browser keeps the answer from the other page).
	if code, _, _ := tcpDo(t, c, "GET", "http://"+addr+"/v1/services/web", auth, "Sec-Fetch-Site", "cross-site"); code != 200 {
		t.Errorf("cross-site GET: %d", code)
	}
	code, _, b := tcpDo(t, c, "POST", url, auth, "Sec-Fetch-Site", "same-origin", "Origin", "http://"+addr)
	if code != 200 || object(t, b)["wanted"] != "down" {
		t.Errorf("same-origin POST: %d %s", code, b)
	}
}

// TestPageHeaders: the page and its files carry the Content-Security-Policy
// (no inline script or style, no framing) and the page shows every service
// without its script.
func TestPageHeaders(t *testing.T) {
	_, sock, _ := inproc(t, "web", "db", "a&b<c>")
	c := unixClient(sock)
	resp, err := c.Get("http://svhttpd/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	h := resp.Header
	if resp.StatusCode != 200 || h.Get("Content-Type") != "text/html; charset=utf-8" ||
		!strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self';") ||
		!strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") || h.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("GET /: %d %v", resp.StatusCode, h)
	}
	page := string(b)
	for _, want := range []string{`data-name="web"`, `data-name="db"`, `data-name="a&amp;b&lt;c&gt;"`, `<meta name="viewport"`, `src="/static/svhttpd.js"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(page, "<script>") || strings.Contains(page, "style=") || strings.Contains(page, "onclick") {
		t.Error("inline script or style in the page")
	}
	for path, ct := range map[string]string{"/static/svhttpd.js": "text/javascript; charset=utf-8", "/static/svhttpd.css": "text/css; charset=utf-8"} {
		resp, err := c.Get("http://svhttpd" + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ct || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: %d %v", path, resp.StatusCode, resp.Header)
		}
	}
	if code, _ := do(t, c, "GET", "/static/nosuch.js"); code != 404 {
		t.Errorf("unknown static file: %d", code)
	}
	if code, _ := do(t, c, "POST", "/"); code != 405 {
		t.Errorf("POST /: %d", code)
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{-time.Second, "0s"}, {42 * time.Second, "42s"}, {312 * time.Second, "5m 12s"},
		{3*time.Hour + 4*time.Minute + 5*time.Second, "3h 4m"}, {51 * time.Hour, "2d 3h"}} {
		if got := Duration(tc.d); got != tc.want {
			t.Errorf("Duration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestCredentials(t *testing.T) {
	for _, tc := range []struct {
		header, user, token string
		ok                  bool
	}{
		{basic("alice", "s3:cret"), "alice", "s3:cret", true},
		{"bearer  tok", "", "tok", true},
		{"Bearer tok en", "", "", false},
		{"Bearer ", "", "", false},
		{basic("", "x"), "", "", false},
		{basic("..", "x"), "", "", false},
		{basic("a/b", "x"), "", "", false},
		{basic("alice", ""), "", "", false},
		{"Basic !!!", "", "", false},
		{"Basic", "", "", false},
		{"", "", "", false},
	} {
		u, tok, ok := Credentials(tc.header)
		if u != tc.user || tok != tc.token || ok != tc.ok {
			t.Errorf("Credentials(%q) = %q %q %v", tc.header, u, tok, ok)
		}
	}
}

func TestLoopback(t *testing.T) {
	for host, want := range map[string]bool{"127.0.0.1": true, "127.9.8.7": true, "::1": true, "localhost": true,
		"": false, "0.0.0.0": false, "::": false, "10.0.0.1": false, "example.org": false, "localhost.": false, "::ffff:127.0.0.1": true} {
		if Loopback(host) != want {
			t.Errorf("Loopback(%q) = %v", host, !want)
		}
	}
}

// FuzzAuth: any Authorization header, method and target through the TCP
// handler: no panic; served only with alice's token (Basic as alice, or
// Bearer), else 401 with WWW-Authenticate and a JSON error; every answer
// but a success is JSON.
func FuzzAuth(f *testing.F) {
	dir := f.TempDir()
	scan := filepath.Join(dir, "sv")
	os.MkdirAll(filepath.Join(scan, "web", "log"), 0755)
	tk := filepath.Join(dir, "tokens")
	os.Mkdir(tk, 0700)
	sum := sha256.Sum256([]byte("alice-secret"))
	os.WriteFile(filepath.Join(tk, "alice"), []byte(hex.EncodeToString(sum[:])+"\n"), 0600)
	os.WriteFile(filepath.Join(tk, "bad"), []byte("not a hash\n"), 0600)
	s, err := NewServer(scan, "/nonexistent", io.Discard)
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	h := s.TCPHandler(&Tokens{Dir: tk})
	for _, seed := range [][3]string{{"GET", "/", basic("alice", "alice-secret")}, {"GET", "/v1/services", "Bearer alice-secret"},
		{"POST", "/v1/svc?cmd=d&service=*", basic("alice", "alice-secret")}, {"GET", "/", basic("bad", "x")},
		{"GET", "/metrics", "Bearer  alice-secret"}, {"GET", "/", "Basic YWxpY2U6"}, {"GET", "/", "basic !"},
		{"GET", "/static/svhttpd.css", basic("../tokens/alice", "alice-secret")}} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, method, target, auth string) {
		if !validMethod(method) {
			return
		}
		u, err := url.ParseRequestURI(target)
		if err != nil || u.Path == "/v1/events" || strings.Contains(u.RawQuery, "follow") {
			return
		}
		user, token, ok := Credentials(auth)
		valid := ok && token == "alice-secret" && (user == "alice" || user == "")
		r := &http.Request{Method: method, URL: u, Header: http.Header{"Authorization": {auth}}, Body: http.NoBody, Host: "x", RequestURI: target}
		r = r.WithContext(withPeerValue(context.Background(), &Peer{}))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if !valid {
			if w.Code != 401 || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Basic ") {
				t.Fatalf("%s %q with %q: %d, want 401", method, target, auth, w.Code)
			}
		} else if w.Code == 401 {
			t.Fatalf("%s %q with alice's token: 401", method, target)
		}
		if w.Code != 200 && w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%s %q: %d with %q", method, target, w.Code, w.Header().Get("Content-Type"))
		}
	})
}
