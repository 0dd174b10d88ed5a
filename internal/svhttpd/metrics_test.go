package svhttpd

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"svkit/internal/testenv"
)

// promLint checks the exposition body with promtool's lint, which must
// find nothing to say.
func promLint(t *testing.T, body []byte) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	testenv.Require(t, err == nil, "promtool is not installed (scripts/deps installs Debian's prometheus)")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) != 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestMetrics: /metrics on the TCP listener parses with Prometheus' own
// parser, has every family with the right values and labels, passes
// promtool's lint, and is all that listener serves.
func TestMetrics(t *testing.T) {
	tr := newTree(t)
	tr.svscan(t)
	addr := freePort(t)
	d := startDaemon(t, tr.root, tr.scan, "-m", addr)
	get := func(path string) (int, []byte) {
		t.Helper()
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	code, body := get("/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics: %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("expfmt: %v\n%s", err, body)
	}
	value := func(name, service string) (float64, bool) {
		f := fams[name]
		if f == nil {
			return 0, false
		}
		for _, m := range f.Metric {
			if len(m.Label) == 1 && m.Label[0].GetName() == "service" && m.Label[0].GetValue() == service {
				switch f.GetType() {
				case dto.MetricType_COUNTER:
					return m.Counter.GetValue(), true
				case dto.MetricType_GAUGE:
					return m.Gauge.GetValue(), true
				}
			}
		}
		return 0, false
	}
	want := []struct {
		name, service string
		v             float64
	}{
		{"svkit_service_up", "web", 1}, {"svkit_service_up", "web/log", 1}, {"svkit_service_up", "db", 0},
		{"svkit_service_ready", "web", 1}, {"svkit_service_ready", "db", 0},
		{"svkit_service_desired_up", "web", 1}, {"svkit_service_desired_up", "db", 0},
		{"svkit_service_normally_up", "web", 1}, {"svkit_service_normally_up", "db", 0},
		{"svkit_service_paused", "web", 0},
		{"svkit_service_supervised", "web", 1}, {"svkit_service_supervised", "web/log", 1},
		{"svkit_service_restarts_total", "web", 0},
	}
	for _, w := range want {
		if v, ok := value(w.name, w.service); !ok || v != w.v {
			t.Errorf("%s{service=%q} = %v (present %v), want %v", w.name, w.service, v, ok, w.v)
		}
	}
	ts, ok := value("svkit_service_state_change_timestamp_seconds", "web")
	if now := float64(time.Now().Unix()); !ok || ts < now-60 || ts > now+1 {
		t.Errorf("state change timestamp of web: %v, now %v", ts, now)
	}
	for name, typ := range map[string]dto.MetricType{"svkit_service_up": dto.MetricType_GAUGE, "svkit_service_restarts_total": dto.MetricType_COUNTER} {
		if fams[name].GetType() != typ {
			t.Errorf("%s: type %v, want %v", name, fams[name].GetType(), typ)
		}
	}
	bi := fams["svkit_build_info"]
	if bi == nil || len(bi.Metric) != 1 || len(bi.Metric[0].Label) != 2 {
		t.Fatalf("svkit_build_info: %v", bi)
	}
	// The service's own cgroup, where supervise could make one.
	if cg, err := os.ReadFile("/proc/self/cgroup"); err == nil && strings.Contains(string(cg), "0::") {
		if v, ok := value("svkit_service_processes", "web"); ok && v < 1 {
			t.Errorf("svkit_service_processes{web} = %v", v)
		}
	}

	// After svc -d and a killed supervise: the figures follow.
	testenv.Run(t, "/", "", testenv.Prog(t, "svc"), "-d", filepath.Join(tr.scan, "web"))
	testenv.WaitFor(t, 5*time.Second, "web down in the metrics", func() bool {
		_, body = get("/metrics")
		fams, err = p.TextToMetricFamilies(bytes.NewReader(body))
		v, _ := value("svkit_service_up", "web")
		return err == nil && v == 0
	})
	if v, _ := value("svkit_service_desired_up", "web"); v != 0 {
		t.Errorf("desired_up of web after svc -d: %v", v)
	}

	// promtool's lint.
	promLint(t, body)

	// The TCP listener serves /metrics and nothing else.
	for _, path := range []string{"/v1/services", "/v1/events", "/healthz", "/"} {
		if code, _ := get(path); code != 404 {
			t.Errorf("TCP GET %s: %d, want 404", path, code)
		}
	}
	resp, err := http.Post("http://"+addr+"/v1/svc?cmd=d&service=*", "", nil)
	if err != nil || resp.StatusCode != 404 {
		t.Errorf("TCP POST /v1/svc: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	// The same figures on the unix socket.
	if code, b := do(t, d.c, "GET", "/metrics"); code != 200 || !bytes.Contains(b, []byte(`svkit_service_up{service="web"} 0`)) {
		t.Errorf("unix GET /metrics: %d %s", code, b)
	}
}

// TestMetricsLabels: label values are escaped as the text format asks.
func TestMetricsLabels(t *testing.T) {
	var b bytes.Buffer
	e := &Entry{Err: &Failed{Name: "a\"b\\c\nd", Error: "x"}}
	WriteMetrics(&b, []*Entry{e})
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(&b)
	if err != nil {
		t.Fatal(err)
	}
	if got := fams["svkit_service_up"].Metric[0].Label[0].GetValue(); got != "a\"b\\c\nd" {
		t.Errorf("label %q", got)
	}
}

// TestVersion: Version is package/version.
func TestVersion(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.Root(), "package/version"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(b)) != Version {
		t.Errorf("Version %q, package/version %q", Version, b)
	}
}

// TestExample: example/svhttpd is a service directory whose run execs
// svhttpd with options it accepts, and whose log/run is executable.
func TestExample(t *testing.T) {
	dir := filepath.Join(testenv.Root(), "example/svhttpd")
	for _, f := range []string{"run", "log/run"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode()&0111 == 0 {
			t.Errorf("%s: not an executable file: %v", f, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "run"))
	if err != nil {
		t.Fatal(err)
	}
	var argv []string
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "exec svhttpd "); ok {
			argv = append([]string{"svhttpd"}, strings.Fields(rest)...)
		}
	}
	var errb bytes.Buffer
	if o, ok := parse(argv, &errb); argv == nil || !ok || o.metrics == "" || o.dir != "/service" {
		t.Errorf("run's svhttpd line %q: %+v %s", argv, o, errb.String())
	}
}

// TestReadSmall: kernel files are read whole up to the limit.
func TestReadSmall(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	data := bytes.Repeat([]byte("12345\n"), 3000)
	os.WriteFile(p, data, 0644)
	if b, err := readSmall(p, 1<<20); err != nil || !bytes.Equal(b, data) {
		t.Errorf("readSmall: %d bytes, %v", len(b), err)
	}
	if b, err := readSmall(p, 100); err != nil || !bytes.Equal(b, data[:100]) {
		t.Errorf("readSmall limit 100: %d bytes, %v", len(b), err)
	}
	if b, err := readSmall("/proc/self/cgroup", 4096); err != nil || len(b) == 0 {
		t.Errorf("/proc/self/cgroup: %q %v", b, err)
	}
}

// TestMetricsFailed: a service that supervise gave up on (permafail) has
// svkit_service_failed 1, the others 0; the API's object says failed and
// why; promtool's lint passes.
func TestMetricsFailed(t *testing.T) {
	tr := newTree(t)
	bad := filepath.Join(tr.scan, "bad")
	testenv.WriteScript(t, filepath.Join(bad, "run"), "exit 1\n")
	if err := os.WriteFile(filepath.Join(bad, "permafail"), []byte("1 60\n"), 0644); err != nil {
		t.Fatal(err)
	}
	tr.svscan(t)
	addr := freePort(t)
	d := startDaemon(t, tr.root, tr.scan, "-m", addr)
	var body []byte
	var fams map[string]*dto.MetricFamily
	failed := func(service string) (float64, bool) {
		for _, m := range fams["svkit_service_failed"].GetMetric() {
			if len(m.Label) == 1 && m.Label[0].GetValue() == service {
				return m.Gauge.GetValue(), true
			}
		}
		return 0, false
	}
	testenv.WaitFor(t, 15*time.Second, "bad failed in the metrics", func() bool {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return false
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		parser := expfmt.NewTextParser(model.LegacyValidation)
		fams, err = parser.TextToMetricFamilies(bytes.NewReader(body))
		v, _ := failed("bad")
		return err == nil && v == 1
	})
	if f := fams["svkit_service_failed"]; f.GetType() != dto.MetricType_GAUGE {
		t.Errorf("svkit_service_failed: type %v", f.GetType())
	}
	for _, s := range []string{"web", "web/log", "db"} {
		if v, ok := failed(s); !ok || v != 0 {
			t.Errorf("svkit_service_failed{service=%q} = %v (present %v), want 0", s, v, ok)
		}
	}
	o := d.get(t, "bad")
	if o["failed"] != true || o["failed_reason"] != "died 1 time in 60 seconds (exit 1)" {
		t.Errorf("API object of bad: failed %v, failed_reason %v", o["failed"], o["failed_reason"])
	}
	promLint(t, body)
}
