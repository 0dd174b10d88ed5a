package multilog

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"svkit/internal/testenv"
	"svkit/pkg/tai64"
)

var fixed = time.Unix(1700000000, 123456000)

func fixedClock() time.Time { return fixed }

// refRun is 0.76's doit() written line by line: what each directory, the
// e stream and each = file receive.
func refRun(args []string, input []byte, stamp string) (dirs [][]byte, alerts []byte, status map[string][]byte) {
	s := Parse(args)
	status = map[string][]byte{}
	ndirs := 0
	for _, a := range s.Actions {
		if a.Kind == Dir {
			ndirs++
		}
	}
	dirs = make([][]byte, ndirs)
	if len(input) == 0 {
		return
	}
	lines := bytes.Split(input, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	for _, l := range lines {
		full := append([]byte(stamp), l...)
		pre := full
		if len(pre) > 1000 {
			pre = pre[:1000]
		}
		sel := true
		j := 0
		for _, a := range s.Actions {
			switch a.Kind {
			case Select:
				sel = sel || Match(a.Arg, pre)
			case Deselect:
				sel = sel && !Match(a.Arg, pre)
			case Alert:
				if sel {
					if len(pre) > 200 {
						alerts = append(append(alerts, pre[:200]...), "...\n"...)
					} else {
						alerts = append(append(alerts, pre...), '\n')
					}
				}
			case Status:
				if sel {
					b := append([]byte{}, pre...)
					for len(b) < 1001 {
						b = append(b, '\n')
					}
					status[a.Arg] = b
				}
			case Dir:
				if sel {
					dirs[j] = append(append(dirs[j], full...), '\n')
				}
				j++
			}
		}
	}
	return
}

// dirContent returns the archives (in name order) and current joined,
// after checking the size rule on every archive.
func dirContent(t *testing.T, dir string, size int, shortLines bool) []byte {
	t.Helper()
	all := testenv.ReadLog(t, dir, func(n string, b []byte) {
		if len(b) > size {
			t.Errorf("%s has %d bytes, more than s%d", n, len(b), size)
		}
		if shortLines && (len(b) < size-2000 || b[len(b)-1] != '\n') {
			t.Errorf("%s: %d bytes, not rotated at a line end at or after s-2000", n, len(b))
		}
	})
	if _, err := os.Stat(filepath.Join(dir, "current")); err != nil {
		t.Fatal(err)
	}
	return all
}

func genInput(rnd *rand.Rand, n int) []byte {
	words := []string{"fatal", "warning", "info", "x", "*", ":", "error: disk", "", "@"}
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		switch rnd.Intn(20) {
		case 0:
			b.WriteString(strings.Repeat("L", 990+rnd.Intn(30))) // around the 1000-byte prefix
		case 1:
			b.WriteString(strings.Repeat("Q", 5000+rnd.Intn(5000))) // longer than s4096
		default:
			for k := rnd.Intn(8); k > 0; k-- {
				b.WriteString(words[rnd.Intn(len(words))])
				b.WriteByte(' ')
			}
		}
		b.WriteByte('\n')
	}
	if rnd.Intn(2) == 0 {
		b.WriteString("partial last line")
	}
	return b.Bytes()
}

// runIn runs Main in a fresh directory and returns what every directory
// holds, the alerts, the status files and the exit code.
func runIn(t *testing.T, args []string, r io.Reader, sizes []int) ([][]byte, string, map[string][]byte) {
	t.Helper()
	dir := t.TempDir()
	old, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(old)
	var stderr bytes.Buffer
	if code := MainClock(args, r, &stderr, fixedClock); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	s := Parse(args)
	var dirs [][]byte
	status := map[string][]byte{}
	i := 0
	for _, a := range s.Actions {
		switch a.Kind {
		case Dir:
			dirs = append(dirs, dirContent(t, a.Arg, sizes[i], false))
			st, err := os.Stat(filepath.Join(a.Arg, "current"))
			if err != nil || st.Mode().Perm() != 0744 {
				t.Errorf("%s/current after EOF: %v %v, want mode 0744", a.Arg, st.Mode(), err)
			}
			i++
		case Status:
			b, err := os.ReadFile(a.Arg)
			if err != nil {
				t.Fatal(err)
			}
			status[a.Arg] = b
		}
	}
	return dirs, stderr.String(), status
}

var scripts = []struct {
	args  []string
	sizes []int
}{
	{[]string{"./a"}, []int{99999}},
	{[]string{"t", "s4096", "n1000", "./a"}, []int{4096}},
	{[]string{"s4096", "n100", "./a", "-*", "+*fatal*", "=st", "./b", "e"}, []int{4096, 4096}},
	{[]string{"t", "-*x*", "e", "./a", "+*", "-@*", "s5000", "n1000", "./b", "=st", "+*:*", "=st2"}, []int{99999, 5000}},
	{[]string{"e", "T", "./a"}, []int{99999}},
	{[]string{"T", "-*", "e", "./a"}, []int{99999}},
}

func stampFor(args []string) string {
	s := Parse(args)
	switch s.Stamp {
	case 't':
		return tai64.FromTime(fixed).String() + " "
	case 'T':
		return "1700000000.123456 "
	}
	return ""
}

// compareRun checks what runIn gave against what refRun gave: every
// directory's content, the alerts and every status file (one created and
// never written is empty in both).
func compareRun(t *testing.T, what string, dirs [][]byte, alerts string, status map[string][]byte, wantDirs [][]byte, wantAlerts []byte, wantStatus map[string][]byte) {
	t.Helper()
	for i := range wantDirs {
		if !bytes.Equal(dirs[i], wantDirs[i]) {
			t.Errorf("%s dir %d: got %d bytes, want %d", what, i, len(dirs[i]), len(wantDirs[i]))
		}
	}
	if alerts != string(wantAlerts) {
		t.Errorf("%s: alerts differ: %d bytes, want %d", what, len(alerts), len(wantAlerts))
	}
	for name, b := range status {
		if !bytes.Equal(b, wantStatus[name]) {
			t.Errorf("%s: %s = %.80q, want %.80q", what, name, b, wantStatus[name])
		}
	}
}

func TestLoggerMatchesReference(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	for si, sc := range scripts {
		for trial := 0; trial < 4; trial++ {
			input := genInput(rnd, 300)
			if trial == 0 {
				input = nil
			}
			wantDirs, wantAlerts, wantStatus := refRun(sc.args, input, stampFor(sc.args))
			var r io.Reader = &testenv.ChunkReader{Data: input, Rand: rnd, Max: []int{1, 7, 300, 1 << 20}[trial]}
			dirs, alerts, status := runIn(t, sc.args, r, sc.sizes)
			compareRun(t, fmt.Sprintf("script %d trial %d", si, trial), dirs, alerts, status, wantDirs, wantAlerts, wantStatus)
		}
	}
}

// TestPipeMatchesReference is TestLoggerMatchesReference with the input
// in a pipe, which Main peeks at and consumes (pipe.go): the writer
// sends random chunks (a few hundred bytes: a peek is a handful of system
// calls, which cost much more in one process with the writer than in
// multilog) and sometimes pauses in the middle of a line, so
// that starts of lines are held in the pipe and completed later.
func TestPipeMatchesReference(t *testing.T) {
	rnd := rand.New(rand.NewSource(2))
	for si, sc := range scripts {
		for trial := 0; trial < 3; trial++ {
			input := genInput(rnd, 300)
			wantDirs, wantAlerts, wantStatus := refRun(sc.args, input, stampFor(sc.args))
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			cr := &testenv.ChunkReader{Data: input, Rand: rand.New(rand.NewSource(int64(trial))), Max: []int{300, 1000, 1 << 20}[trial]}
			wfd := int(w.Fd()) // blocking writes, without the poller's latency
			go func() {
				defer w.Close()
				buf := make([]byte, 1<<20)
				for {
					n, err := cr.Read(buf)
					if err != nil {
						return
					}
					for p := buf[:n]; len(p) > 0; {
						k, err := unix.Write(wfd, p)
						if err != nil && err != unix.EINTR {
							t.Error(err)
							return
						}
						p = p[max(k, 0):]
					}
					if buf[n-1] != '\n' && cr.Rand.Intn(8) == 0 {
						time.Sleep(3 * time.Millisecond)
					}
				}
			}()
			dirs, alerts, status := runIn(t, sc.args, r, sc.sizes)
			r.Close()
			compareRun(t, fmt.Sprintf("script %d trial %d", si, trial), dirs, alerts, status, wantDirs, wantAlerts, wantStatus)
		}
	}
}

func TestRotationRule(t *testing.T) {
	var in bytes.Buffer
	for i := 0; i < 5000; i++ {
		in.WriteString(strings.Repeat("abcdefghij", i%9))
		in.WriteString("\n")
	}
	dir := t.TempDir()
	var stderr bytes.Buffer
	if code := MainClock([]string{"s4096", "n1000", dir + "/log"}, bytes.NewReader(in.Bytes()), &stderr, fixedClock); code != 0 {
		t.Fatal(code, stderr.String())
	}
	got := dirContent(t, dir+"/log", 4096, true)
	if !bytes.Equal(got, in.Bytes()) {
		t.Fatalf("content differs")
	}
	// n3 keeps two archives.
	dir2 := t.TempDir()
	MainClock([]string{"s4096", "n3", dir2 + "/log"}, bytes.NewReader(in.Bytes()), &stderr, fixedClock)
	names, _ := filepath.Glob(dir2 + "/log/@*")
	if len(names) != 2 {
		t.Errorf("n3 left %d archives, want 2", len(names))
	}
}

func TestIgnoredWarning(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{nil, ""},
		{[]string{"t"}, ""},
		{[]string{"t", "main"}, "multilog: warning: ignoring unknown action main: no action writes anywhere (e, =file, or a directory starting with . or /)\n"},
		{[]string{"N5", "main"}, "multilog: warning: ignoring unknown action N5 main: no action writes anywhere (e, =file, or a directory starting with . or /)\n"},
		{[]string{"main", "e"}, ""},
		{[]string{"main", dir + "/d"}, ""},
	}
	for _, c := range cases {
		var stderr bytes.Buffer
		if code := MainClock(c.args, strings.NewReader("x\n"), &stderr, fixedClock); code != 0 {
			t.Errorf("%q: exit %d", c.args, code)
		}
		got := stderr.String()
		if strings.Contains(strings.Join(c.args, " "), "e") && got != "" && c.want == "" {
			got = strings.TrimPrefix(got, "x\n")
		}
		if got != c.want {
			t.Errorf("%q: stderr %q, want %q", c.args, got, c.want)
		}
	}
}

func TestProcessorFailureRetries(t *testing.T) {
	old := PauseFor
	PauseFor = 10 * time.Millisecond
	defer func() { PauseFor = old }()
	dir := t.TempDir()
	marker := filepath.Join(dir, "tried")
	proc := "if [ -e " + marker + " ]; then tr a-z A-Z; echo s1 >&5; else touch " + marker + "; exit 3; fi"
	var in bytes.Buffer
	for i := 0; i < 400; i++ {
		in.WriteString("some line of text\n")
	}
	var stderr bytes.Buffer
	code := MainClock([]string{"s4096", "!" + proc, dir + "/log"}, &in, &stderr, fixedClock)
	if code != 0 {
		t.Fatal(code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "multilog: warning: processor failed in "+dir+"/log, pausing\n") {
		t.Errorf("stderr %q", stderr.String())
	}
	names, _ := filepath.Glob(dir + "/log/@*.s")
	if len(names) == 0 {
		t.Fatal("no processed archive")
	}
	b, _ := os.ReadFile(names[0])
	if !bytes.HasPrefix(b, []byte("SOME LINE OF TEXT\n")) {
		t.Errorf("archive %q...", b[:min(40, len(b))])
	}
	st, _ := os.ReadFile(dir + "/log/state")
	if string(st) != "s1\n" {
		t.Errorf("state %q", st)
	}
	for _, f := range []string{"previous", "processed", "newstate"} {
		if _, err := os.Lstat(dir + "/log/" + f); err == nil {
			t.Errorf("%s left behind", f)
		}
	}
}

func FuzzLogger(f *testing.F) {
	f.Add([]byte("a\nb fatal\n\nlong"), uint8(3), uint8(2))
	f.Add([]byte(strings.Repeat("x", 1500)+"\nfatal\n"), uint8(1), uint8(0))
	f.Fuzz(func(t *testing.T, input []byte, chunk uint8, script uint8) {
		if len(input) > 4096 {
			return
		}
		sc := scripts[int(script)%len(scripts)]
		wantDirs, wantAlerts, _ := refRun(sc.args, input, stampFor(sc.args))
		r := &testenv.ChunkReader{Data: input, Rand: rand.New(rand.NewSource(int64(chunk))), Max: int(chunk) + 1}
		dirs, alerts, _ := runIn(t, sc.args, r, sc.sizes)
		for i := range wantDirs {
			if !bytes.Equal(dirs[i], wantDirs[i]) {
				t.Fatalf("dir %d: got %q, want %q", i, dirs[i], wantDirs[i])
			}
		}
		if alerts != string(wantAlerts) {
			t.Fatalf("alerts %q, want %q", alerts, wantAlerts)
		}
	})
}
