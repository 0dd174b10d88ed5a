package svhttpd

import (
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	check := func(method, path string, kind int, name string, status int) {
		t.Helper()
		r, got, _ := Match(method, path)
		if got != status || r.Kind != kind || r.Name != name {
			t.Errorf("Match(%s %q) = %+v, %d; want kind %d name %q status %d", method, path, r, got, kind, name, status)
		}
	}
	for _, tc := range []struct {
		method, path string
		kind         int
		name         string
	}{
		{"GET", "/healthz", rHealth, ""},
		{"HEAD", "/healthz", rHealth, ""},
		{"GET", "/metrics", rMetrics, ""},
		{"GET", "/v1/services", rList, ""},
		{"GET", "/v1/services/web", rOne, "web"},
		{"GET", "/v1/services/a%20b", rOne, "a b"},
		{"POST", "/v1/services/web/svc", rSvc, "web"},
		{"POST", "/v1/services/web/log/svc", rLogSvc, "web"},
		{"POST", "/v1/svc", rBatch, ""},
		{"GET", "/v1/events", rEvents, ""},
		{"GET", "/v1/services/web/lines", rLines, "web"},
		{"GET", "/v1/lines", rAllLines, ""},
		{"GET", "/", rPage, ""},
		{"HEAD", "/", rPage, ""},
		{"GET", "/static/svhttpd.js", rStatic, "svhttpd.js"},
		{"GET", "/static/svhttpd.css", rStatic, "svhttpd.css"},
		{"GET", "/v1/services/" + strings.Repeat("a", 255), rOne, strings.Repeat("a", 255)},
	} {
		check(tc.method, tc.path, tc.kind, tc.name, 0)
	}
	// Requests refused, as "METHOD path", by the status Match gives them.
	for status, reqs := range map[int][]string{
		405: {"POST /v1/services", "DELETE /v1/services/web", "GET /v1/services/web/svc", "HEAD /v1/events",
			"POST /v1/lines", "HEAD /v1/services/web/lines", "POST /"},
		404: {"GET /v1/services/", "GET /v1/services/..", "GET /v1/services/.", "GET /v1/services/%2e%2e",
			"GET /v1/services/.hidden", "GET /v1/services/a%2Fb", "GET /v1/services/a%2fb", "GET /v1/services/a%00b",
			"GET /v1/services/a%zz", "GET /v1/services/web/", "GET /v1/services/../lines", "GET /v1/services/web/lines/x",
			"GET /v1/services/web/log/lines", "POST /v1/services/web/log", "POST /v1/services/web/x/svc", "GET /v1//services",
			"GET /static/page.html", "GET /static/..%2Fpage.html", "GET /static/", "GET //", "GET ", "GET metrics",
			"GET /v1/services/" + strings.Repeat("a", 256)},
	} {
		for _, req := range reqs {
			method, path, _ := strings.Cut(req, " ")
			check(method, path, 0, "", status)
		}
	}
}

func TestParseLetters(t *testing.T) {
	for in, want := range map[string]string{"u": "u", "dx": "dx", "ddux": "dux", "udopchaitkx": "udopchaitkx"} {
		if got, ok := ParseLetters(in); !ok || got != want {
			t.Errorf("ParseLetters(%q) = %q, %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "U", "z", "u ", "-u", strings.Repeat("u", maxCmd+1)} {
		if _, ok := ParseLetters(in); ok {
			t.Errorf("ParseLetters(%q) accepted", in)
		}
	}
}

func TestWaitParams(t *testing.T) {
	for _, q := range []string{"wait=2", "timeout=-1", "timeout=x", "timeout=", "timeout=+5", "timeout=99999999999"} {
		v, _ := url.ParseQuery(q)
		if _, _, ok := waitParams(v); ok {
			t.Errorf("waitParams(%q) accepted", q)
		}
	}
	v, _ := url.ParseQuery("wait=0&timeout=500")
	if w, d, ok := waitParams(v); !ok || w || d.Milliseconds() != 500 {
		t.Errorf("waitParams(wait=0&timeout=500) = %v %v %v", w, d, ok)
	}
}

// FuzzMatch: any method and path routes without panicking, and a name it
// accepts is always one path component that svscan could run.
func FuzzMatch(f *testing.F) {
	for _, s := range []string{"/v1/services/web", "/v1/services/web/log/svc", "/v1/services/%2e%2e/svc",
		"/v1/services/a%2Fb", "/v1/svc", "/metrics", "//", "/v1/services/%", "/v1/events"} {
		f.Add("GET", s)
		f.Add("POST", s)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		r, status, allow := Match(method, path)
		if status == 0 {
			if r.Kind == rNone {
				t.Fatalf("routed to nothing: %q", path)
			}
			if r.Name != "" && !ValidName(r.Name) {
				t.Fatalf("invalid name %q from %q", r.Name, path)
			}
			if strings.ContainsAny(r.Name, "/\x00") || r.Name == "." || r.Name == ".." {
				t.Fatalf("name %q from %q is a path", r.Name, path)
			}
		}
		if status == http.StatusMethodNotAllowed && allow == "" {
			t.Fatalf("405 without Allow for %s %q", method, path)
		}
		if status != 0 && status != 404 && status != 405 {
			t.Fatalf("status %d for %s %q", status, method, path)
		}
	})
}

// TestSupervisedFromError: whether supervise/ok had a reader, told from
// svstat's error text, and asked again only where svstat did not get
// that far.
func TestSupervisedFromError(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(dir+"/supervise", 0700)
	cases := map[string]bool{
		"supervise not running":                                false,
		"unable to open supervise/ok: file does not exist":     false,
		"unable to open supervise/status: file does not exist": true,
		"unable to read supervise/status: bad format":          true,
		"unable to stat down: access denied":                   false, // asked: no ok FIFO
	}
	for text, want := range cases {
		if got := supervised(dir, text); got != want {
			t.Errorf("supervised(%q) = %v, want %v", text, got, want)
		}
	}
	if e := read("x", dir); e.Err == nil || e.Err.Supervised || e.Err.Error != "unable to open supervise/ok: file does not exist" {
		t.Errorf("read of an unsupervised directory: %+v", e.Err)
	}
}
