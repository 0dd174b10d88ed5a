package svstat

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"svkit/internal/testenv"
	"svkit/pkg/svdir"
	"svkit/pkg/tai64"
)

// fixture is one service directory below the test root.
type fixture struct {
	name  string
	setup func(t *testing.T, dir string)
	want  string // svkit's line after "name: ", seconds computed at now
	same  bool   // 0.76 prints the same line (the differential test uses it)
	deb   string // otherwise, how 0.76's line starts
}

// hold opens a FIFO for reading, as a running supervise holds supervise/ok,
// until the test ends.
func hold(t *testing.T, path string) {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
}

// running makes dir look like a service with a live supervise and the
// given status bytes (nil: no status file).
func running(t *testing.T, dir string, st []byte) {
	t.Helper()
	testenv.Mkfifo(t, filepath.Join(dir, svdir.OKPath))
	hold(t, filepath.Join(dir, svdir.OKPath))
	if st != nil {
		if err := os.WriteFile(filepath.Join(dir, svdir.StatusPath), st, 0644); err != nil {
			t.Fatal(err)
		}
	}
}

func record(when time.Time, pid uint32, paused, want byte) []byte {
	b := make([]byte, 18)
	tai64.FromTime(when).Pack(b[0:12])
	binary.LittleEndian.PutUint32(b[12:16], pid)
	b[16], b[17] = paused, want
	return b
}

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0644); err != nil {
		t.Fatal(err)
	}
}

// fixtures returns every svstat line variant, built relative to now.
func fixtures(now time.Time) []fixture {
	ago := now.Add(-10 * time.Second)
	zero := func(t *testing.T, dir string) {}
	mk := func(f func(t *testing.T, dir string)) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			if err := os.MkdirAll(dir, 0755); err != nil {
				t.Fatal(err)
			}
			f(t, dir)
		}
	}
	return []fixture{
		{"nodir", zero, "unable to chdir: file does not exist", true, ""},
		{"file", func(t *testing.T, dir string) { touch(t, dir) }, "unable to chdir: not a directory", true, ""},
		{"downloop", mk(func(t *testing.T, dir string) { os.Symlink("down", filepath.Join(dir, "down")) }), "unable to stat down: symbolic link loop", true, ""},
		{"nosup", mk(zero), "unable to open supervise/ok: file does not exist", true, ""},
		{"stopped", mk(func(t *testing.T, dir string) { testenv.Mkfifo(t, filepath.Join(dir, svdir.OKPath)) }), "supervise not running", true, ""},
		{"okdir", mk(func(t *testing.T, dir string) { os.MkdirAll(filepath.Join(dir, svdir.OKPath), 0700) }), "unable to open supervise/ok: is a directory", true, ""},
		{"nostatus", mk(func(t *testing.T, dir string) { running(t, dir, nil) }), "unable to open supervise/status: file does not exist", true, ""},
		{"short", mk(func(t *testing.T, dir string) { running(t, dir, record(ago, 1, 0, 'u')[:17]) }), "unable to read supervise/status: bad format", true, ""},
		{"empty", mk(func(t *testing.T, dir string) { running(t, dir, []byte{}) }), "unable to read supervise/status: bad format", true, ""},
		{"statusdir", mk(func(t *testing.T, dir string) {
			running(t, dir, nil)
			os.Mkdir(filepath.Join(dir, svdir.StatusPath), 0755)
		}), "unable to read supervise/status: is a directory", false, "up (pid 9) "}, // 0.76 shows the previous dir's record
		{"up", mk(func(t *testing.T, dir string) { running(t, dir, record(ago, 5409, 1, 'u')) }), "up (pid 5409) 10 seconds, paused", true, ""},
		{"downwantup", mk(func(t *testing.T, dir string) { running(t, dir, record(ago, 0, 0, 'u')) }), "down 10 seconds, normally up, want up", true, ""},
		{"allflags", mk(func(t *testing.T, dir string) {
			touch(t, filepath.Join(dir, "down"))
			running(t, dir, record(ago, 4242, 1, 'd'))
		}), "up (pid 4242) 10 seconds, normally down, paused, want down", true, ""},
		{"wantdown", mk(func(t *testing.T, dir string) { running(t, dir, record(ago, 77, 0, 'd')) }), "up (pid 77) 10 seconds, want down", true, ""},
		{"downwantdown", mk(func(t *testing.T, dir string) {
			touch(t, filepath.Join(dir, "down"))
			running(t, dir, record(ago, 0, 1, 'd'))
		}), "down 10 seconds", true, ""},
		{"once", mk(func(t *testing.T, dir string) { running(t, dir, record(ago, 7, 0, 0)) }), "up (pid 7) 10 seconds", true, ""},
		{"oncedown", mk(func(t *testing.T, dir string) { running(t, dir, record(ago, 0, 0, 0)) }), "down 10 seconds, normally up", true, ""},
		{"pausedbyte2", mk(func(t *testing.T, dir string) { running(t, dir, record(ago, 8, 2, 'x')) }), "up (pid 8) 10 seconds, paused", true, ""},
		{"bigpid", mk(func(t *testing.T, dir string) { running(t, dir, record(ago, 0xffffffff, 0, 'u')) }), "up (pid 4294967295) 10 seconds", true, ""},
		{"future", mk(func(t *testing.T, dir string) { running(t, dir, record(now.Add(1000*time.Second), 1, 0, 'u')) }), "up (pid 1) 0 seconds", true, ""},
		{"zero", mk(func(t *testing.T, dir string) { running(t, dir, make([]byte, 18)) }), "down " + zeroSeconds(now) + " seconds, normally up", true, ""},
		{"long20", mk(func(t *testing.T, dir string) { running(t, dir, append(record(ago, 6671, 0, 'u'), 0, 1)) }), "up (pid 6671) 10 seconds", true, ""},
		{"danglingdown", mk(func(t *testing.T, dir string) {
			os.Symlink("nowhere", filepath.Join(dir, "down"))
			running(t, dir, record(ago, 0, 0, 'd'))
		}), "down 10 seconds, normally up", true, ""},
		{"downisdir", mk(func(t *testing.T, dir string) {
			os.Mkdir(filepath.Join(dir, "down"), 0755)
			running(t, dir, record(ago, 3, 0, 'u'))
		}), "up (pid 3) 10 seconds, normally down", true, ""},
		{"supsymlink", mk(func(t *testing.T, dir string) {
			real := dir + ".real"
			running(t, real, record(ago, 12, 0, 'u'))
			os.Symlink(filepath.Join(real, "supervise"), filepath.Join(dir, "supervise"))
		}), "up (pid 12) 10 seconds", true, ""},

		// svkit refuses what 0.76 follows or blocks on.
		{"okregular", mk(func(t *testing.T, dir string) {
			os.MkdirAll(filepath.Join(dir, "supervise"), 0700)
			touch(t, filepath.Join(dir, svdir.OKPath))
			os.WriteFile(filepath.Join(dir, svdir.StatusPath), record(ago, 5, 0, 'u'), 0644)
		}), "unable to open supervise/ok: not a FIFO", false, "up (pid 5) "},
		{"oksymlink", mk(func(t *testing.T, dir string) {
			running(t, dir+".real", nil)
			os.MkdirAll(filepath.Join(dir, "supervise"), 0700)
			os.Symlink(filepath.Join(dir+".real", svdir.OKPath), filepath.Join(dir, svdir.OKPath))
			os.WriteFile(filepath.Join(dir, svdir.StatusPath), record(ago, 5, 0, 'u'), 0644)
		}), "unable to open supervise/ok: is a symbolic link", false, "up (pid 5) "},
		{"statussymlink", mk(func(t *testing.T, dir string) {
			running(t, dir, nil)
			os.WriteFile(dir+".status", record(ago, 5, 0, 'u'), 0644)
			os.Symlink(dir+".status", filepath.Join(dir, svdir.StatusPath))
		}), "unable to open supervise/status: is a symbolic link", false, "up (pid 5) "},
		{"statusfifo", mk(func(t *testing.T, dir string) {
			running(t, dir, nil)
			testenv.Mkfifo(t, filepath.Join(dir, svdir.StatusPath))
		}), "unable to read supervise/status: bad format", false, ""},
	}
}

func zeroSeconds(now time.Time) string {
	var b []byte
	b = append(b, Line(svdir.Status{}, false, now)[len("down "):]...)
	return strings.TrimSuffix(string(b), " seconds")
}

func build(t *testing.T, now time.Time) (string, []fixture) {
	root := t.TempDir()
	fs := fixtures(now)
	for _, f := range fs {
		f.setup(t, filepath.Join(root, f.name))
	}
	return root, fs
}

func TestStatus(t *testing.T) {
	now := time.Now()
	root, fs := build(t, now)
	for _, f := range fs {
		if got := Status(filepath.Join(root, f.name), now); got != f.want {
			t.Errorf("%s: got %q, want %q", f.name, got, f.want)
		}
	}
	// The zero stamp's figure is the rounded 2^62+10+now, as Debian prints.
	if z := zeroSeconds(time.Unix(1795300000, 0)); z != "4611686020222688256" {
		t.Errorf("zero stamp seconds = %s", z)
	}
}

func TestMain(t *testing.T) {
	now := time.Now()
	root, fs := build(t, now)
	var args []string
	var want strings.Builder
	for _, f := range fs[:3] {
		args = append(args, filepath.Join(root, f.name))
		want.WriteString(filepath.Join(root, f.name) + ": " + f.want + "\n")
	}
	var out, errb bytes.Buffer
	if code := Main(append([]string{"svstat"}, args...), nil, &out, &errb); code != 0 || out.String() != want.String() || errb.Len() != 0 {
		t.Errorf("Main: code %d, stdout %q, stderr %q; want stdout %q", code, out.String(), errb.String(), want.String())
	}
	out.Reset()
	if code := Main([]string{"svstat"}, nil, &out, &errb); code != 0 || out.Len() != 0 {
		t.Errorf("no args: code %d, stdout %q", code, out.String())
	}
}

// runBoth runs Debian's and svkit's svstat with the same arguments in dir
// until their outputs agree (a second boundary may separate two runs) and
// returns the last outputs.
func runBoth(t *testing.T, dir string, args ...string) (debian, svkit string) {
	t.Helper()
	deb := testenv.Debian(t, "svstat")
	ours := testenv.Prog(t, "svstat")
	for i := 0; i < 3; i++ {
		o1, e1, c1 := testenv.Run(t, dir, "", deb, args...)
		o2, e2, c2 := testenv.Run(t, dir, "", ours, args...)
		if e1 != e2 || c1 != c2 {
			t.Errorf("svstat %q: stderr/code differ: Debian %q %d, svkit %q %d", args, e1, c1, e2, c2)
		}
		debian, svkit = o1, o2
		if o1 == o2 {
			break
		}
	}
	return debian, svkit
}

// TestDifferential runs Debian's svstat and svkit's on the same fabricated
// directories: every line variant shared with 0.76, several per call, and
// arguments that look like options.
func TestDifferential(t *testing.T) {
	root, fs := build(t, time.Now())
	args := []string{"-z", "--", "-", "", "nodir"}
	for _, f := range fs {
		if f.same {
			args = append(args, f.name)
		}
	}
	args = append(args, "up", root+"/up", "./up/", "up/supervise/..")
	debian, svkit := runBoth(t, root, args...)
	if debian != svkit {
		t.Errorf("outputs differ\nDebian:\n%s\nsvkit:\n%s", debian, svkit)
	}
	if n := strings.Count(svkit, "\n"); n != len(args) {
		t.Errorf("%d lines for %d arguments", n, len(args))
	}
	// Every variant is covered (the lines carry their fixed texts).
	for _, v := range []string{"unable to chdir: ", "unable to stat down: ", "supervise not running", "unable to open supervise/ok: ",
		"unable to open supervise/status: ", "unable to read supervise/status: bad format",
		"normally down", "normally up", ", paused", "want down", "want up", " 0 seconds"} {
		if !strings.Contains(debian, v) {
			t.Errorf("no Debian line shows %q", v)
		}
	}
	debian, svkit = runBoth(t, root)
	if debian != "" || svkit != "" {
		t.Errorf("no args: Debian %q, svkit %q", debian, svkit)
	}
}

// TestDifferentialDeviations documents what 0.76 does where svkit differs:
// it follows a regular-file or symlinked ok and a symlinked status, and on
// a read error (status is a directory) it prints the record left in its
// buffer by the previous directory (its r < sizeof check compares -1 as
// unsigned). A FIFO status would block 0.76 forever, so it is not run.
func TestDifferentialDeviations(t *testing.T) {
	root, fs := build(t, time.Now())
	prev := filepath.Join(root, "prev")
	os.Mkdir(prev, 0755)
	running(t, prev, record(time.Now(), 9, 0, 'u'))
	for _, f := range fs {
		if f.same || f.deb == "" {
			continue
		}
		_, ours := runBoth(t, root, f.name)
		if ours != f.name+": "+f.want+"\n" {
			t.Errorf("%s: svkit %q", f.name, ours)
		}
		o, _, _ := testenv.Run(t, root, "", testenv.Debian(t, "svstat"), "prev", f.name)
		lines := strings.SplitAfter(o, "\n")
		if len(lines) < 2 || !strings.HasPrefix(lines[1], f.name+": "+f.deb) {
			t.Errorf("%s: Debian %q, expected %q", f.name, o, f.deb)
		}
	}
}
