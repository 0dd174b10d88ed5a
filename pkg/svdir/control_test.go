package svdir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestDedup(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"u", "u"},
		{"dduxkh", "duxkh"},
		{"uuuuuuu", "u"},
		{"udopchaitkxudopchaitkx", "udopchaitkx"},
		{"xkxkxk", "xk"},
		{"abcdefghijklmnopqrstuvwxyz", "abcdefghijklmnopqrst"}, // cut at 20
		{"aabbccddeeffgghhiijjkkllmmnn", "abcdefghijklmn"},
	} {
		if got := Dedup(tc.in); got != tc.want {
			t.Errorf("Dedup(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestValid(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := strings.IndexByte("udopchaitkx", byte(c)) >= 0
		if Valid(byte(c)) != want {
			t.Errorf("Valid(%q) = %v", byte(c), !want)
		}
	}
	// The constants are the letters of the option string, each once.
	all := string([]byte{CmdUp, CmdDown, CmdOnce, CmdPause, CmdContinue, CmdHangup, CmdAlarm, CmdInterrupt, CmdTerm, CmdKill, CmdExit})
	if Dedup(all) != Letters || len(Letters) != 11 {
		t.Errorf("constants %q do not match Letters %q", all, Letters)
	}
}

// FuzzDedup checks Dedup's contract on arbitrary input: no repeats, at most
// MaxLetters, every byte taken from the input in the order of its first
// appearance, and nothing left out before the cut.
func FuzzDedup(f *testing.F) {
	for _, s := range []string{"", "dduxkh", "udopchaitkx", "zzz\x00\xff", "abcdefghijklmnopqrstuvwxyz0123"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := Dedup(s)
		if len(d) > MaxLetters {
			t.Fatalf("Dedup(%q) = %q: longer than %d", s, d, MaxLetters)
		}
		var seen [256]bool
		var want []byte
		for i := 0; i < len(s); i++ {
			if !seen[s[i]] {
				seen[s[i]] = true
				want = append(want, s[i])
			}
		}
		if len(want) > MaxLetters {
			want = want[:MaxLetters]
		}
		if d != string(want) {
			t.Fatalf("Dedup(%q) = %q, want %q", s, d, want)
		}
	})
}

// fakeSupervise makes dir/supervise with FIFOs control and ok, and holds
// them open for reading as a running supervise does. It returns the read
// end of control.
func fakeSupervise(t *testing.T, dir string, running bool) *os.File {
	t.Helper()
	sd := filepath.Join(dir, "supervise")
	if err := os.MkdirAll(sd, 0700); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"control", "ok"} {
		if err := unix.Mkfifo(filepath.Join(sd, n), 0600); err != nil {
			t.Fatal(err)
		}
	}
	if !running {
		return nil
	}
	var ctl *os.File
	for _, n := range []string{"control", "ok"} {
		fd, err := unix.Open(filepath.Join(sd, n), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		f := os.NewFile(uintptr(fd), n)
		t.Cleanup(func() { f.Close() })
		if n == "control" {
			ctl = f
		}
	}
	return ctl
}

func readAll(t *testing.T, f *os.File) string {
	t.Helper()
	b := make([]byte, 100)
	n, err := unix.Read(int(f.Fd()), b)
	if err == unix.EAGAIN {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b[:n])
}

func TestSendAndOK(t *testing.T) {
	d := t.TempDir()
	run := filepath.Join(d, "run")
	ctl := fakeSupervise(t, run, true)
	if err := Send(run, "duxkh"); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, ctl); got != "duxkh" {
		t.Errorf("control got %q", got)
	}
	if err := Send(run, ""); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, ctl); got != "" {
		t.Errorf("empty send wrote %q", got)
	}
	if ok, err := OK(run); !ok || err != nil {
		t.Errorf("OK(running) = %v, %v", ok, err)
	}

	stopped := filepath.Join(d, "stopped")
	fakeSupervise(t, stopped, false)
	if err := Send(stopped, "u"); err != unix.ENXIO {
		t.Errorf("Send(stopped) = %v, want ENXIO", err)
	}
	if ok, err := OK(stopped); ok || err != nil {
		t.Errorf("OK(stopped) = %v, %v", ok, err)
	}
	if ok, err := OK(d); ok || err != nil {
		t.Errorf("OK(no supervise dir) = %v, %v", ok, err)
	}
	if _, err := OK(filepath.Join(d, "nodir")); err != unix.ENOENT {
		t.Errorf("OK(nodir) err = %v, want ENOENT", err)
	}
	if err := Send(filepath.Join(d, "nodir"), "u"); err != unix.ENOENT {
		t.Errorf("Send(nodir) = %v, want ENOENT", err)
	}
}

// TestRefusePlanted: a regular file or a symlink in place of the FIFOs is
// neither written to nor followed, even when the symlink points at a live
// FIFO.
func TestRefusePlanted(t *testing.T) {
	d := t.TempDir()
	live := filepath.Join(d, "live")
	ctl := fakeSupervise(t, live, true)

	reg := filepath.Join(d, "reg", "supervise")
	os.MkdirAll(reg, 0700)
	victim := filepath.Join(d, "victim")
	os.WriteFile(victim, []byte("precious\n"), 0644)
	if err := os.Link(victim, filepath.Join(reg, "control")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(reg, "ok"), nil, 0600)
	if err := Send(filepath.Dir(reg), "dx"); !errors.Is(err, ErrNotFIFO) {
		t.Errorf("Send(regular control) = %v, want ErrNotFIFO", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("hard-linked victim changed: %q", b)
	}
	if _, err := OK(filepath.Dir(reg)); !errors.Is(err, ErrNotFIFO) {
		t.Errorf("OK(regular ok) err = %v, want ErrNotFIFO", err)
	}

	sym := filepath.Join(d, "sym", "supervise")
	os.MkdirAll(sym, 0700)
	os.Symlink(filepath.Join(live, "supervise", "control"), filepath.Join(sym, "control"))
	os.Symlink(filepath.Join(live, "supervise", "ok"), filepath.Join(sym, "ok"))
	if err := Send(filepath.Dir(sym), "dx"); !errors.Is(err, ErrSymlink) {
		t.Errorf("Send(symlinked control) = %v, want ErrSymlink", err)
	}
	if got := readAll(t, ctl); got != "" {
		t.Errorf("symlink was followed: live control got %q", got)
	}
	if _, err := OK(filepath.Dir(sym)); !errors.Is(err, ErrSymlink) {
		t.Errorf("OK(symlinked ok) err = %v, want ErrSymlink", err)
	}

	// A symlink loop in the last component is still reported as a symlink;
	// a symlinked supervise/ directory is followed (Debian supports it).
	loop := filepath.Join(d, "loop", "supervise")
	os.MkdirAll(loop, 0700)
	os.Symlink("control", filepath.Join(loop, "control"))
	if err := Send(filepath.Dir(loop), "u"); !errors.Is(err, ErrSymlink) {
		t.Errorf("Send(looping control) = %v, want ErrSymlink", err)
	}
	linked := filepath.Join(d, "linked")
	os.Mkdir(linked, 0755)
	os.Symlink(filepath.Join(live, "supervise"), filepath.Join(linked, "supervise"))
	if err := Send(linked, "h"); err != nil {
		t.Errorf("Send(symlinked supervise dir) = %v", err)
	}
	if got := readAll(t, ctl); got != "h" {
		t.Errorf("control got %q via symlinked supervise dir", got)
	}

	if ErrText(ErrSymlink) != "is a symbolic link" || ErrText(ErrNotFIFO) != "not a FIFO" || ErrText(syscall.ENXIO) != "device not configured" {
		t.Errorf("ErrText: %q %q %q", ErrText(ErrSymlink), ErrText(ErrNotFIFO), ErrText(syscall.ENXIO))
	}
}

func TestOpenDir(t *testing.T) {
	d := t.TempDir()
	f := filepath.Join(d, "file")
	os.WriteFile(f, nil, 0644)
	if _, err := OpenDir(f); err != unix.ENOTDIR {
		t.Errorf("OpenDir(file) = %v, want ENOTDIR", err)
	}
	if _, err := OpenDir(""); err != unix.ENOENT {
		t.Errorf("OpenDir(\"\") = %v, want ENOENT", err)
	}
	fd, err := OpenDir(d)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
}

// TestSendBrokenPipe: the reader going away between open and write gives a
// *SendError carrying EPIPE, not a SIGPIPE death.
func TestSendBrokenPipe(t *testing.T) {
	d := t.TempDir()
	fakeSupervise(t, d, false)
	rfd, err := unix.Open(filepath.Join(d, "supervise", "control"), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	dfd, err := OpenDir(d)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dfd)
	wfd, err := openFIFO(dfd, ControlPath)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(rfd)
	_, werr := unix.Write(wfd, []byte("u"))
	unix.Close(wfd)
	if werr != unix.EPIPE {
		t.Fatalf("write after reader closed: %v, want EPIPE", werr)
	}
	var se *SendError
	e := error(&SendError{werr})
	if !errors.As(e, &se) || !errors.Is(e, unix.EPIPE) {
		t.Errorf("SendError does not unwrap: %v", e)
	}
}

// TestMakeDir: supervise/ is created 0700 where missing, left alone where
// it exists, and a dangling symlink gets its target created, relative
// targets resolved from the service directory whatever the current one.
func TestMakeDir(t *testing.T) {
	for _, tc := range []struct {
		name   string
		link   string // supervise is a symlink to this ("" none); "ABS/" is replaced by an absolute directory
		exists bool   // supervise exists as a directory beforehand
		target string // the directory that must exist afterwards, relative to the service directory unless it starts with ABS/
	}{
		{name: "missing", target: "supervise"},
		{name: "existing", exists: true, target: "supervise"},
		{name: "dangling relative", link: "../run/svc", target: "../run/svc"},
		{name: "dangling absolute", link: "ABS/svc", target: "ABS/svc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			abs := filepath.Join(root, "abs")
			svc := filepath.Join(root, "scan", "svc")
			for _, d := range []string{abs, svc, filepath.Join(root, "scan", "run")} {
				if err := os.MkdirAll(d, 0755); err != nil {
					t.Fatal(err)
				}
			}
			fix := func(p string) string {
				if rest, ok := strings.CutPrefix(p, "ABS/"); ok {
					return filepath.Join(abs, rest)
				}
				return filepath.Join(svc, p)
			}
			if tc.exists {
				if err := os.Mkdir(filepath.Join(svc, "supervise"), 0755); err != nil {
					t.Fatal(err)
				}
			}
			if tc.link != "" {
				l := tc.link
				if strings.HasPrefix(l, "ABS/") {
					l = fix(l)
				}
				if err := os.Symlink(l, filepath.Join(svc, "supervise")); err != nil {
					t.Fatal(err)
				}
			}
			// From the scan directory, as svscan calls it.
			t.Chdir(filepath.Join(root, "scan"))
			MakeDir("svc")
			st, err := os.Stat(fix(tc.target))
			if err != nil || !st.IsDir() {
				t.Fatalf("%s: %v", tc.target, err)
			}
			want := os.FileMode(0700)
			if tc.exists {
				want = 0755
			}
			if st.Mode().Perm() != want {
				t.Errorf("%s: mode %v, want %v", tc.target, st.Mode().Perm(), want)
			}
			if _, err := os.Stat(filepath.Join(svc, "supervise")); err != nil {
				t.Errorf("supervise not usable: %v", err)
			}
		})
	}
}
