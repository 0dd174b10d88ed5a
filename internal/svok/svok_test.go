package svok

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"svkit/internal/testenv"
)

func mkfifo(t *testing.T, path string, held bool) {
	t.Helper()
	testenv.Mkfifo(t, path)
	if held {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
	}
}

type tc struct {
	args   []string
	code   int
	stderr string
	same   bool // 0.76 agrees
}

// setup builds the service dirs below a new root and returns the cases.
func setup(t *testing.T) (string, []tc) {
	root := t.TempDir()
	d := func(n string) string { return filepath.Join(root, n) }
	mkfifo(t, d("run/supervise/ok"), true)
	mkfifo(t, d("stopped/supervise/ok"), false)
	os.MkdirAll(d("nosup"), 0755)
	os.MkdirAll(d("nook/supervise"), 0755)
	os.MkdirAll(d("okdir/supervise/ok"), 0755)
	os.WriteFile(d("file"), nil, 0644)
	os.MkdirAll(d("okreg/supervise"), 0755)
	os.WriteFile(d("okreg/supervise/ok"), nil, 0600)
	os.MkdirAll(d("oksym/supervise"), 0755)
	os.Symlink(d("run/supervise/ok"), d("oksym/supervise/ok"))
	os.MkdirAll(d("supsym"), 0755)
	os.Symlink(d("run/supervise"), d("supsym/supervise"))
	return root, []tc{
		{[]string{}, 100, "svok: usage: svok dir\n", true},
		{[]string{"run"}, 0, "", true},
		{[]string{"supsym"}, 0, "", true},
		{[]string{"run", "stopped"}, 0, "", true},
		{[]string{"stopped", "run"}, 100, "", true},
		{[]string{"stopped"}, 100, "", true},
		{[]string{"nosup"}, 100, "", true},
		{[]string{"nook"}, 100, "", true},
		{[]string{"okdir"}, 111, "svok: fatal: unable to open okdir/supervise/ok: is a directory\n", true},
		{[]string{"nodir"}, 111, "svok: fatal: unable to chdir to nodir: file does not exist\n", true},
		{[]string{"file"}, 111, "svok: fatal: unable to chdir to file: not a directory\n", true},
		{[]string{""}, 111, "svok: fatal: unable to chdir to : file does not exist\n", true},
		{[]string{"-z"}, 111, "svok: fatal: unable to chdir to -z: file does not exist\n", true},
		{[]string{"--", "run"}, 111, "svok: fatal: unable to chdir to --: file does not exist\n", true},
		{[]string{root + "/run/"}, 0, "", true},
		// 0.76 opens these and says "running" (exit 0).
		{[]string{"okreg"}, 111, "svok: fatal: unable to open okreg/supervise/ok: not a FIFO\n", false},
		{[]string{"oksym"}, 111, "svok: fatal: unable to open oksym/supervise/ok: is a symbolic link\n", false},
	}
}

// TestSvok runs svok in-process; the directories are given relative to the
// root through an absolute prefix, so the message shows the prefix too.
func TestSvok(t *testing.T) {
	root, cases := setup(t)
	for _, c := range cases {
		args := append([]string{"svok"}, c.args...)
		want := c.stderr
		if len(c.args) > 0 && c.args[0] != "" && c.args[0][0] != '/' {
			args[1] = root + "/" + c.args[0]
			want = replaceFirst(want, " "+c.args[0], " "+args[1])
		}
		var out, errb bytes.Buffer
		code := Main(args, nil, &out, &errb)
		if code != c.code || errb.String() != want || out.Len() != 0 {
			t.Errorf("svok %q: code %d stderr %q, want %d %q", args[1:], code, errb.String(), c.code, want)
		}
	}
}

func replaceFirst(s, old, new string) string {
	if i := bytes.Index([]byte(s), []byte(old)); i >= 0 {
		return s[:i] + new + s[i+len(old):]
	}
	return s
}

// TestDifferential runs /usr/bin/svok and svkit's svok binary on the same
// directories.
func TestDifferential(t *testing.T) {
	deb := testenv.Debian(t, "svok")
	ours := testenv.Prog(t, "svok")
	root, cases := setup(t)
	for _, c := range cases {
		o2, e2, c2 := testenv.Run(t, root, "", ours, c.args...)
		if c2 != c.code || e2 != c.stderr || o2 != "" {
			t.Errorf("svkit svok %q: %d %q %q, want %d %q", c.args, c2, o2, e2, c.code, c.stderr)
		}
		o1, e1, c1 := testenv.Run(t, root, "", deb, c.args...)
		if c.same && (c1 != c2 || e1 != e2 || o1 != o2) {
			t.Errorf("svok %q: Debian %d %q %q, svkit %d %q %q", c.args, c1, o1, e1, c2, o2, e2)
		}
		if !c.same && (c1 != 0 || e1 != "") {
			t.Errorf("svok %q: Debian %d %q; expected 0.76 to follow it and exit 0", c.args, c1, e1)
		}
	}
}
