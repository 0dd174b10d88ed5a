package svc

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"svkit/internal/testenv"
	"svkit/pkg/svdir"
)

const usage = UsageLine + "\n"

// fifos builds service dirs below a new root: "a" and "b" with a live
// (held) control FIFO, "stopped" without a reader, "nosup" without
// supervise/, "file" a regular file, and the svkit refusals "reg" (control
// is a hard link to "victim") and "sym" (control is a symlink to a's). It
// returns the root and a reader per live control FIFO.
func fifos(t *testing.T) (string, map[string]int) {
	root := t.TempDir()
	readers := map[string]int{}
	for _, n := range []string{"a", "b", "stopped"} {
		p := filepath.Join(root, n, svdir.ControlPath)
		os.MkdirAll(filepath.Dir(p), 0700)
		if err := unix.Mkfifo(p, 0600); err != nil {
			t.Fatal(err)
		}
		if n == "stopped" {
			continue
		}
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		readers[n] = fd
	}
	os.MkdirAll(filepath.Join(root, "nosup"), 0755)
	os.WriteFile(filepath.Join(root, "file"), nil, 0644)
	os.WriteFile(filepath.Join(root, "victim"), []byte("precious\n"), 0644)
	os.MkdirAll(filepath.Join(root, "reg", "supervise"), 0700)
	if err := os.Link(filepath.Join(root, "victim"), filepath.Join(root, "reg", svdir.ControlPath)); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, "sym", "supervise"), 0700)
	os.Symlink(filepath.Join(root, "a", svdir.ControlPath), filepath.Join(root, "sym", svdir.ControlPath))
	return root, readers
}

// drain returns what is waiting in a control FIFO.
func drain(t *testing.T, fd int) string {
	t.Helper()
	var all []byte
	b := make([]byte, 256)
	for {
		n, err := unix.Read(fd, b)
		if err == unix.EAGAIN || n == 0 {
			return string(all)
		}
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b[:n]...)
	}
}

type svcCase struct {
	args   []string
	code   int
	stderr string            // with ROOT for the root dir
	got    map[string]string // bytes each live control receives
	same   bool              // 0.76 agrees
}

func cases() []svcCase {
	bad := func(c string) string { return "svc: illegal option -- " + c + "\n" + usage }
	return []svcCase{
		{[]string{}, 0, "", nil, true},
		{[]string{"-u"}, 0, "", nil, true},
		{[]string{"--"}, 0, "", nil, true},
		{[]string{"-dduxkh", "a"}, 0, "", map[string]string{"a": "duxkh"}, true},
		{[]string{"-d", "-d", "-u", "-x", "-k", "-h", "a", "b"}, 0, "", map[string]string{"a": "duxkh", "b": "duxkh"}, true},
		{[]string{"-udopchaitkx", "a"}, 0, "", map[string]string{"a": "udopchaitkx"}, true},
		{[]string{"-xkxkxkxkxkxkxkxkxkxkxkxk", "b"}, 0, "", map[string]string{"b": "xk"}, true},
		{[]string{"a"}, 0, "", map[string]string{"a": ""}, true},
		{[]string{"-h", "a", "a", "ROOT/a", "./b/"}, 0, "", map[string]string{"a": "hhh", "b": "h"}, true},
		{[]string{"-t", "stopped", "nosup", "file", "nodir", "", "a"}, 0,
			"svc: warning: unable to control stopped: supervise not running\n" +
				"svc: warning: unable to control nosup: file does not exist\n" +
				"svc: warning: unable to chdir to file: not a directory\n" +
				"svc: warning: unable to chdir to nodir: file does not exist\n" +
				"svc: warning: unable to chdir to : file does not exist\n", map[string]string{"a": "t"}, true},
		{[]string{"a", "-d"}, 0, "svc: warning: unable to chdir to -d: file does not exist\n", map[string]string{"a": ""}, true},
		{[]string{"-d", "--", "-u", "a"}, 0, "svc: warning: unable to chdir to -u: file does not exist\n", map[string]string{"a": "d"}, true},
		{[]string{"-a", "--foo", "a"}, 0, "", map[string]string{"a": "a"}, true},
		{[]string{"-i", "-", "b"}, 0, "svc: warning: unable to chdir to -: file does not exist\n", map[string]string{"b": "i"}, true},
		{[]string{"-z"}, 100, bad("z"), nil, true},
		{[]string{"-dz", "a"}, 100, bad("z"), map[string]string{"a": ""}, true},
		{[]string{"-d", "a", "-z"}, 0, "svc: warning: unable to chdir to -z: file does not exist\n", map[string]string{"a": "d"}, true},
		{[]string{"-u-", "a"}, 100, bad("-"), nil, true},
		{[]string{"-q", "a"}, 100, bad("q"), nil, true},
		{[]string{"-v", "a"}, 100, bad("v"), nil, true},
		{[]string{"-w", "a"}, 100, bad("w"), nil, true},
		{[]string{"-1", "a"}, 100, bad("1"), nil, true},
		{[]string{"-?", "a"}, 100, bad("?"), nil, true},
		{[]string{"-U", "a"}, 100, bad("U"), nil, true},
		// 0.76 follows the symlink (a gets "d") and writes into the regular
		// file (the victim's first byte becomes 'd').
		{[]string{"-d", "sym", "reg"}, 0,
			"svc: warning: unable to control sym: supervise/control is a symbolic link\n" +
				"svc: warning: unable to control reg: supervise/control is not a FIFO\n", map[string]string{"a": ""}, false},
	}
}

func TestSvc(t *testing.T) {
	for _, c := range cases() {
		root, readers := fifos(t)
		args := []string{"svc"}
		for _, a := range c.args {
			args = append(args, strings.ReplaceAll(a, "ROOT", root))
		}
		// In-process, relative dirs must be given below root.
		for i := 1; i < len(args); i++ {
			if args[i] != "" && !strings.HasPrefix(args[i], "-") && !strings.HasPrefix(args[i], "/") {
				args[i] = root + "/" + args[i]
			}
		}
		want := c.stderr
		for _, n := range []string{"stopped", "nosup", "file", "nodir", "sym", "reg"} {
			want = strings.ReplaceAll(want, " "+n+":", " "+root+"/"+n+":")
		}
		var out, errb bytes.Buffer
		code := Main(args, nil, &out, &errb)
		if code != c.code || errb.String() != want || out.Len() != 0 {
			t.Errorf("svc %q: code %d stderr %q, want %d %q", c.args, code, errb.String(), c.code, want)
		}
		for n, fd := range readers {
			if got := drain(t, fd); got != c.got[n] {
				t.Errorf("svc %q: %s/supervise/control got %q, want %q", c.args, n, got, c.got[n])
			}
		}
		if b, _ := os.ReadFile(filepath.Join(root, "victim")); string(b) != "precious\n" {
			t.Errorf("svc %q wrote into a hard-linked regular file: %q", c.args, b)
		}
	}
}

// TestDifferential runs /usr/bin/svc and svkit's svc with the same
// arguments in the same directories and compares exit codes, stderr and the
// bytes each control FIFO receives.
func TestDifferential(t *testing.T) {
	deb := testenv.Debian(t, "svc")
	ours := testenv.Prog(t, "svc")
	for _, c := range cases() {
		for _, prog := range []string{deb, ours} {
			root, readers := fifos(t)
			var args []string
			for _, a := range c.args {
				args = append(args, strings.ReplaceAll(a, "ROOT", root))
			}
			o, e, code := testenv.Run(t, root, "", prog, args...)
			victim, _ := os.ReadFile(filepath.Join(root, "victim"))
			if !c.same && prog == deb {
				// Record 0.76's behaviour: the symlink is followed and the
				// regular file is written to.
				if code != 0 || e != "" || drain(t, readers["a"]) != "d" || string(victim) != "drecious\n" {
					t.Errorf("Debian svc %q: %d %q, victim %q", c.args, code, e, victim)
				}
				continue
			}
			if code != c.code || e != c.stderr || o != "" {
				t.Errorf("%s %q: %d %q %q, want %d %q", prog, c.args, code, o, e, c.code, c.stderr)
			}
			for n, fd := range readers {
				if got := drain(t, fd); got != c.got[n] {
					t.Errorf("%s %q: %s got %q, want %q", prog, c.args, n, got, c.got[n])
				}
			}
			if string(victim) != "precious\n" {
				t.Errorf("%s %q: victim %q", prog, c.args, victim)
			}
		}
	}
}

// TestProgName: the complaint names the program as invoked (basename of
// argv[0]), as djb's sgetopt does; the option line is fixed.
func TestProgName(t *testing.T) {
	var errb bytes.Buffer
	if code := Main([]string{"/opt/x/mysvc", "-z"}, nil, &bytes.Buffer{}, &errb); code != 100 || errb.String() != "mysvc: illegal option -- z\n"+usage {
		t.Errorf("got %d %q", code, errb.String())
	}
}

// FuzzParse checks svc's option parsing against a direct model of 0.76:
// options are the leading arguments that start with '-' (not "-" alone,
// "--..." ends them and is dropped); any byte there outside "udopchaitkx"
// is an error reported with the usage line; the letters are de-duplicated
// in order of first appearance.
func FuzzParse(f *testing.F) {
	seeds := []string{"-dduxkh\x00a", "-u\x00--\x00-d", "-z\x00a", "-\x00-u", "a\x00-u", "-udopchaitkx\x00-udopchaitkx"}
	testenv.FuzzArgv(f, "svc", seeds, func(t *testing.T, argv []string) {
		var errb bytes.Buffer
		letters, dirs, ok := Parse(argv, &errb)

		// The model.
		var seen [256]bool
		var want []byte
		i := 1
		wantOK := true
		var bad byte
	args:
		for ; i < len(argv); i++ {
			a := argv[i]
			switch {
			case len(a) < 2 || a[0] != '-':
				break args
			case a[1] == '-':
				i++
				break args
			}
			for j := 1; j < len(a); j++ {
				if strings.IndexByte("udopchaitkx", a[j]) < 0 {
					wantOK, bad = false, a[j]
					break args
				}
				if !seen[a[j]] {
					seen[a[j]] = true
					want = append(want, a[j])
				}
			}
		}
		if ok != wantOK {
			t.Fatalf("%q: ok %v, want %v", argv, ok, wantOK)
		}
		if !ok {
			if errb.String() != "svc: illegal option -- "+string([]byte{bad})+"\n"+usage {
				t.Fatalf("%q: stderr %q", argv, errb.String())
			}
			return
		}
		if errb.Len() != 0 || letters != string(want) || len(letters) > 20 {
			t.Fatalf("%q: letters %q stderr %q, want %q", argv, letters, errb.String(), want)
		}
		if len(dirs) != len(argv)-i || (len(dirs) > 0 && &dirs[0] != &argv[i]) {
			t.Fatalf("%q: dirs %q, want %q", argv, dirs, argv[i:])
		}
	})
}
