package svlog

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"svkit/internal/localtime"
	"svkit/pkg/tai64"
)

// TestParseStamp: a line's multilog stamp is @, 24 lowercase hex digits and
// a space; anything else is text.
func TestParseStamp(t *testing.T) {
	// Stamped lines and the text after the stamp.
	for in, want := range map[string]string{
		"@400000006b0fa32d0311454c hello": "hello",
		"@400000006b0fa32d0311454c ":      "",
	} {
		if _, rest, ok := ParseStamp([]byte(in)); !ok || string(rest) != want {
			t.Errorf("ParseStamp(%q) = %q, %v; want %q, true", in, rest, ok, want)
		}
	}
	for _, in := range []string{
		"@400000006b0fa32d0311454C hello", // uppercase: not multilog's
		"@400000006b0fa32d0311454chello",
		"@400000006b0fa32d03114 hello",
		"hello",
		"",
	} {
		if _, rest, ok := ParseStamp([]byte(in)); ok {
			t.Errorf("ParseStamp(%q) = %q, true; want no stamp", in, rest)
		}
	}
}

func TestFormat(t *testing.T) {
	f := &Formatter{}
	f.Local.Zone = localtime.LoadTZ("UTC0", true)
	lab := tai64.Label{Sec: tai64.Base + 1795860901, Nano: 503371500}
	l := Line{Service: "web", Time: lab, Stamped: true, Text: []byte("hello")}
	if got := string(f.Append(nil, &l)); got != "2026-11-28 10:15:01.503371500 web: hello\n" {
		t.Errorf("stamped: %q", got)
	}
	l.Stamped, l.Cut = false, true
	if got := string(f.Append(nil, &l)); got != "2026-11-28 10:15:01.503371500~ web: hello"+CutMarker+"\n" {
		t.Errorf("unstamped, cut: %q", got)
	}
}

// splitRef is what Splitter must produce: the complete lines of in, each
// cut to MaxLine.
func splitRef(in []byte) (lines []string, cuts []bool) {
	parts := bytes.Split(in, []byte{'\n'})
	for _, p := range parts[:len(parts)-1] {
		cut := len(p) > MaxLine
		if cut {
			p = p[:MaxLine]
		}
		lines, cuts = append(lines, string(p)), append(cuts, cut)
	}
	return
}

func checkSplitter(t *testing.T, in []byte, sizes []byte) {
	var s Splitter
	var lines []string
	var cuts []bool
	emit := func(raw []byte, cut bool) {
		if len(raw) > MaxLine {
			t.Fatalf("line of %d bytes kept", len(raw))
		}
		lines, cuts = append(lines, string(raw)), append(cuts, cut)
	}
	rest := in
	for i := 0; len(rest) > 0; i++ {
		k := len(rest)
		if len(sizes) > 0 {
			k = min(k, 1+int(sizes[i%len(sizes)])*int(sizes[i%len(sizes)])*7)
		}
		s.Write(rest[:k], emit)
		rest = rest[k:]
	}
	wl, wc := splitRef(in)
	if len(lines) != len(wl) {
		t.Fatalf("%d lines, want %d", len(lines), len(wl))
	}
	for i := range wl {
		if lines[i] != wl[i] || cuts[i] != wc[i] {
			t.Fatalf("line %d: %q cut=%v, want %q cut=%v", i, lines[i], cuts[i], wl[i], wc[i])
		}
	}
	if s.Pending() > MaxLine {
		t.Fatalf("holds %d bytes", s.Pending())
	}
}

func TestSplitterLongLine(t *testing.T) {
	in := append(bytes.Repeat([]byte("x"), 3*MaxLine+5), '\n')
	in = append(in, "short\n"...)
	checkSplitter(t, in, []byte{200, 3, 255})
	checkSplitter(t, in, nil)
}

// FuzzSplitter feeds arbitrary bytes in arbitrary pieces to the line
// reader of followed files and compares its lines with a plain split.
func FuzzSplitter(f *testing.F) {
	f.Add([]byte("@400000006b0fa32d0311454c hello\nworld\n"), []byte{1, 2, 3})
	f.Add([]byte("\x00\xff\n\n\r\n@@@\n"), []byte{0})
	f.Add(append(bytes.Repeat([]byte{'a'}, MaxLine+1), '\n'), []byte{255})
	f.Fuzz(func(t *testing.T, in, sizes []byte) { checkSplitter(t, in, sizes) })
}

// FuzzLastLines writes arbitrary bytes as a log directory's current and
// checks that reading its last n lines backwards gives what reading it
// forwards does.
func FuzzLastLines(f *testing.F) {
	f.Add([]byte("@400000006b0fa32d0311454c a\nb\n\nc"), uint8(2))
	f.Add([]byte("\n\n\n"), uint8(5))
	f.Add([]byte("no newline at all"), uint8(1))
	f.Add(append(bytes.Repeat([]byte{'z'}, MaxLine+10), "\nend\n"...), uint8(3))
	f.Fuzz(func(t *testing.T, in []byte, n uint8) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "current"), in, 0644); err != nil {
			t.Fatal(err)
		}
		tl, err := LastLines("x", dir, int(n))
		if err != nil {
			t.Fatal(err)
		}
		defer tl.Current.Close()
		complete := in[:bytes.LastIndexByte(in, '\n')+1]
		if tl.Offset != int64(len(complete)) {
			t.Fatalf("offset %d, want %d", tl.Offset, len(complete))
		}
		want, cuts := splitRef(complete)
		if len(want) > int(n) {
			want, cuts = want[len(want)-int(n):], cuts[len(cuts)-int(n):]
		}
		if len(tl.Lines) != len(want) {
			t.Fatalf("%d lines, want %d", len(tl.Lines), len(want))
		}
		for i, l := range tl.Lines {
			raw := string(l.Text)
			if l.Stamped {
				raw = "@" + string(l.Time.AppendHex(nil)) + " " + raw
			}
			if l.Cut != cuts[i] || raw != want[i] && !l.Stamped {
				t.Fatalf("line %d: %q cut=%v, want %q cut=%v", i, raw, l.Cut, want[i], cuts[i])
			}
		}
	})
}

// writeLog makes a log directory with the given archives and current.
func writeLog(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func stamp(sec int) string {
	return "@" + string(tai64.Label{Sec: tai64.Base + uint64(1795860000+sec), Nano: 500}.AppendHex(nil)) + " "
}

func texts(ls []Line) string {
	var b []string
	for _, l := range ls {
		b = append(b, l.Service+":"+string(l.Text))
	}
	return strings.Join(b, "|")
}

func TestLastLinesAcrossArchives(t *testing.T) {
	dir := writeLog(t, map[string]string{
		"@400000006b0fa32d0000000a.s": stamp(1) + "one\n" + stamp(2) + "two\n",
		"@400000006b0fa32e0000000a.u": stamp(3) + "three\n" + stamp(4) + "four", // killed mid-line
		"current":                     stamp(5) + "five\n" + stamp(6) + "six\n" + stamp(7) + "sev",
		"state":                       "",
		"lock":                        "",
	})
	for n, want := range map[int]string{
		0: "",
		1: "x:six",
		2: "x:five|x:six",
		3: "x:four|x:five|x:six",
		5: "x:two|x:three|x:four|x:five|x:six",
		9: "x:one|x:two|x:three|x:four|x:five|x:six",
	} {
		tl, err := LastLines("x", dir, n)
		if err != nil {
			t.Fatal(err)
		}
		tl.Current.Close()
		if got := texts(tl.Lines); got != want {
			t.Errorf("n=%d: %s, want %s", n, got, want)
		}
	}
}

// TestThousandsOfArchives: with 2000 archives, the last lines come from
// the newest only; the oldest are directories, which would fail if read.
func TestThousandsOfArchives(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 2000; i++ {
		name := filepath.Join(dir, "@"+string(tai64.Label{Sec: tai64.Base + uint64(1795860000+i)}.AppendHex(nil))+".s")
		var err error
		if i < 1990 {
			err = os.Mkdir(name, 0755)
		} else {
			err = os.WriteFile(name, []byte(stamp(i)+"line\n"), 0644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "current"), nil, 0644); err != nil {
		t.Fatal(err)
	}
	tl, err := LastLines("x", dir, 10)
	if err != nil {
		t.Fatal(err)
	}
	tl.Current.Close()
	if len(tl.Lines) != 10 || tl.Lines[0].Time.Sec != tai64.Base+1795860000+1990 {
		t.Fatalf("lines %d, first %v", len(tl.Lines), tl.Lines)
	}
	if _, err := LastLines("x", dir, 11); err == nil || !strings.Contains(err.Error(), "unable to read") {
		t.Fatalf("reading one archive more: err %v, want a read error of the directory", err)
	}
}

// TestHugeLine: a 10 MB line is shown cut, and reading it backwards or
// following it allocates a bounded amount.
func TestHugeLine(t *testing.T) {
	big := bytes.Repeat([]byte("y"), 10<<20)
	dir := writeLog(t, map[string]string{"current": stamp(1) + string(big) + "\n" + stamp(2) + "after\n"})
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	tl, err := LastLines("x", dir, 2)
	runtime.ReadMemStats(&ms1)
	if err != nil {
		t.Fatal(err)
	}
	if alloc := ms1.TotalAlloc - ms0.TotalAlloc; alloc > 2<<20 {
		t.Errorf("reading the last lines allocated %d bytes", alloc)
	}
	if len(tl.Lines) != 2 || !tl.Lines[0].Cut || len(tl.Lines[0].Text) != MaxLine-stampLen || string(tl.Lines[1].Text) != "after" {
		t.Fatalf("got %d lines, cut %v", len(tl.Lines), tl.Lines[0].Cut)
	}
	fl := newFollower(t, dir, tl)
	appendFile(t, filepath.Join(dir, "current"), stamp(3)+string(big)+"\n"+stamp(4)+"end\n")
	runtime.ReadMemStats(&ms0)
	var got []Line
	if err := fl.Poll(func(l Line) { got = append(got, l) }, func(s string) { t.Error(s) }); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&ms1)
	if alloc := ms1.TotalAlloc - ms0.TotalAlloc; alloc > 2<<20 {
		t.Errorf("following the line allocated %d bytes", alloc)
	}
	if len(got) != 2 || !got[0].Cut || string(got[1].Text) != "end" {
		t.Fatalf("followed %d lines", len(got))
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// TestGarbageAndUnstamped: bytes that are not text, and lines without a
// stamp, come out as they are, with the file's modification time.
func TestGarbageAndUnstamped(t *testing.T) {
	dir := writeLog(t, map[string]string{"current": "\x00\xff\xfe bin\n@zz not a stamp\n" + stamp(9) + "ok\n"})
	mt := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(dir, "current"), mt, mt); err != nil {
		t.Fatal(err)
	}
	tl, err := LastLines("g", dir, 10)
	if err != nil {
		t.Fatal(err)
	}
	tl.Current.Close()
	if len(tl.Lines) != 3 || string(tl.Lines[0].Text) != "\x00\xff\xfe bin" || tl.Lines[0].Stamped || !tl.Lines[0].When().Equal(mt) || tl.Lines[1].Stamped || !tl.Lines[2].Stamped {
		t.Fatalf("%+v", tl.Lines)
	}
}

// newFollower follows dir's log after tl, until the test ends.
func newFollower(t *testing.T, dir string, tl *Tail) *Follower {
	t.Helper()
	fl, err := NewFollower("x", dir, tl)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fl.Close() })
	return fl
}

// follow follows dir's log from its end, until the test ends.
func follow(t *testing.T, dir string) *Follower {
	t.Helper()
	tl, err := LastLines("x", dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	return newFollower(t, dir, tl)
}

// TestFollowerTruncatedAndRotated: a current that shrinks is read again from
// its start, with a warning; after a rename the old file's last lines come
// before the new current's.
func TestFollowerTruncatedAndRotated(t *testing.T) {
	dir := writeLog(t, map[string]string{"current": stamp(1) + "a\n" + stamp(2) + "b\n"})
	cur := filepath.Join(dir, "current")
	fl := follow(t, dir)
	var got []Line
	var warns []string
	poll := func() string {
		t.Helper()
		got = got[:0]
		if err := fl.Poll(func(l Line) { got = append(got, l) }, func(s string) { warns = append(warns, s) }); err != nil {
			t.Fatal(err)
		}
		return texts(got)
	}
	if s := poll(); s != "" {
		t.Fatalf("before writing: %s", s)
	}
	if err := os.Truncate(cur, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, cur, stamp(3)+"c\n")
	if s := poll(); s != "x:c" || len(warns) != 1 || !strings.Contains(warns[0], "truncated") {
		t.Fatalf("after truncation: %s %q", s, warns)
	}
	appendFile(t, cur, stamp(4)+"d\n")
	if err := os.Rename(cur, filepath.Join(dir, "previous")); err != nil {
		t.Fatal(err)
	}
	if s := poll(); s != "x:d" {
		t.Fatalf("after rename: %s", s)
	}
	appendFile(t, filepath.Join(dir, "previous"), stamp(5)+"e\n") // still being finished
	if err := os.WriteFile(cur, []byte(stamp(6)+"f\n"), 0644); err != nil {
		t.Fatal(err)
	}
	if s := poll(); s != "x:e|x:f" {
		t.Fatalf("after new current: %s", s)
	}
}

func TestMergerWindow(t *testing.T) {
	m := &merger{window: 100 * time.Millisecond}
	t0 := time.Now()
	l := func(svc string, sec int) Line {
		return Line{Service: svc, Time: tai64.Label{Sec: uint64(sec)}, Text: []byte(svc)}
	}
	m.add(l("b", 20), t0)
	m.add(l("a", 10), t0.Add(50*time.Millisecond))
	if ls := m.due(t0.Add(99 * time.Millisecond)); ls != nil {
		t.Fatalf("released early: %s", texts(ls))
	}
	if d := m.wait(t0.Add(99 * time.Millisecond)); d != time.Millisecond {
		t.Fatalf("wait %v", d)
	}
	// b is due; a is earlier than b, so it goes too, first.
	if ls := m.due(t0.Add(100 * time.Millisecond)); texts(ls) != "a:a|b:b" {
		t.Fatalf("got %s", texts(ls))
	}
	m.add(l("c", 30), t0)
	m.add(l("d", 40), t0.Add(90*time.Millisecond))
	if ls := m.due(t0.Add(100 * time.Millisecond)); texts(ls) != "c:c" {
		t.Fatalf("got %s", texts(ls))
	}
	if ls := m.due(t0.Add(190 * time.Millisecond)); texts(ls) != "d:d" {
		t.Fatalf("got %s", texts(ls))
	}
}

func TestScriptDirs(t *testing.T) {
	for _, c := range []struct {
		argv []string
		want string
	}{
		{[]string{"multilog", "t", "./main"}, "./main"},
		{[]string{"/usr/bin/multilog", "t", "s999999", "n20", "-*", "+*err*", "./errors", "+*", "/var/log/x", "e"}, "./errors /var/log/x"},
		{[]string{"setuidgid", "log", "multilog", "t", "./main"}, "./main"},
		{[]string{"svlogd", "-tt", "./main"}, ""},
		{[]string{"multilog", "t", "e"}, ""},
	} {
		if got := strings.Join(ScriptDirs(c.argv), " "); got != c.want {
			t.Errorf("%q: %q, want %q", c.argv, got, c.want)
		}
	}
}

func TestMerge(t *testing.T) {
	mk := func(svc string, secs ...int) []Line {
		var ls []Line
		for _, s := range secs {
			ls = append(ls, Line{Service: svc, Time: tai64.Label{Sec: uint64(s)}, Text: []byte{byte('0' + s)}})
		}
		return ls
	}
	got := texts(Merge([][]Line{mk("a", 1, 3, 3, 2), mk("b", 2, 3, 4), nil}))
	if got != "a:1|b:2|a:3|a:3|a:2|b:3|b:4" {
		t.Fatalf("got %s", got)
	}
}

// TestFollowerRotationRace: lines written to current after Poll read it and
// before multilog renamed it are shown before the new current's.
func TestFollowerRotationRace(t *testing.T) {
	dir := writeLog(t, map[string]string{"current": stamp(1) + "a\n"})
	cur := filepath.Join(dir, "current")
	fl := follow(t, dir)
	afterDrain = func() {
		afterDrain = nil
		appendFile(t, cur, stamp(2)+"b\n")
		if err := os.Rename(cur, filepath.Join(dir, "previous")); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cur, []byte(stamp(3)+"c\n"), 0644); err != nil {
			t.Fatal(err)
		}
	}
	defer func() { afterDrain = nil }()
	var got []Line
	if err := fl.Poll(func(l Line) { got = append(got, l) }, func(s string) { t.Error(s) }); err != nil {
		t.Fatal(err)
	}
	if s := texts(got); s != "x:b|x:c" {
		t.Fatalf("got %s", s)
	}
}

// TestFollowLibrary follows two log directories in-process, as svhttpd
// does: lines of both arrive through the callback in time order, and
// cancelling the context ends Follow and its inotify reader.
func TestFollowLibrary(t *testing.T) {
	a := writeLog(t, map[string]string{"current": stamp(1) + "a0\n"})
	b := writeLog(t, map[string]string{"current": stamp(2) + "b0\n"})
	o := Open(nil, 0, "", func(s string) { t.Error(s) })
	for _, d := range []struct{ name, dir string }{{"a", a}, {"b", b}} {
		tl, err := LastLines(d.name, d.dir, 1)
		if err != nil {
			t.Fatal(err)
		}
		fl, err := NewFollower(d.name, d.dir, tl)
		if err != nil {
			t.Fatal(err)
		}
		o.Followers = append(o.Followers, fl)
	}
	ctx, cancel := context.WithCancel(context.Background())
	lines := make(chan Line, 100)
	done := make(chan error, 1)
	before := runtime.NumGoroutine()
	go func() {
		done <- Follow(ctx, o.Followers, Window, func(ls []Line) {
			for _, l := range ls {
				lines <- l
			}
		}, func(s string) { t.Error(s) })
	}()
	time.Sleep(50 * time.Millisecond) // let the watches be set (a missed event waits for the 1 s rescan)
	appendFile(t, filepath.Join(b, "current"), stamp(4)+"b1\n")
	appendFile(t, filepath.Join(a, "current"), stamp(3)+"a1\n")
	var got []Line
	timeout := time.After(5 * time.Second)
	for len(got) < 2 {
		select {
		case l := <-lines:
			got = append(got, l)
		case <-timeout:
			t.Fatalf("got %s", texts(got))
		}
	}
	if s := texts(got); s != "a:a1|b:b1" {
		t.Errorf("got %s, want a1 (stamped earlier) first", s)
	}
	cancel()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Errorf("Follow returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not return after cancel")
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Follow returned, %d before", n, before)
	}
}

// TestStartDir: relative directories of a multilog script are found from
// svkit's multilog (still where it started), 0.76's (inside the last
// directory it wrote) and a logger whose working directory says nothing.
func TestStartDir(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"log/main", "log/sub/errors"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, d, "current"), nil, 0644); err != nil {
			t.Fatal(err)
		}
	}
	log := filepath.Join(root, "log")
	dirs := []string{"./sub/errors", "./main"}
	for cwd, want := range map[string]string{
		log:                      log,
		log + "/main":            log,
		log + "/sub/errors":      log,
		"/":                      log,
		root + "/elsewhere/main": log,
	} {
		if got := startDir(dirs, cwd, log); got != want {
			t.Errorf("cwd %s: %s, want %s", cwd, got, want)
		}
	}
}

// TestOpenErrors: Open tells a service without a log from one whose log
// cannot be read, for callers that answer differently (404 and 500).
func TestOpenErrors(t *testing.T) {
	root := t.TempDir()
	bad := filepath.Join(root, "bad")
	if err := os.MkdirAll(filepath.Join(bad, "log", "main", "current"), 0755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "log", "main", "current", "x"), []byte("x\n"), 0644); err != nil {
		t.Fatal(err)
	}
	var warns []string
	o := Open([]string{filepath.Join(root, "none"), bad}, 5, "", func(s string) { warns = append(warns, s) })
	if len(o.Errors) != 2 || len(warns) != 2 || !o.Failed || len(o.Followers) != 0 {
		t.Fatalf("errors %v, warnings %q, failed %v", o.Errors, warns, o.Failed)
	}
	var re *ReadError
	if !errors.Is(o.Errors[0], ErrNoLogger) || errors.Is(o.Errors[1], ErrNoLogger) || !errors.As(o.Errors[1], &re) {
		t.Errorf("errors %#v", o.Errors)
	}
}
