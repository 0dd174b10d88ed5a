package svwait

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"svkit/pkg/svdir"
	"svkit/pkg/tai64"
)

func TestReached(t *testing.T) {
	up := svdir.Status{Pid: 42, Want: 'u'}
	down := svdir.Status{Want: 'u'}
	info := func(state string, pid int, ready bool) *svdir.Info {
		return &svdir.Info{State: state, Pid: pid, Ready: ready}
	}
	st := func(r svdir.Status, in *svdir.Info) svdir.State {
		return svdir.State{Status: r, Info: in, Current: svdir.Current(r, in)}
	}
	for _, tc := range []struct {
		name       string
		s          svdir.State
		u, U, d, D bool
	}{
		{"up, no info", st(up, nil), true, true, false, false},
		{"down, no info", st(down, nil), false, false, true, true},
		{"up ready", st(up, info("up", 42, true)), true, true, false, false},
		{"up not ready", st(up, info("up", 42, false)), true, false, false, false},
		{"up, info of an older run says ready", st(up, info("up", 41, true)), true, false, false, false},
		{"up, info still says down", st(up, info("down", 0, false)), true, false, false, false},
		{"down", st(down, info("down", 0, false)), false, false, true, true},
		{"down, finish runs", st(down, info("finish", 0, false)), false, false, true, false},
		{"down, info still says up", st(down, info("up", 42, true)), false, false, true, false},
		{"down in back-off", st(down, &svdir.Info{State: "down", Backoff: 5}), false, false, true, true},
		{"paused up", st(svdir.Status{Pid: 1, Paused: true}, nil), true, true, false, false},
	} {
		for _, m := range []struct {
			mode byte
			want bool
		}{{Up, tc.u}, {UpReady, tc.U}, {Down, tc.d}, {DownFinal, tc.D}} {
			if got := Reached(m.mode, tc.s); got != m.want {
				t.Errorf("%s: Reached(%c) = %v, want %v", tc.name, m.mode, got, m.want)
			}
		}
	}
	// A status that changed while info was read is never reached: the
	// rename's event is still to come.
	for _, m := range []byte{Up, UpReady, Down, DownFinal} {
		for _, r := range []svdir.Status{up, down} {
			s := st(r, nil)
			s.Changing = true
			if Reached(m, s) {
				t.Errorf("changing %+v reached -%c", r, m)
			}
		}
	}
	if Reached('x', st(up, nil)) {
		t.Error("unknown mode reached")
	}
}

func TestParseMS(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"1", time.Millisecond, true},
		{"1500", 1500 * time.Millisecond, true},
		{"007", 7 * time.Millisecond, true},
		{"9223372036854", 9223372036854 * time.Millisecond, true},
		{"9223372036855", time.Duration(1<<63 - 1), true},
		{"99999999999999999999999999", time.Duration(1<<63 - 1), true},
		{"", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{"1s", 0, false},
		{" 1", 0, false},
		{"1.5", 0, false},
	} {
		got, ok := ParseMS(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseMS(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

const usage = "svwait: usage: svwait [-u|-U|-d|-D] [-t ms] dir...\n"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		argv    []string
		mode    byte
		timeout time.Duration
		dirs    []string
		stderr  string // non-empty: a usage error
	}{
		{argv: []string{"svwait", "a"}, mode: Up, dirs: []string{"a"}},
		{argv: []string{"svwait", "-U", "a", "b"}, mode: UpReady, dirs: []string{"a", "b"}},
		{argv: []string{"svwait", "-d", "a"}, mode: Down, dirs: []string{"a"}},
		{argv: []string{"svwait", "-D", "a"}, mode: DownFinal, dirs: []string{"a"}},
		{argv: []string{"svwait", "-uD", "a"}, mode: DownFinal, dirs: []string{"a"}},
		{argv: []string{"svwait", "-D", "-u", "a"}, mode: Up, dirs: []string{"a"}},
		{argv: []string{"svwait", "-t", "250", "a"}, mode: Up, timeout: 250 * time.Millisecond, dirs: []string{"a"}},
		{argv: []string{"svwait", "-dt250", "a"}, mode: Down, timeout: 250 * time.Millisecond, dirs: []string{"a"}},
		{argv: []string{"svwait", "-t", "0", "a"}, mode: Up, dirs: []string{"a"}},
		{argv: []string{"svwait", "--", "-d"}, mode: Up, dirs: []string{"-d"}},
		{argv: []string{"svwait", "-d", "-", "x"}, mode: Down, dirs: []string{"-", "x"}},
		{argv: []string{"svwait", "a", "-d"}, mode: Up, dirs: []string{"a", "-d"}},
		{argv: []string{"svwait"}, stderr: usage},
		{argv: []string{"svwait", "-d"}, stderr: usage},
		{argv: []string{"svwait", "-t", "5"}, stderr: usage},
		{argv: []string{"svwait", "-z", "a"}, stderr: "svwait: illegal option -- z\n" + usage},
		{argv: []string{"/sbin/svwait", "-uz", "a"}, stderr: "svwait: illegal option -- z\n" + usage},
		{argv: []string{"svwait", "-t"}, stderr: "svwait: option requires an argument -- t\n" + usage},
		{argv: []string{"svwait", "-t", "x", "a"}, stderr: usage},
		{argv: []string{"svwait", "-t", "-5", "a"}, stderr: usage},
		{argv: []string{"svwait", "-t", "", "a"}, stderr: usage},
	} {
		var errb bytes.Buffer
		mode, timeout, dirs, ok := Parse(tc.argv, &errb)
		if tc.stderr != "" {
			if ok || errb.String() != tc.stderr {
				t.Errorf("Parse(%q): ok %v, stderr %q; want a usage error %q", tc.argv, ok, errb.String(), tc.stderr)
			}
			var out bytes.Buffer
			errb.Reset()
			if code := Main(tc.argv, nil, &out, &errb); code != 100 || errb.String() != tc.stderr || out.Len() != 0 {
				t.Errorf("Main(%q) = %d, stdout %q, stderr %q; want 100", tc.argv, code, out.String(), errb.String())
			}
			continue
		}
		if !ok || mode != tc.mode || timeout != tc.timeout || strings.Join(dirs, "|") != strings.Join(tc.dirs, "|") || errb.Len() != 0 {
			t.Errorf("Parse(%q) = %c %v %q %v (stderr %q); want %c %v %q", tc.argv, mode, timeout, dirs, ok, errb.String(), tc.mode, tc.timeout, tc.dirs)
		}
	}
}

// fake is a fabricated service directory with a "running" supervise: a
// supervise/ok FIFO held open for reading until the test ends.
type fake struct {
	t   *testing.T
	dir string
}

func newFake(t *testing.T, dir string, r svdir.Status, in *svdir.Info) *fake {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "supervise"), 0700); err != nil {
		t.Fatal(err)
	}
	holdOK(t, dir)
	f := &fake{t, dir}
	f.set(r, in)
	return f
}

func holdOK(t *testing.T, dir string) {
	t.Helper()
	ok := filepath.Join(dir, svdir.OKPath)
	if err := unix.Mkfifo(ok, 0600); err != nil && err != unix.EEXIST {
		t.Fatal(err)
	}
	fd, err := unix.Open(ok, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
}

// replace writes name below supervise/ through a rename, as supervise does.
func (f *fake) replace(name string, b []byte) {
	f.t.Helper()
	p := filepath.Join(f.dir, "supervise", name)
	if err := os.WriteFile(p+".new", b, 0644); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Rename(p+".new", p); err != nil {
		f.t.Fatal(err)
	}
}

// set replaces status, then info (or removes info when in is nil), in the
// order svkit's supervise writes them.
func (f *fake) set(r svdir.Status, in *svdir.Info) {
	f.t.Helper()
	b := r.Encode()
	f.replace("status", b[:])
	if in == nil {
		os.Remove(filepath.Join(f.dir, svdir.InfoPath))
		return
	}
	f.replace("info", in.Encode())
}

func rec(pid int, want byte) svdir.Status {
	return svdir.Status{When: tai64.FromTime(time.Now()), Pid: pid, Want: want}
}

func info(state string, pid int, ready bool) *svdir.Info {
	return &svdir.Info{State: state, Pid: pid, Ready: ready, ExitCode: -1}
}

// waiter runs Wait in the background.
type waiter struct {
	done   chan struct{}
	code   int
	stderr bytes.Buffer
	end    time.Time
}

// startWait runs Wait in the background and returns once it has passed
// its start checks (or returned).
func startWait(dirs []string, mode byte, timeout time.Duration) *waiter {
	w := &waiter{done: make(chan struct{})}
	started := make(chan struct{})
	go func() {
		w.code = wait(dirs, mode, timeout, &w.stderr, func() { close(started) })
		w.end = time.Now()
		close(w.done)
	}()
	select {
	case <-started:
	case <-w.done:
	}
	return w
}

// running reports whether Wait is still waiting after a short grace period
// (long enough for it to see any change made before the call, on a loaded
// machine almost always; a late wake-up can only hide a bug, not fail a
// correct Wait).
func (w *waiter) running() bool {
	select {
	case <-w.done:
		return false
	case <-time.After(60 * time.Millisecond):
		return true
	}
}

func (w *waiter) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-w.done:
	case <-time.After(15 * time.Second):
		t.Fatal("Wait did not return within 15 s")
	}
	return w.code
}

// TestWaitImmediate: a state that holds at the start returns at once.
func TestWaitImmediate(t *testing.T) {
	root := t.TempDir()
	up := newFake(t, root+"/up", rec(5, 'u'), nil).dir
	upReady := newFake(t, root+"/upready", rec(6, 'u'), info("up", 6, true)).dir
	down := newFake(t, root+"/down", rec(0, 'd'), nil).dir
	downInfo := newFake(t, root+"/downinfo", rec(0, 'd'), info("down", 0, false)).dir
	for _, tc := range []struct {
		mode byte
		dirs []string
	}{
		{Up, []string{up, upReady}},
		{UpReady, []string{up, upReady}},
		{Down, []string{down, downInfo}},
		{DownFinal, []string{down, downInfo}},
		{Up, []string{up, up, up}},
	} {
		var errb bytes.Buffer
		if code := Wait(tc.dirs, tc.mode, 0, &errb); code != 0 || errb.Len() != 0 {
			t.Errorf("-%c %q: code %d, stderr %q", tc.mode, tc.dirs, code, errb.String())
		}
	}
}

// TestWaitFlip changes the state while Wait waits, through states that must
// not end the wait, and measures the time from the last change to the
// return.
func TestWaitFlip(t *testing.T) {
	type step struct {
		r    svdir.Status
		in   *svdir.Info
		done bool // Wait must return after this step
	}
	for _, tc := range []struct {
		name  string
		mode  byte
		start step
		steps []step
	}{
		{"up", Up, step{r: rec(0, 'd')}, []step{
			{r: rec(0, 'u')}, // want up, not up yet
			{r: rec(77, 'u'), done: true},
		}},
		{"down", Down, step{r: rec(77, 'u')}, []step{
			{r: rec(77, 'd')},
			{r: rec(0, 'd'), done: true},
		}},
		{"down with finish running", Down, step{r: rec(77, 'u'), in: info("up", 77, true)}, []step{
			{r: rec(0, 'd'), in: info("finish", 0, false), done: true},
		}},
		{"ready", UpReady, step{r: rec(0, 'u'), in: info("down", 0, false)}, []step{
			{r: rec(8, 'u'), in: info("up", 8, false)}, // up, not ready
			{r: rec(8, 'u'), in: info("up", 7, true)},  // a stale info
			{r: rec(9, 'u'), in: info("up", 8, true)},  // restarted, info not yet rewritten
			{r: rec(9, 'u'), in: info("up", 9, true), done: true},
		}},
		{"ready without info", UpReady, step{r: rec(0, 'u')}, []step{
			{r: rec(9, 'u'), done: true},
		}},
		{"finished", DownFinal, step{r: rec(5, 'd'), in: info("up", 5, true)}, []step{
			{r: rec(0, 'd'), in: info("up", 5, true)}, // status written, info not yet
			{r: rec(0, 'd'), in: info("finish", 0, false)},
			{r: rec(0, 'd'), in: info("down", 0, false), done: true},
		}},
		{"finished without info", DownFinal, step{r: rec(5, 'd')}, []step{
			{r: rec(0, 'd'), done: true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, filepath.Join(t.TempDir(), "svc"), tc.start.r, tc.start.in)
			w := startWait([]string{f.dir}, tc.mode, 0)
			if !w.running() {
				t.Fatalf("returned %d at the start state; stderr %q", w.code, w.stderr.String())
			}
			for i, s := range tc.steps {
				at := time.Now()
				f.set(s.r, s.in)
				if !s.done {
					if !w.running() {
						t.Fatalf("returned %d after step %d", w.code, i)
					}
					continue
				}
				if code := w.wait(t); code != 0 || w.stderr.Len() != 0 {
					t.Fatalf("code %d, stderr %q", code, w.stderr.String())
				}
				t.Logf("from the last step's first write to the return: %v", w.end.Sub(at))
			}
		})
	}
}

// TestWaitSeveral: every dir must be in the state at the same time.
func TestWaitSeveral(t *testing.T) {
	root := t.TempDir()
	a := newFake(t, root+"/a", rec(1, 'u'), nil)
	b := newFake(t, root+"/b", rec(0, 'u'), nil)
	c := newFake(t, root+"/c", rec(0, 'u'), info("down", 0, false))
	w := startWait([]string{a.dir, b.dir, c.dir}, Up, 0)
	if !w.running() {
		t.Fatal("returned with b and c down")
	}
	// a goes down again before the others come up: svwait's reads of
	// one look are not one instant, so the other order could show it
	// a's old up beside c's new up.
	a.set(rec(0, 'u'), nil)
	b.set(rec(2, 'u'), nil)
	c.set(rec(3, 'u'), info("up", 3, false))
	if !w.running() {
		t.Fatal("returned with a down")
	}
	a.set(rec(4, 'u'), nil)
	if code := w.wait(t); code != 0 {
		t.Fatalf("code %d, stderr %q", code, w.stderr.String())
	}
}

func TestWaitTimeout(t *testing.T) {
	root := t.TempDir()
	// Stamps in the future show as "0 seconds" whenever the test runs.
	rec := func(pid int, want byte) svdir.Status {
		return svdir.Status{When: tai64.FromTime(time.Now().Add(time.Hour)), Pid: pid, Want: want}
	}
	a := newFake(t, root+"/a", rec(1, 'u'), nil)
	b := newFake(t, root+"/b", rec(0, 'u'), nil)
	c := newFake(t, root+"/c", rec(3, 'u'), info("up", 3, false))
	d := newFake(t, root+"/d", rec(0, 'd'), info("finish", 0, false))
	for _, tc := range []struct {
		mode byte
		dirs []string
		want []string // the dirs warned about, with the end of their line
	}{
		{Up, []string{a.dir, b.dir}, []string{b.dir + ": down 0 seconds, normally up, want up"}},
		{UpReady, []string{a.dir, c.dir}, []string{c.dir + ": up (pid 3) 0 seconds, not ready"}},
		{DownFinal, []string{b.dir, d.dir}, []string{d.dir + ": down 0 seconds, normally up, finishing"}},
		{Down, []string{a.dir, c.dir, b.dir}, []string{a.dir + ": up (pid 1) 0 seconds", c.dir + ": up (pid 3) 0 seconds"}},
	} {
		const timeout = 200 * time.Millisecond
		start := time.Now()
		var errb bytes.Buffer
		code := Wait(tc.dirs, tc.mode, timeout, &errb)
		took := time.Since(start)
		if code != ExitTimeout {
			t.Errorf("-%c: code %d, want 1", tc.mode, code)
		}
		if took < timeout || took > timeout+3*time.Second {
			t.Errorf("-%c: returned after %v, want %v", tc.mode, took, timeout)
		}
		var want []string
		for _, l := range tc.want {
			want = append(want, "svwait: warning: timed out waiting for "+l+"\n")
		}
		if errb.String() != strings.Join(want, "") {
			t.Errorf("-%c: stderr %q, want %q", tc.mode, errb.String(), strings.Join(want, ""))
		}
		t.Logf("-%c -t 200: returned after %v", tc.mode, took)
	}
}

func TestWaitErrors(t *testing.T) {
	root := t.TempDir()
	up := newFake(t, root+"/up", rec(1, 'u'), nil).dir
	stopped := root + "/stopped"
	os.MkdirAll(stopped+"/supervise", 0700)
	unix.Mkfifo(stopped+"/supervise/ok", 0600)
	nosup := root + "/nosup"
	os.Mkdir(nosup, 0755)
	nostatus := root + "/nostatus"
	os.MkdirAll(nostatus+"/supervise", 0700)
	holdOK(t, nostatus)
	short := newFake(t, root+"/short", rec(1, 'u'), nil)
	short.replace("status", []byte("short"))
	file := root + "/file"
	os.WriteFile(file, nil, 0644)
	for _, tc := range []struct {
		dir, want string
	}{
		{root + "/nodir", "svwait: fatal: unable to chdir to " + root + "/nodir: file does not exist\n"},
		{file, "svwait: fatal: unable to chdir to " + file + ": not a directory\n"},
		{stopped, "svwait: fatal: unable to wait for " + stopped + ": supervise not running\n"},
		{nosup, "svwait: fatal: unable to open " + nosup + "/supervise/ok: file does not exist\n"},
		{nostatus, "svwait: fatal: unable to open " + nostatus + "/supervise/status: file does not exist\n"},
		{short.dir, "svwait: fatal: unable to read " + short.dir + "/supervise/status: bad format\n"},
	} {
		for _, mode := range []byte{Up, Down} {
			var errb bytes.Buffer
			// The bad dir after a good one, for -u; before it for -d.
			dirs := []string{up, tc.dir}
			if mode == Down {
				dirs = []string{tc.dir, up}
			}
			if code := Wait(dirs, mode, 0, &errb); code != 111 || errb.String() != tc.want {
				t.Errorf("%s -%c: code %d, stderr %q; want 111, %q", tc.dir, mode, code, errb.String(), tc.want)
			}
		}
	}
}

// TestWaitSuperviseReplaced: a supervise/ directory replaced or removed
// during the wait is watched again when it reappears; a removed DIR is not
// reached.
func TestWaitSuperviseReplaced(t *testing.T) {
	root := t.TempDir()
	f := newFake(t, root+"/svc", rec(0, 'u'), nil)
	w := startWait([]string{f.dir}, Up, 0)
	if !w.running() {
		t.Fatal("returned while down")
	}
	// Build a new supervise/ beside it and rename it over the old one.
	next := newFake(t, root+"/next", rec(0, 'u'), nil)
	if err := os.RemoveAll(f.dir + "/supervise"); err != nil {
		t.Fatal(err)
	}
	if !w.running() {
		t.Fatalf("returned %d after the removal; stderr %q", w.code, w.stderr.String())
	}
	if err := os.Rename(next.dir+"/supervise", f.dir+"/supervise"); err != nil {
		t.Fatal(err)
	}
	if !w.running() {
		t.Fatalf("returned %d after the replacement; stderr %q", w.code, w.stderr.String())
	}
	f.set(rec(12, 'u'), nil)
	if code := w.wait(t); code != 0 {
		t.Fatalf("code %d, stderr %q", code, w.stderr.String())
	}

	// A supervise/ that comes back up.
	w = startWait([]string{f.dir}, Down, 0)
	if !w.running() {
		t.Fatal("returned while up")
	}
	os.Rename(f.dir+"/supervise", next.dir+"/supervise")
	if !w.running() {
		t.Fatalf("returned %d after supervise/ moved away; stderr %q", w.code, w.stderr.String())
	}
	next.set(rec(0, 'u'), nil)
	if err := os.Rename(next.dir+"/supervise", f.dir+"/supervise"); err != nil {
		t.Fatal(err)
	}
	if code := w.wait(t); code != 0 {
		t.Fatalf("code %d, stderr %q", code, w.stderr.String())
	}

	w = startWait([]string{f.dir}, Up, 300*time.Millisecond)
	os.RemoveAll(f.dir)
	want := "svwait: warning: timed out waiting for " + f.dir + ": unable to chdir: file does not exist\n"
	if code := w.wait(t); code != 1 || w.stderr.String() != want {
		t.Fatalf("code %d, stderr %q; want 1, %q", code, w.stderr.String(), want)
	}
}

// TestLatency measures the time from a status rename to Wait's return.
func TestLatency(t *testing.T) {
	f := newFake(t, filepath.Join(t.TempDir(), "svc"), rec(0, 'u'), nil)
	var lat []time.Duration
	for i := 0; i < 20; i++ {
		mode, next := byte(Up), rec(100+i, 'u')
		if i%2 == 1 {
			mode, next = Down, rec(0, 'u')
		}
		w := startWait([]string{f.dir}, mode, 0)
		if !w.running() {
			t.Fatalf("round %d: returned at once", i)
		}
		// Exactly what supervise does: write status.new, rename it.
		p := filepath.Join(f.dir, svdir.StatusPath)
		b := next.Encode()
		if err := os.WriteFile(p+".new", b[:], 0644); err != nil {
			t.Fatal(err)
		}
		at := time.Now()
		if err := os.Rename(p+".new", p); err != nil {
			t.Fatal(err)
		}
		if code := w.wait(t); code != 0 {
			t.Fatalf("round %d: code %d", i, code)
		}
		lat = append(lat, w.end.Sub(at))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("status rename to return, 20 rounds: min %v, median %v, max %v", lat[0], lat[len(lat)/2], lat[len(lat)-1])
	if lat[0] < 0 {
		t.Errorf("returned %v before the rename", lat[0])
	}
	if lat[len(lat)/2] > 500*time.Millisecond {
		t.Errorf("median latency %v: is it polling?", lat[len(lat)/2])
	}
}

// TestWaitStorm: a writer goroutine renames hundreds of states that must
// not end the wait (down, with changing stamps, wanted states and info),
// then one that must; Wait returns exactly after that one.
func TestWaitStorm(t *testing.T) {
	f := newFake(t, filepath.Join(t.TempDir(), "svc"), rec(0, 'd'), nil)
	w := startWait([]string{f.dir}, UpReady, 0)
	var last time.Time
	done := make(chan struct{})
	go func() {
		defer close(done)
		wants := []byte{'u', 'd', 0}
		for i := 0; i < 500; i++ {
			pid := 0
			var in *svdir.Info
			switch i % 3 {
			case 1:
				in = info("down", 0, false)
			case 2:
				pid = 1000 + i // up but not ready
				in = info("up", pid, false)
			}
			f.set(rec(pid, wants[i%3]), in)
		}
		last = time.Now()
		f.set(rec(77, 'u'), info("up", 77, true))
	}()
	<-done
	if code := w.wait(t); code != 0 {
		t.Fatalf("code %d, stderr %q", code, w.stderr.String())
	}
	if w.end.Before(last) {
		t.Fatalf("returned %v before the last state was written", last.Sub(w.end))
	}
}

// TestWaitStaleInfo: an info that disagrees with the status is waited on
// while it may still be replaced, and ignored after StaleAfter.
func TestWaitStaleInfo(t *testing.T) {
	now := time.Now()
	old := now.Add(-time.Hour)
	at := func(r svdir.Status, tm time.Time) svdir.Status { r.When = tai64.FromTime(tm); return r }
	since := func(tm time.Time) int64 { ns, _ := svdir.UnixNano(tai64.FromTime(tm)); return ns }

	// Left by svkit's supervise an hour ago; 0.76's runs the service now.
	for _, tc := range []struct {
		mode byte
		r    svdir.Status
		in   svdir.Info
	}{
		{DownFinal, at(rec(0, 'd'), now), svdir.Info{State: "finish", Since: since(old), ExitCode: -1}},
		{UpReady, at(rec(5, 'u'), now), svdir.Info{State: "up", Pid: 5, Since: since(old), ExitCode: -1}},
	} {
		f := newFake(t, filepath.Join(t.TempDir(), "svc"), tc.r, &tc.in)
		start := time.Now()
		w := startWait([]string{f.dir}, tc.mode, 0)
		if code := w.wait(t); code != 0 {
			t.Fatalf("-%c: code %d, stderr %q", tc.mode, code, w.stderr.String())
		}
		if took := w.end.Sub(start); took < StaleAfter {
			t.Errorf("-%c: returned after %v, before StaleAfter", tc.mode, took)
		}
	}

	// An info that is replaced within the grace counts.
	r := at(rec(0, 'd'), now)
	f := newFake(t, filepath.Join(t.TempDir(), "svc"), r, &svdir.Info{State: "up", Pid: 9, Since: since(old), ExitCode: -1})
	w := startWait([]string{f.dir}, DownFinal, 0)
	f.replace("info", (&svdir.Info{State: "finish", Since: since(now), ExitCode: -1}).Encode())
	select {
	case <-w.done:
		t.Fatalf("returned %d while finish runs", w.code)
	case <-time.After(StaleAfter + 300*time.Millisecond):
	}
	f.replace("info", (&svdir.Info{State: "down", Since: since(now), ExitCode: -1}).Encode())
	if code := w.wait(t); code != 0 {
		t.Fatalf("code %d, stderr %q", code, w.stderr.String())
	}
}
