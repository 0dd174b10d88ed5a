package svstat

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"svkit/pkg/svdir"
)

// objectKeys are the keys of every Object line, in order.
var objectKeys = []string{"dir", "state", "wanted", "pid", "since_ns", "since_time", "ready",
	"ready_since_ns", "ready_since_time", "last_exit_code", "last_exit_signal", "last_exit_ns",
	"last_exit_time", "restarts", "backoff_until_ns", "backoff_until_time", "normally_up",
	"paused", "started_ns", "started_time", "status_text", "start_failures", "last_start_error",
	"last_start_error_ns", "last_start_error_time", "supervisor_pid", "failed", "failed_reason",
	"failed_ns", "failed_time", "waiting_for"}

// decodeLine decodes one JSON line into a map and checks its key set and
// key order against want.
func decodeLine(t *testing.T, line string, want []string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("bad JSON %q: %v", line, err)
	}
	var order []string
	dec := json.NewDecoder(strings.NewReader(line))
	dec.Token() // {
	for dec.More() {
		k, _ := dec.Token()
		order = append(order, k.(string))
		var v any
		dec.Decode(&v)
	}
	if !reflect.DeepEqual(order, want) {
		t.Errorf("keys %q, want %q", order, want)
	}
	return m
}

// writeInfo writes dir/supervise/info.
func writeInfo(t *testing.T, dir string, in svdir.Info) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, svdir.InfoPath), in.Encode(), 0644); err != nil {
		t.Fatal(err)
	}
}

func TestJSONObjects(t *testing.T) {
	root := t.TempDir()
	when := time.Unix(1700000000, 123456000)
	sinceNs := int64(1700000000123456500) // TAI64N stamps carry µs*1000+500
	i64 := func(v int64) *int64 { return &v }
	num := func(v int) *int { return &v }
	str := func(v string) *string { return &v }
	yes, no := true, false
	mk := func(name string, st []byte, in *svdir.Info, down bool) string {
		dir := filepath.Join(root, name)
		os.MkdirAll(dir, 0755)
		running(t, dir, st)
		if in != nil {
			writeInfo(t, dir, *in)
		}
		if down {
			touch(t, filepath.Join(dir, "down"))
		}
		return dir
	}
	base := func(dir, state, wanted string, pid uint32) Object {
		o := Object{Dir: dir, State: state, Pid: pid, SinceNs: i64(sinceNs), SinceTime: str("2023-11-14T22:13:20.1234565Z"), NormallyUp: true}
		if wanted != "" {
			o.Wanted = str(wanted)
		}
		return o
	}
	withInfo := func(o Object, f func(o *Object)) Object {
		o.Ready, o.Restarts, o.StatusText, o.StartFailures, o.Failed = &no, num(0), str(""), num(0), &no
		o.WaitingFor = []string{}
		f(&o)
		return o
	}
	upInfo := svdir.Info{State: "up", Pid: 42, Since: sinceNs, Ready: true, ReadySince: sinceNs + 5e8,
		Started: sinceNs, ExitCode: -1, Restarts: 3, StatusText: `serving "x" <ok> & ünïcode`}

	var tests []struct {
		dir  string
		want Object
	}
	add := func(dir string, want Object) {
		// Every _ns key's _time twin: the same moment in RFC 3339, UTC.
		twin := func(ns *int64) *string {
			if ns == nil {
				return nil
			}
			return str(time.Unix(0, *ns).UTC().Format(time.RFC3339Nano))
		}
		want.ReadySinceTime, want.LastExitTime, want.BackoffUntilTime = twin(want.ReadySinceNs), twin(want.LastExitNs), twin(want.BackoffUntilNs)
		want.StartedTime, want.LastStartErrorTime = twin(want.StartedNs), twin(want.LastStartErrorNs)
		want.FailedTime = twin(want.FailedNs)
		tests = append(tests, struct {
			dir  string
			want Object
		}{dir, want})
	}

	// 0.76's supervise: no info, everything from it is null.
	d := mk("up", record(when, 42, 0, 'u'), nil, false)
	add(d, base(d, "up", "up", 42))
	d = mk("down", record(when, 0, 0, 'd'), nil, true)
	o := base(d, "down", "down", 0)
	o.NormallyUp = false
	add(d, o)
	d = mk("paused", record(when, 42, 1, 'u'), nil, false)
	o = base(d, "up", "up", 42)
	o.Paused = true
	add(d, o)
	d = mk("pauseddown", record(when, 0, 1, 'u'), nil, false) // paused only counts when up
	add(d, base(d, "down", "up", 0))
	d = mk("wantdown", record(when, 42, 0, 'd'), nil, false)
	add(d, base(d, "up", "down", 42))
	d = mk("once", record(when, 42, 0, 0), nil, false)
	add(d, base(d, "up", "once", 42))
	d = mk("normallydown", record(when, 42, 0, 'u'), nil, true)
	o = base(d, "up", "up", 42)
	o.NormallyUp = false
	add(d, o)
	d = mk("oddwant", record(when, 42, 0, 'x'), nil, false)
	add(d, base(d, "up", "", 42))
	d = mk("bigpid", record(when, 0xffffffff, 0, 'u'), nil, false)
	add(d, base(d, "up", "up", 0xffffffff))
	d = mk("zerostamp", make([]byte, 18), nil, false)
	o = base(d, "down", "once", 0)
	o.SinceNs, o.SinceTime = nil, nil // 2^62 seconds before the epoch do not fit
	add(d, o)

	// svkit's supervise.
	d = mk("ready", record(when, 42, 0, 'u'), &upInfo, false)
	add(d, withInfo(base(d, "up", "up", 42), func(o *Object) {
		o.Ready, o.ReadySinceNs, o.Restarts, o.StartedNs, o.StatusText = &yes, i64(sinceNs+5e8), num(3), i64(sinceNs), str(upInfo.StatusText)
	}))
	notReady := upInfo
	notReady.Ready, notReady.ReadySince, notReady.StatusText = false, 0, ""
	d = mk("notready", record(when, 42, 0, 'u'), &notReady, false)
	add(d, withInfo(base(d, "up", "up", 42), func(o *Object) {
		o.Restarts, o.StartedNs = num(3), i64(sinceNs)
	}))
	exited := svdir.Info{State: "down", Since: sinceNs, Started: sinceNs - 1e9, ExitCode: 3}
	d = mk("exited", record(when, 0, 0, 'd'), &exited, false)
	add(d, withInfo(base(d, "down", "down", 0), func(o *Object) {
		o.LastExitCode, o.StartedNs = num(3), i64(sinceNs-1e9)
	}))
	killed := svdir.Info{State: "finish", Since: sinceNs, Started: sinceNs - 1e9, ExitCode: -1, ExitSignal: 9, Restarts: 1}
	d = mk("finish", record(when, 0, 0, 'u'), &killed, false)
	add(d, withInfo(base(d, "finish", "up", 0), func(o *Object) {
		o.LastExitSignal, o.StartedNs, o.Restarts = num(9), i64(sinceNs-1e9), num(1)
	}))
	backoff := svdir.Info{State: "down", Since: sinceNs, Started: sinceNs - 1e9, ExitCode: 1, Restarts: 5, Backoff: sinceNs + 4e9}
	d = mk("backoff", record(when, 0, 0, 'u'), &backoff, false)
	add(d, withInfo(base(d, "down", "up", 0), func(o *Object) {
		o.LastExitCode, o.StartedNs, o.Restarts, o.BackoffUntilNs = num(1), i64(sinceNs-1e9), num(5), i64(sinceNs+4e9)
	}))
	failing := svdir.Info{State: "down", Since: sinceNs, ExitCode: 1, Exited: sinceNs - 2e9, Restarts: 2, Supervisor: 4242,
		StartError: "run is not executable (chmod +x run)", StartErrorAt: sinceNs, StartFailures: 2, StartFailedSince: sinceNs - 1e9}
	d = mk("failing", record(when, 0, 0, 'u'), &failing, false)
	add(d, withInfo(base(d, "down", "up", 0), func(o *Object) {
		o.LastExitCode, o.LastExitNs, o.Restarts, o.SupervisorPid = num(1), i64(sinceNs-2e9), num(2), num(4242)
		o.StartFailures, o.LastStartError, o.LastStartErrorNs = num(2), str("run is not executable (chmod +x run)"), i64(sinceNs)
	}))
	gaveUp := svdir.Info{State: "down", Since: sinceNs, Started: sinceNs - 1e9, ExitCode: 1, Exited: sinceNs, Supervisor: 4242,
		Failed: true, FailedReason: "died 3 times in 10 seconds (exit 1)", FailedAt: sinceNs, FailedBoot: "b"}
	d = mk("failed", record(when, 0, 0, 'd'), &gaveUp, false)
	add(d, withInfo(base(d, "down", "down", 0), func(o *Object) {
		o.LastExitCode, o.LastExitNs, o.StartedNs, o.SupervisorPid = num(1), i64(sinceNs), i64(sinceNs-1e9), num(4242)
		o.Failed, o.FailedReason, o.FailedNs = &yes, str("died 3 times in 10 seconds (exit 1)"), i64(sinceNs)
	}))
	waiting := svdir.Info{State: "down", Since: sinceNs, ExitCode: -1, WaitingFor: []string{"db", "cache"}}
	d = mk("waiting", record(when, 0, 0, 'u'), &waiting, false)
	add(d, withInfo(base(d, "down", "up", 0), func(o *Object) { o.WaitingFor = []string{"db", "cache"} }))
	never := svdir.Info{State: "down", Since: sinceNs, ExitCode: -1}
	d = mk("never", record(when, 0, 0, 'd'), &never, true)
	o = withInfo(base(d, "down", "down", 0), func(o *Object) {})
	o.NormallyUp = false
	add(d, o)
	// An info that describes another process (left by an earlier supervise,
	// or not yet rewritten) is not used.
	d = mk("stale", record(when, 43, 0, 'u'), &upInfo, false)
	add(d, base(d, "up", "up", 43))
	d = mk("staledown", record(when, 0, 0, 'u'), &upInfo, false)
	add(d, base(d, "down", "up", 0))
	oldDown := svdir.Info{State: "finish", Since: sinceNs - 1e9, ExitCode: -1}
	d = mk("staleagain", record(when, 0, 0, 'u'), &oldDown, false) // same pid 0, an older stamp
	add(d, base(d, "down", "up", 0))
	nosince := svdir.Info{State: "down", ExitCode: 2, Restarts: 1}
	d = mk("nosince", record(when, 0, 0, 'u'), &nosince, false) // since 0 is not checked
	add(d, withInfo(base(d, "down", "up", 0), func(o *Object) { o.LastExitCode, o.Restarts = num(2), num(1) }))
	d = mk("badinfo", record(when, 42, 0, 'u'), nil, false)
	os.WriteFile(filepath.Join(d, svdir.InfoPath), []byte("garbage\n"), 0644)
	add(d, base(d, "up", "up", 42))
	d = mk("infodir", record(when, 42, 0, 'u'), nil, false)
	os.Mkdir(filepath.Join(d, svdir.InfoPath), 0755)
	add(d, base(d, "up", "up", 42))

	var args []string
	for _, tc := range tests {
		got, ok := JSON(tc.dir).(Object)
		if !ok {
			t.Errorf("%s: JSON returned %#v", tc.dir, JSON(tc.dir))
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(tc.want)
			t.Errorf("%s:\n got %s\nwant %s", filepath.Base(tc.dir), g, w)
		}
		args = append(args, tc.dir)
	}

	// The same through Main, decoded from its output.
	var out, errb bytes.Buffer
	if code := Main(append([]string{"svstat", "-j"}, args...), nil, &out, &errb); code != 0 || errb.Len() != 0 {
		t.Fatalf("Main -j: code %d, stderr %q", code, errb.String())
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != len(tests) {
		t.Fatalf("%d lines for %d dirs:\n%s", len(lines), len(tests), out.String())
	}
	for i, line := range lines {
		decodeLine(t, line, objectKeys)
		var got Object
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tests[i].want) {
			t.Errorf("line %d: %s", i, line)
		}
	}
	if !strings.Contains(out.String(), `"status_text":"serving \"x\" <ok> & ünïcode"`) {
		t.Errorf("status text not escaped as expected:\n%s", out.String())
	}
	if !strings.Contains(out.String(), `"wanted":null`) || !strings.Contains(out.String(), `"ready":null`) {
		t.Errorf("no nulls:\n%s", out.String())
	}
}

// TestJSONErrors: every error line of svstat becomes {"dir","error"} with
// the same text.
func TestJSONErrors(t *testing.T) {
	now := time.Now()
	root, fs := build(t, now)
	seen := map[string]bool{}
	for _, f := range fs {
		dir := filepath.Join(root, f.name)
		isErr := !strings.HasPrefix(f.want, "up ") && !strings.HasPrefix(f.want, "down ")
		got := JSON(dir)
		if !isErr {
			if _, ok := got.(Object); !ok {
				t.Errorf("%s: %#v, want an Object", f.name, got)
			}
			continue
		}
		want := ErrorObject{Dir: dir, Error: f.want}
		if got != any(want) {
			t.Errorf("%s: %#v, want %#v", f.name, got, want)
		}
		seen[strings.SplitN(f.want, ":", 2)[0]] = true
		var out bytes.Buffer
		Main([]string{"svstat", "-j", dir}, nil, &out, &out)
		m := decodeLine(t, strings.TrimSuffix(out.String(), "\n"), []string{"dir", "error"})
		if m["error"] != f.want || m["dir"] != dir {
			t.Errorf("%s: %s", f.name, out.String())
		}
	}
	var kinds []string
	for k := range seen {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	want := []string{"supervise not running", "unable to chdir", "unable to open supervise/ok",
		"unable to open supervise/status", "unable to read supervise/status", "unable to stat down"}
	if !reflect.DeepEqual(kinds, want) {
		t.Errorf("error variants covered: %q, want %q", kinds, want)
	}
}

// TestMainArgs: only an exact first "-j" selects JSON; "--" right after it
// is skipped; everything else stays 0.76's svstat.
func TestMainArgs(t *testing.T) {
	root := t.TempDir()
	t.Chdir(root)
	os.Mkdir("-j", 0755)
	running(t, "-j", record(time.Now().Add(time.Hour), 5, 0, 'u'))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-j"}, ""},
		{[]string{"-j", "--"}, ""},
		{[]string{"-j", "--", "-j"}, `{"dir":"-j","state":"up",`},
		{[]string{"-j", "-j"}, `{"dir":"-j","state":"up",`},
		{[]string{"-j", "nodir"}, `{"dir":"nodir","error":"unable to chdir: file does not exist"}` + "\n"},
		{[]string{"-j", "--", "--"}, `{"dir":"--","error":"unable to chdir: file does not exist"}` + "\n"},
		{[]string{"./-j"}, "./-j: up (pid 5) 0 seconds\n"},
		{[]string{"--", "-j"}, "--: unable to chdir: file does not exist\n-j: up (pid 5) 0 seconds\n"},
		{[]string{"nodir", "-j"}, "nodir: unable to chdir: file does not exist\n-j: up (pid 5) 0 seconds\n"},
		{[]string{"-jj"}, "-jj: unable to chdir: file does not exist\n"},
		{[]string{"-J"}, "-J: unable to chdir: file does not exist\n"},
	} {
		var out, errb bytes.Buffer
		code := Main(append([]string{"svstat"}, tc.args...), nil, &out, &errb)
		if code != 0 || errb.Len() != 0 || !strings.HasPrefix(out.String(), tc.want) || (tc.want == "" && out.Len() != 0) {
			t.Errorf("svstat %q: code %d, stdout %q, stderr %q; want stdout starting %q", tc.args, code, out.String(), errb.String(), tc.want)
		}
	}
}

func FuzzBuild(f *testing.F) {
	rec := record(time.Unix(1700000000, 0), 42, 1, 'u')
	in := svdir.Info{State: "up", Pid: 42, Ready: true, StatusText: "a\"b\\c\x01<>"}
	f.Add(rec, in.Encode(), true)
	f.Add(make([]byte, 18), []byte("state=finish\npid=0\nexitsignal=9\n"), false)
	f.Add([]byte("short"), []byte("x"), true)
	f.Fuzz(func(t *testing.T, st, info []byte, normallyUp bool) {
		r, err := svdir.DecodeStatus(st)
		if err != nil {
			return
		}
		s := svdir.State{Status: r}
		if in, err := svdir.DecodeInfo(info); err == nil {
			s.Info = &in
			s.Current = svdir.Current(r, &in)
		}
		o := Build("d\xff\n", s, normallyUp)
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(o); err != nil {
			t.Fatal(err)
		}
		if bytes.Count(b.Bytes(), []byte("\n")) != 1 {
			t.Fatalf("not one line: %q", b.String())
		}
		m := decodeLine(t, strings.TrimSuffix(b.String(), "\n"), objectKeys)
		if m["pid"].(float64) != float64(uint32(r.Pid)) {
			t.Fatalf("pid %v for %d", m["pid"], r.Pid)
		}
		if (m["ready"] == nil) != (s.Info == nil || !s.Current) {
			t.Fatalf("ready %v with info %v current %v", m["ready"], s.Info, s.Current)
		}
		if s.Info == nil && m["state"] != map[bool]string{true: "up", false: "down"}[r.Pid != 0] {
			t.Fatalf("state %v for pid %d", m["state"], r.Pid)
		}
	})
}

// TestDifferentialJ: "-j" anywhere but first, and "--", are directories for
// svkit's svstat exactly as for 0.76's.
func TestDifferentialJ(t *testing.T) {
	root, _ := build(t, time.Now())
	os.Mkdir(filepath.Join(root, "-j"), 0755)
	running(t, filepath.Join(root, "-j"), record(time.Now().Add(-5*time.Second), 9, 0, 'u'))
	for _, args := range [][]string{
		{"--", "-j"},
		{"up", "-j", "-j"},
		{"./-j", "-j"},
		{"-J", "-jj", "-j-", "-j"},
	} {
		debian, svkit := runBoth(t, root, args...)
		if debian != svkit {
			t.Errorf("svstat %q:\nDebian:\n%s\nsvkit:\n%s", args, debian, svkit)
		}
		if !strings.Contains(svkit, "-j: ") {
			t.Errorf("svstat %q: no line for -j:\n%s", args, svkit)
		}
	}
}
