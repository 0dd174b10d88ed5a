package chaos_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"svkit/internal/testenv"
	"svkit/pkg/svdir"
)

// runs is the code of a bad-input case whose program is expected to keep
// running (retrying, pausing): it is killed after the case's wait.
const runs = -100

// badCase is one row of the bad-input table: a program given a missing,
// unreadable, wrong-type or oversized input.
type badCase struct {
	prog  string
	what  string
	setup func(t *testing.T, dir string) []string // builds the input under dir (the cwd); returns the arguments
	stdin string
	wait  time.Duration                  // for code == runs: how long the program runs before it is killed
	code  int                            // svkit's exit code, or runs
	msg   string                         // what svkit's stderr (or, for svstat, stdout) must hold
	root  bool                           // needs root (mounts a file system)
	check func(t *testing.T, dir string) // nothing already written is damaged
}

func mkdirs(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.MkdirAll(p, 0755); err != nil {
			t.Fatal(err)
		}
	}
}

func sparseN(t *testing.T, path, head string, size int64) {
	t.Helper()
	testenv.WriteFile(t, path, head, 0644)
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

// bigSize is the size of the file of NULs: 8 MB, more than the kernel
// takes in one environment string (128 KiB); envdir reads all of it, so
// 1 GB (BADINPUT_BIG=1) takes seconds and gigabytes.
func bigSize() int64 {
	if os.Getenv("BADINPUT_BIG") != "" {
		return 1 << 30
	}
	return 8 << 20
}

// mountTmpfs mounts a small tmpfs at dir (read-only when ro), unmounted at
// cleanup.
func mountTmpfs(t *testing.T, dir, opts string) {
	t.Helper()
	mkdirs(t, dir)
	testenv.MustRun(t, "mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir)
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
}

// unchanged returns a check that path still holds exactly s.
func unchanged(path, s string) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, path))
		if err != nil || string(b) != s {
			t.Errorf("%s damaged: %q (err %v), want %q", path, b, err, s)
		}
	}
}

const garbage = "\xde\xad\xbe\xef garbage \x00\x01\x02 status!!" // 28 bytes

func badCases() []badCase {
	service := func(t *testing.T, dir string) {
		testenv.WriteFile(t, filepath.Join(dir, "s", "run"), "#!/bin/sh\nexec sleep 100\n", 0755)
	}
	// A service dir whose supervise/ was left by a supervise no longer
	// running (no reader on control, no lock held).
	stale := func(t *testing.T, dir string) {
		service(t, dir)
		testenv.Mkfifo(t, filepath.Join(dir, "s", svdir.ControlPath))
		testenv.Mkfifo(t, filepath.Join(dir, "s", svdir.OKPath))
	}
	// As stale, but with a reader on supervise/ok (standing in for a
	// running supervise), so that svstat goes on to read status.
	live := func(t *testing.T, dir string) {
		stale(t, dir)
		f, err := os.OpenFile(filepath.Join(dir, "s", svdir.OKPath), os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
	}
	return []badCase{
		// supervise
		{prog: "supervise", what: "service dir missing", code: 111, msg: "supervise: fatal: unable to chdir to nosuch",
			setup: func(t *testing.T, dir string) []string { return []string{"nosuch"} }},
		{prog: "supervise", what: "service dir is a dangling symlink", code: 111, msg: "supervise: fatal: unable to chdir to s",
			setup: func(t *testing.T, dir string) []string {
				os.Symlink("gone", filepath.Join(dir, "s"))
				return []string{"s"}
			}},
		{prog: "supervise", what: "service dir is a regular file", code: 111, msg: "supervise: fatal: unable to chdir to s",
			setup: func(t *testing.T, dir string) []string {
				testenv.WriteFile(t, filepath.Join(dir, "s"), "x", 0644)
				return []string{"s"}
			}},
		{prog: "supervise", what: "run is a directory (retried every second)", code: runs, wait: 1200 * time.Millisecond, msg: "supervise: fatal: unable to start s/run: access denied",
			setup: func(t *testing.T, dir string) []string {
				mkdirs(t, filepath.Join(dir, "s", "run"))
				return []string{"s"}
			}},
		{prog: "supervise", what: "run missing (retried every second)", code: runs, wait: 1200 * time.Millisecond, msg: "supervise: fatal: unable to start s/run: file does not exist",
			setup: func(t *testing.T, dir string) []string { mkdirs(t, filepath.Join(dir, "s")); return []string{"s"} }},
		{prog: "supervise", what: "supervise/control is a regular file", code: 111, msg: "supervise: fatal: unable to read s/supervise/control: not a", // "not a FIFO" (or "named pipe")
			setup: func(t *testing.T, dir string) []string {
				service(t, dir)
				testenv.WriteFile(t, filepath.Join(dir, "s", svdir.ControlPath), "keep", 0644)
				return []string{"s"}
			},
			check: unchanged("s/supervise/control", "keep")},
		{prog: "supervise", what: "supervise/status is garbage (28 bytes): rewritten", code: runs, wait: 1000 * time.Millisecond, msg: "",
			setup: func(t *testing.T, dir string) []string {
				service(t, dir)
				testenv.WriteFile(t, filepath.Join(dir, "s", svdir.StatusPath), garbage, 0644)
				return []string{"s"}
			},
			check: func(t *testing.T, dir string) {
				b, _ := os.ReadFile(filepath.Join(dir, "s", svdir.StatusPath))
				if len(b) != 18 || b[17] != 'u' {
					t.Errorf("status not rewritten: %q", b)
				}
			}},
		{prog: "supervise", what: "read-only file system", code: 111, msg: "supervise: fatal: unable to acquire s/supervise/lock: read-only file system", root: true,
			setup: func(t *testing.T, dir string) []string {
				service(t, dir)
				mountTmpfs(t, filepath.Join(dir, "s", "supervise"), "ro,size=64k")
				return []string{"s"}
			}},

		// svc, svok, svstat
		{prog: "svc", what: "service dir missing", code: 0, msg: "svc: warning: unable to chdir to nosuch",
			setup: func(t *testing.T, dir string) []string { return []string{"-u", "nosuch"} }},
		{prog: "svc", what: "no supervise running", code: 0, msg: "svc: warning: unable to control s: supervise not running",
			setup: func(t *testing.T, dir string) []string { stale(t, dir); return []string{"-u", "s"} }},
		{prog: "svc", what: "control FIFO replaced by a regular file", code: 0, msg: "svc: warning: unable to control s: supervise/control is not a FIFO",
			setup: func(t *testing.T, dir string) []string {
				service(t, dir)
				testenv.WriteFile(t, filepath.Join(dir, "s", svdir.ControlPath), "keep", 0644)
				return []string{"-d", "s"}
			},
			check: unchanged("s/supervise/control", "keep")},
		{prog: "svok", what: "ok FIFO replaced by a regular file", code: 111, msg: "svok: fatal: unable to open s/supervise/ok: not a FIFO",
			setup: func(t *testing.T, dir string) []string {
				service(t, dir)
				testenv.WriteFile(t, filepath.Join(dir, "s", svdir.OKPath), "keep", 0644)
				return []string{"s"}
			},
			check: unchanged("s/supervise/ok", "keep")},
		{prog: "svok", what: "service dir missing", code: 111, msg: "svok: fatal: unable to chdir to nosuch",
			setup: func(t *testing.T, dir string) []string { return []string{"nosuch"} }},
		{prog: "svstat", what: "status truncated to 10 bytes (supervise running)", code: 0, msg: "s: unable to read supervise/status: bad format",
			setup: func(t *testing.T, dir string) []string {
				live(t, dir)
				testenv.WriteFile(t, filepath.Join(dir, "s", svdir.StatusPath), garbage[:10], 0644)
				return []string{"s"}
			}},
		{prog: "svstat", what: "status replaced by garbage (28 bytes, supervise running)", code: 0, msg: "s: ",
			setup: func(t *testing.T, dir string) []string {
				live(t, dir)
				testenv.WriteFile(t, filepath.Join(dir, "s", svdir.StatusPath), garbage, 0644)
				return []string{"s"}
			},
			check: unchanged("s/supervise/status", garbage)},
		{prog: "svstat", what: "status is a directory (supervise running)", code: 0, msg: "s: unable to read supervise/status: is a directory",
			setup: func(t *testing.T, dir string) []string {
				live(t, dir)
				mkdirs(t, filepath.Join(dir, "s", svdir.StatusPath))
				return []string{"s"}
			}},
		{prog: "svstat", what: "service dir is a dangling symlink", code: 0, msg: "s: unable to chdir: file does not exist",
			setup: func(t *testing.T, dir string) []string {
				os.Symlink("gone", filepath.Join(dir, "s"))
				return []string{"s"}
			}},

		// svscan
		{prog: "svscan", what: "scan dir missing", code: 111, msg: "svscan: fatal: unable to chdir to nosuch",
			setup: func(t *testing.T, dir string) []string { return []string{"nosuch"} }},
		{prog: "svscan", what: "scan dir is a regular file", code: 111, msg: "svscan: fatal: unable to chdir to f",
			setup: func(t *testing.T, dir string) []string {
				testenv.WriteFile(t, filepath.Join(dir, "f"), "x", 0644)
				return []string{"f"}
			}},

		// multilog
		{prog: "multilog", what: "log dir on a read-only file system", code: 111, msg: "multilog: fatal: unable to lock directory ./ro/main", root: true, stdin: "a\n",
			setup: func(t *testing.T, dir string) []string {
				ro := filepath.Join(dir, "ro")
				mountTmpfs(t, ro, "size=64k")
				testenv.WriteFile(t, filepath.Join(ro, "main", "current"), "old line\n", 0744)
				testenv.MustRun(t, "mount", "-o", "remount,ro", ro)
				return []string{"./ro/main"}
			},
			check: unchanged("ro/main/current", "old line\n")},
		{prog: "multilog", what: "log dir on a full file system", code: runs, wait: 1000 * time.Millisecond, msg: "multilog: warning:", root: true,
			stdin: strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n", 4096),
			setup: func(t *testing.T, dir string) []string {
				mountTmpfs(t, filepath.Join(dir, "full"), "size=64k")
				// Existing lines, then the file system is filled.
				testenv.WriteFile(t, filepath.Join(dir, "full", "main", "current"), "old line\n", 0744)
				f, _ := os.Create(filepath.Join(dir, "full", "filler"))
				f.Write(make([]byte, 1<<20)) // ENOSPC after 64k
				f.Close()
				return []string{"./full/main"}
			},
			check: func(t *testing.T, dir string) {
				b, _ := os.ReadFile(filepath.Join(dir, "full", "main", "current"))
				if !strings.HasPrefix(string(b), "old line\n") {
					t.Errorf("current damaged: %.40q", b)
				}
			}},
		{prog: "multilog", what: "log dir path is a regular file", code: 111, msg: "multilog: fatal: unable to open directory ./f: not a directory", stdin: "a\n",
			setup: func(t *testing.T, dir string) []string {
				testenv.WriteFile(t, filepath.Join(dir, "f"), "keep", 0644)
				return []string{"./f"}
			},
			check: unchanged("f", "keep")},
		{prog: "multilog", what: "unknown action qqq (ignored, as 0.76)", code: 0, msg: "",
			setup: func(t *testing.T, dir string) []string { return []string{"qqq", "./main"} }},
		{prog: "multilog", what: "oversized size s999999999999999999999", code: 0, msg: "", stdin: "a\n",
			setup: func(t *testing.T, dir string) []string { return []string{"s999999999999999999999", "./main"} }},

		// tai64n, tai64nlocal
		{prog: "tai64nlocal", what: "garbage and a 1 MB line without newline", code: 0, msg: "",
			stdin: "@xyz\n@4000000000000000\n" + strings.Repeat("x", 1<<20),
			setup: func(t *testing.T, dir string) []string { return nil }},
		{prog: "tai64n", what: "1 MB line without newline", code: 0, msg: "", stdin: strings.Repeat("x", 1<<20),
			setup: func(t *testing.T, dir string) []string { return nil }},

		// envdir
		{prog: "envdir", what: "directory missing", code: 111, msg: "envdir: fatal: unable to switch to directory nosuch",
			setup: func(t *testing.T, dir string) []string { return []string{"nosuch", "true"} }},
		{prog: "envdir", what: "entry is a directory", code: 111, msg: "envdir: fatal: unable to read e/X",
			setup: func(t *testing.T, dir string) []string {
				mkdirs(t, filepath.Join(dir, "e", "X"))
				return []string{"e", "true"}
			}},
		{prog: "envdir", what: "entry is a dangling symlink (unsets X, as 0.76)", code: 0, msg: "",
			setup: func(t *testing.T, dir string) []string {
				mkdirs(t, filepath.Join(dir, "e"))
				os.Symlink("gone", filepath.Join(dir, "e", "X"))
				return []string{"e", "sh", "-c", `test -z "${X+set}"`}
			}},
		{prog: "envdir", what: "sparse file of 8 MB (1 GB with BADINPUT_BIG=1), first line short", code: 0, msg: "",
			setup: func(t *testing.T, dir string) []string {
				sparseN(t, filepath.Join(dir, "e", "X"), "value\n", bigSize())
				return []string{"e", "sh", "-c", `test "$X" = value`}
			}},
		{prog: "envdir", what: "sparse file of NULs, one line of 8 MB (1 GB with BADINPUT_BIG=1)", code: 111, msg: "envdir: fatal: unable to run true: argument list too long",
			setup: func(t *testing.T, dir string) []string {
				sparseN(t, filepath.Join(dir, "e", "X"), "", bigSize())
				return []string{"e", "true"}
			}},
		{prog: "envdir", what: "program missing", code: 111, msg: "envdir: fatal: unable to run nosuch",
			setup: func(t *testing.T, dir string) []string {
				mkdirs(t, filepath.Join(dir, "e"))
				return []string{"e", "nosuch"}
			}},

		// softlimit
		{prog: "softlimit", what: "non-numeric -m abc", code: 100, msg: "softlimit: usage:",
			setup: func(t *testing.T, dir string) []string { return []string{"-m", "abc", "true"} }},
		{prog: "softlimit", what: "oversized -m 99999999999999999999999", code: 0, msg: "",
			setup: func(t *testing.T, dir string) []string { return []string{"-m", "99999999999999999999999", "true"} }},
		{prog: "softlimit", what: "negative -o -1", code: 100, msg: "softlimit: usage:",
			setup: func(t *testing.T, dir string) []string { return []string{"-o", "-1", "true"} }},

		// setuidgid, envuidgid, setlock, pgrphack, fghack
		{prog: "setuidgid", what: "unknown account", code: 111, msg: "setuidgid: fatal: unknown account nosuchuser",
			setup: func(t *testing.T, dir string) []string { return []string{"nosuchuser", "true"} }},
		{prog: "envuidgid", what: "unknown account", code: 111, msg: "envuidgid: fatal: unknown account nosuchuser",
			setup: func(t *testing.T, dir string) []string { return []string{"nosuchuser", "true"} }},
		{prog: "setlock", what: "lock file is a directory", code: 111, msg: "setlock: fatal: unable to open d",
			setup: func(t *testing.T, dir string) []string {
				mkdirs(t, filepath.Join(dir, "d"))
				return []string{"d", "true"}
			}},
		{prog: "setlock", what: "lock file in a missing directory", code: 111, msg: "setlock: fatal: unable to open nosuch/l",
			setup: func(t *testing.T, dir string) []string { return []string{"nosuch/l", "true"} }},
		{prog: "pgrphack", what: "program missing", code: 111, msg: "pgrphack: fatal: unable to run nosuch",
			setup: func(t *testing.T, dir string) []string { return []string{"nosuch"} }},
		{prog: "fghack", what: "program missing", code: 111, msg: "fghack: fatal: unable to run nosuch",
			setup: func(t *testing.T, dir string) []string { return []string{"nosuch"} }},
		{prog: "readproctitle", what: "argument too short (silent, as 0.76)", code: 100, msg: "",
			setup: func(t *testing.T, dir string) []string { return []string{"x"} }},
		{prog: "svwait", what: "service dir missing", code: 111, msg: "svwait:",
			setup: func(t *testing.T, dir string) []string { return []string{"-u", "-t", "1", "nosuch"} }},
	}
}

// outcome is what one program did with one bad input.
type outcome struct {
	code           int
	stdout, stderr string
}

func (o outcome) String() string {
	c := fmt.Sprint(o.code)
	if o.code == runs {
		c = "runs"
	}
	msg := firstLine(o.stderr)
	if msg == "" {
		msg = firstLine(o.stdout)
	}
	return fmt.Sprintf("%s, `%s`", c, strings.ReplaceAll(msg, "|", `\|`))
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return s
}

// runBad runs prog on the case's input in a fresh directory.
func runBad(t *testing.T, c badCase, prog string, limit time.Duration) (outcome, string) {
	dir := t.TempDir()
	args := c.setup(t, dir)
	out, errf := filepath.Join(t.TempDir(), "out"), filepath.Join(t.TempDir(), "err")
	o, _ := os.Create(out)
	e, _ := os.Create(errf)
	cmd := exec.Command(prog, args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(c.stdin)
	cmd.Stdout, cmd.Stderr = o, e
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(prog)+":"+os.Getenv("PATH"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	o.Close()
	e.Close()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	// Whatever the program started is killed by pid: by its session and,
	// for a service supervise started in a session of its own, by its
	// working directory; then the services' cgroups go.
	defer func() {
		killSession(cmd.Process.Pid)
		testenv.KillUnder(t, dir)
	}()
	if c.code == runs {
		limit = c.wait
	}
	res := outcome{}
	select {
	case <-done:
		res.code = cmd.ProcessState.ExitCode()
	case <-time.After(limit):
		res.code = runs
		syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	bo, _ := os.ReadFile(out)
	be, _ := os.ReadFile(errf)
	res.stdout, res.stderr = string(bo), string(be)
	return res, dir
}

// killSession kills, by pid, every process of session sid.
func killSession(sid int) {
	for range 100 {
		n := 0
		for _, p := range snapshot() {
			if p.live() && sessionOf(p.pid) == sid {
				syscall.Kill(p.pid, syscall.SIGKILL)
				n++
			}
		}
		if n == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func sessionOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 4 {
		return 0
	}
	var sid int
	fmt.Sscan(f[3], &sid)
	return sid
}

// TestBadInput runs the bad-input table (TESTING.md, "Bad input") against
// svkit's programs and, where Debian's daemontools is installed, 0.76's.
// BADINPUT_TABLE=file writes the table's Markdown rows there.
func TestBadInput(t *testing.T) {
	var rows []string
	for _, c := range badCases() {
		t.Run(c.prog+"/"+strings.ReplaceAll(c.what, " ", "_"), func(t *testing.T) {
			if c.root {
				testenv.RequireRoot(t)
			}
			got, dir := runBad(t, c, testenv.Prog(t, c.prog), 20*time.Second)
			if c.check != nil {
				c.check(t, dir)
			}
			if got.code != c.code {
				t.Errorf("exit %s, want %s; stderr %q", outcome{code: got.code}.String(), outcome{code: c.code}.String(), got.stderr)
			}
			if !strings.Contains(got.stderr+got.stdout, c.msg) {
				t.Errorf("output %q, want it to hold %q", got.stderr+got.stdout, c.msg)
			}
			for _, l := range strings.Split(strings.TrimSpace(got.stderr), "\n") {
				if l != "" && !strings.HasPrefix(l, c.prog+": ") {
					t.Errorf("stderr line %q is not a %s: message", l, c.prog)
				}
			}
			ref := "not in 0.76"
			if _, err := os.Stat(filepath.Join(testenv.DebianDir, c.prog)); err == nil && c.prog != "svwait" {
				// 0.76 may run on where svkit exits: 3 s is enough to tell.
				d, _ := runBad(t, c, filepath.Join(testenv.DebianDir, c.prog), 3*time.Second)
				ref = d.String()
			}
			rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s |", c.prog, c.what, got, ref))
		})
	}
	if f := os.Getenv("BADINPUT_TABLE"); f != "" {
		os.WriteFile(f, []byte(strings.Join(rows, "\n")+"\n"), 0644)
	}
}
