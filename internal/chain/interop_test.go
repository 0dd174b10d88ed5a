package chain_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"svkit/internal/chain"
	"svkit/internal/testenv"
)

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

// result is what a differential run compares.
type result struct {
	out, err string
	code     int
}

// run runs args[0] from binDir with PATH=binDir:/usr/bin:/bin and a small
// fixed environment, in dir, and normalises the PATH value in the output.
func run(t *testing.T, binDir, dir string, extraEnv []string, args ...string) result {
	t.Helper()
	path := binDir + ":/usr/bin:/bin"
	cmd := exec.Command(filepath.Join(binDir, args[0]), args[1:]...)
	cmd.Args[0] = args[0]
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + path, "A=1", "HOME=/nowhere", "Z=2"}, extraEnv...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	code := testenv.ExitCode(t, cmd, cmd.Run())
	norm := func(s string) string { return strings.ReplaceAll(s, path, "$PATH") }
	return result{norm(out.String()), norm(errb.String()), code}
}

// differ runs the same command line with Debian's daemontools 0.76 and
// with svkit's programs and fails when stdout, stderr or the exit code
// differ. It returns svkit's result.
func differ(t *testing.T, dir string, extraEnv []string, args ...string) result {
	t.Helper()
	testenv.Debian(t, args[0])
	want := run(t, testenv.DebianDir, dir, extraEnv, args...)
	got := run(t, testenv.Bin(t), dir, extraEnv, args...)
	if got != want {
		t.Errorf("%q:\nsvkit: code %d\nstdout:\n%s\nstderr:\n%s\n0.76: code %d\nstdout:\n%s\nstderr:\n%s",
			args, got.code, got.out, got.err, want.code, want.out, want.err)
	}
	return got
}

// openDir returns a temporary directory that other users (nobody) can
// enter and read, for the uid-changing cases.
func openDir(t *testing.T) string {
	t.Helper()
	// The programs too must be reachable after the uid changes.
	if err := os.Chmod(testenv.Bin(t), 0755); err != nil {
		t.Fatal(err)
	}
	d := t.TempDir()
	for p := d; p != os.TempDir() && p != "/"; p = filepath.Dir(p) {
		if strings.HasPrefix(p, os.TempDir()+"/") {
			if err := os.Chmod(p, 0755); err != nil {
				t.Fatal(err)
			}
		}
	}
	return d
}

const limits = "cat /proc/self/limits"

func TestSoftlimitInterop(t *testing.T) {
	dir := t.TempDir()
	testenv.WriteFile(t, dir+"/noexec", "#!/bin/sh\n", 0644)
	testenv.WriteFile(t, dir+"/noshebang", "echo hi\n", 0755)
	cases := [][]string{
		{"softlimit"},
		{"softlimit", "-z", "true"},
		{"softlimit", "-m"},
		{"softlimit", "-c", "5", "-m"},
		{"softlimit", "-c", "abc", "true"},
		{"softlimit", "-c", "-5", "true"},
		{"softlimit", "-c", " 5", "true"},
		{"softlimit", "-c", "+5", "true"},
		{"softlimit", "-c", "5x", "true"},
		{"softlimit", "-c", "=x", "true"},
		{"softlimit", "-c", "5"},
		{"softlimit", "--", "sh", "-c", limits},
		{"softlimit", "--whatever", "sh", "-c", limits},
		{"softlimit", "-"},
		{"softlimit", "-c", "", "sh", "-c", limits},
		{"softlimit", "-c1000", "-d=", "sh", "-c", limits},
		{"softlimit", "-a", "5000000000", "sh", "-c", limits},
		{"softlimit", "-c", "12345", "sh", "-c", limits},
		{"softlimit", "-d", "50000000", "sh", "-c", limits},
		{"softlimit", "-f", "777777", "sh", "-c", limits},
		{"softlimit", "-l", "65536", "sh", "-c", limits},
		{"softlimit", "-m", "100000000", "sh", "-c", limits},
		{"softlimit", "-o", "50", "sh", "-c", limits},
		{"softlimit", "-o", "99999999999", "sh", "-c", limits}, // clamped to the hard limit
		{"softlimit", "-o", "=", "sh", "-c", limits},
		{"softlimit", "-p", "500", "sh", "-c", limits},
		{"softlimit", "-r", "12345678", "sh", "-c", limits},
		{"softlimit", "-s", "1000000", "sh", "-c", limits},
		{"softlimit", "-t", "18446744073709551617", "sh", "-c", limits}, // wraps to 1
		{"softlimit", "-d", "5", "-m", "=", "sh", "-c", limits},
		// Go raises its soft RLIMIT_NOFILE at start; a program started
		// by svkit's tools gets the original back.
		{"softlimit", "-o", "100", "env", "softlimit", "-c", "0", "sh", "-c", limits},
		{"softlimit", "-o", "100", "env", "pgrphack", "sh", "-c", limits},
		{"softlimit", "-o", "100", "env", "fghack", "sh", "-c", limits},
		{"softlimit", "-o", "100", "env", "softlimit", "-o", "200", "sh", "-c", limits},
		{"softlimit", "-c", "0", "nonexistent-program"},
		{"softlimit", "-c", "0", "./noexec"},
		{"softlimit", "-c", "0", "./noshebang"},
		{"softlimit", "-c", "0", "./missing"},
		{"softlimit", "-c", "0", "./"},
	}
	for _, c := range cases {
		differ(t, dir, nil, c...)
	}
}

func TestSetuidgidInterop(t *testing.T) {
	dir := openDir(t)
	cases := [][]string{
		{"setuidgid"},
		{"setuidgid", "root"},
		{"setuidgid", "no-such-user-svkit", "id"},
		{"setuidgid", "0", "id"}, // a name, not a uid
		{"setuidgid", "", "id"},
		{"setuidgid", "root", "nonexistent-program"},
		{"envuidgid"},
		{"envuidgid", "nobody"},
		{"envuidgid", "no-such-user-svkit", "env"},
		{"envuidgid", "nobody", "env"},
		{"envuidgid", "root", "envuidgid", "nobody", "env"},
	}
	for _, c := range cases {
		differ(t, dir, nil, c...)
	}
	testenv.RequireRoot(t)
	for _, c := range [][]string{
		{"setuidgid", "nobody", "id"},
		{"setuidgid", "root", "id"},
		{"setuidgid", "daemon", "sh", "-c", "id; grep Groups /proc/self/status"},
		// real, effective, saved and file-system ids all change.
		{"setuidgid", "nobody", "grep", "-E", "^(Uid|Gid|Groups|CapEff|CapPrm)", "/proc/self/status"},
		{"softlimit", "-c", "0", "setuidgid", "nobody", "pgrphack", "grep", "-E", "^(Uid|Gid|Groups|CapEff|CapPrm|Threads)", "/proc/self/status"},
		{"setuidgid", "nobody", "setuidgid", "root", "id"}, // unable to setgid: permission denied
		{"setuidgid", "nobody", "nonexistent-program"},
	} {
		differ(t, dir, nil, c...)
	}
}

func TestEnvdirInterop(t *testing.T) {
	dir := openDir(t)
	testenv.WriteFile(t, dir+"/e/A", "hello  \t \nsecond line\n", 0644)
	if err := os.MkdirAll(dir+"/fifo", 0755); err != nil {
		t.Fatal(err)
	}
	testenv.WriteFile(t, dir+"/e/HOME", "", 0644)      // unsets
	testenv.WriteFile(t, dir+"/e/EMPTY", "\n", 0644)   // the empty string
	testenv.WriteFile(t, dir+"/e/NUL", "a\x00b", 0644) // NUL becomes newline
	testenv.WriteFile(t, dir+"/e/.hidden", "x", 0644)
	testenv.WriteFile(t, dir+"/e/X=Y", "a=b", 0644)
	testenv.WriteFile(t, dir+"/e/Z", "new", 0644)
	testenv.WriteFile(t, dir+"/sub/D/f", "", 0644)
	testenv.WriteFile(t, dir+"/secret/S", "s", 0600)
	testenv.WriteFile(t, dir+"/p/PATH", "/nonexistent", 0644)
	testenv.WriteFile(t, dir+"/file", "", 0644)
	testenv.WriteFile(t, dir+"/dangling/A", "first", 0644)
	if err := os.Symlink("nowhere", dir+"/dangling/B"); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(dir+"/fifo/F", 0644); err != nil {
		t.Fatal(err)
	}
	testenv.WriteFile(t, dir+"/unsetpath/PATH", "", 0644)
	testenv.WriteFile(t, dir+"/cwdpath/PATH", ":/nonexistent", 0644)
	testenv.WriteFile(t, dir+"/hello", "#!/bin/sh\necho hello from the cwd\n", 0755)
	cases := [][]string{
		{"envdir"},
		{"envdir", "e"},
		// PATH unset: the next lookup uses /bin:/usr/bin.
		{"envdir", "unsetpath", "pgrphack", "env"},
		// An empty PATH element is the current directory.
		{"envdir", "cwdpath", "pgrphack", "hello"},
		{"envdir", "nonexistent", "env"},
		{"envdir", "file", "env"},
		{"envdir", "sub", "env"},
		{"envdir", "e", "env"},
		{"envdir", "e", "envdir", "e", "env"},
		{"envdir", "dangling", "env"},
		{"envdir", "fifo", "env"}, // a FIFO without a writer reads as empty
		{"envdir", "e", "nonexistent-program"},
		// The PATH an envdir sets is used by the next program's lookup,
		// not by envdir's own.
		{"envdir", "p", "envuidgid", "root", "env"},
		{"envdir", "p", "envuidgid", "root", "/usr/bin/env"},
	}
	for _, c := range cases {
		differ(t, dir, nil, c...)
	}
	testenv.RequireRoot(t)
	for _, c := range [][]string{
		// An envdir after setuidgid reads its files as the new user.
		{"setuidgid", "nobody", "envdir", "secret", "env"},
		{"envdir", "secret", "setuidgid", "nobody", "env"},
		{"setuidgid", "nobody", "envdir", "e", "env"},
		// A cwd nobody cannot read: 0.76's envdir cannot open ".".
		{"setuidgid", "nobody", "envdir", dir + "/e", "env"},
	} {
		differ(t, t.TempDir(), nil, c...)
	}
	for _, c := range [][]string{
		{"setuidgid", "nobody", "envdir", "e", "env"},
	} {
		differ(t, dir, nil, c...)
	}
}

func TestPgrphackInterop(t *testing.T) {
	dir := t.TempDir()
	leader := `set -- $(cat /proc/$$/stat); [ "$6" = "$$" ] && echo session leader || echo not leader`
	for _, c := range [][]string{
		{"pgrphack"},
		{"pgrphack", "nonexistent-program"},
		{"pgrphack", "sh", "-c", leader},
		{"pgrphack", "pgrphack", "sh", "-c", leader},
	} {
		differ(t, dir, nil, c...)
	}
}

func TestSetlockInterop(t *testing.T) {
	dir := t.TempDir()
	fdinfo := `grep -v -e mnt_id -e ino -e lock: /proc/$$/fdinfo/3; ls /proc/$$/fd; stat -c %a lockfile`
	for _, c := range [][]string{
		{"setlock"},
		{"setlock", "lockfile"},
		{"setlock", "-z", "lockfile", "true"},
		{"setlock", "-nx"},
		{"setlock", "nodir/lockfile", "true"},
		{"setlock", "-x", "nodir/lockfile", "true"},
		{"setlock", "-X", "nodir/lockfile", "true"},
		{"setlock", "lockfile", "sh", "-c", fdinfo},
		{"setlock", "-n", "lockfile", "setlock", "-n", "lockfile", "true"},
		{"setlock", "-n", "lockfile", "setlock", "-nx", "lockfile", "true"},
		{"setlock", "-n", "lockfile", "setlock", "-xX", "-n", "lockfile", "true"},
		{"setlock", "-n", "lockfile", "setlock", "-n", "other", "sh", "-c", "ls /proc/$$/fd"},
		{"setlock", "-n", "lockfile", "nonexistent-program"},
	} {
		differ(t, dir, nil, c...)
		os.Remove(dir + "/lockfile")
	}
}

func TestFghackInterop(t *testing.T) {
	dir := t.TempDir()
	for _, c := range [][]string{
		{"fghack"},
		{"fghack", "nonexistent-program"},
		{"fghack", "sh", "-c", "exit 7"},
		{"fghack", "sh", "-c", "kill -9 $$"},
		{"fghack", "sh", "-c", "ls /proc/$$/fd"},
		{"softlimit", "-o", "40", "fghack", "sh", "-c", "ls /proc/$$/fd; ulimit -n"},
		// A daemon that forks off keeps fghack waiting until it exits.
		{"fghack", "sh", "-c", "rm -f flag; (while [ ! -e flag ]; do sleep 0.01; done; sleep 0.1; echo daemon done) & echo parent done; touch flag; exit 3"},
	} {
		differ(t, dir, nil, c...)
	}
}

func TestEnvironmentPassedExactly(t *testing.T) {
	dir := t.TempDir()
	testenv.WriteFile(t, dir+"/e/A", "new", 0644)
	// Duplicate names and entries without '=' pass through, in order,
	// except the first A, which envdir replaces.
	extra := []string{"A=dup", "NOEQUALS", "B=1", "B=2"}
	differ(t, dir, extra, "pgrphack", "env")
	differ(t, dir, extra, "envdir", "e", "env")
	differ(t, dir, extra, "envdir", "e", "pgrphack", "envuidgid", "root", "env")
}

// chainScript prints what a chain changed: environment, identity,
// limits, descriptors and session.
const chainScript = `env; id; cat /proc/self/limits; ls /proc/$$/fd; set -- $(cat /proc/$$/stat); [ "$6" = "$$" ] && echo session leader`

func TestChainInterop(t *testing.T) {
	testenv.RequireRoot(t)
	dir := openDir(t)
	testenv.WriteFile(t, dir+"/env/A", "from envdir", 0644)
	testenv.WriteFile(t, dir+"/env/HOME", "", 0644)
	testenv.WriteFile(t, dir+"/secret/S", "s", 0600)
	if err := os.Mkdir(dir+"/tmp", 01777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir+"/tmp", 01777)
	for _, c := range [][]string{
		{"softlimit", "-m", "100000000", "setuidgid", "nobody", "envdir", "./env", "sh", "-c", chainScript},
		{"envuidgid", "nobody", "setlock", "-n", "lockfile", "pgrphack", "softlimit", "-o", "100", "-c", "=", "envdir", "env", "sh", "-c", chainScript},
		{"setuidgid", "nobody", "softlimit", "-o", "=", "-d", "99999999999999", "envuidgid", "root", "sh", "-c", chainScript},
		{"softlimit", "-p", "=", "setuidgid", "nobody", "envdir", "secret", "sh", "-c", chainScript},
		{"pgrphack", "setlock", "lockfile", "setlock", "-nx", "lockfile", "sh", "-c", "echo not reached"},
		{"envdir", "env", "softlimit", "-t", "5", "fghack", "sh", "-c", chainScript},
		// setlock after setuidgid opens its file as the new user.
		{"setuidgid", "nobody", "setlock", "lockfile", "true"},
		{"setuidgid", "nobody", "setlock", "tmp/lockfile", "sh", "-c", "stat -c '%U %G %a' tmp/lockfile; rm tmp/lockfile"},
	} {
		differ(t, dir, nil, c...)
		os.Remove(dir + "/lockfile")
	}
}

// TestChainUnderSmallLimit is the reason for the in-process chain: with
// -m 100000000 a Go program cannot start (golang/go#38010), so exec'ing
// svkit's setuidgid after softlimit, as 0.76 does, fails; svkit's chain
// runs setuidgid and envdir inside softlimit's process and works.
func TestChainUnderSmallLimit(t *testing.T) {
	testenv.RequireRoot(t)
	dir := openDir(t)
	testenv.WriteFile(t, dir+"/env/A", "a", 0644)
	bin := testenv.Bin(t)
	// The exec chain: 0.76's softlimit, then svkit's setuidgid.
	deb := testenv.Debian(t, "softlimit")
	_, stderr, code := testenv.Run(t, dir, "", deb, "-m", "100000000", bin+"/setuidgid", "nobody", "true")
	if code == 0 || !strings.Contains(stderr, "fatal error") {
		t.Errorf("a Go program started under -m 100000000 (code %d, %q); the in-process chain would not be needed", code, stderr)
	}
	// The same through svkit's softlimit but with a foreign program in
	// between, which forces a real exec of setuidgid.
	_, stderr, code = testenv.Run(t, dir, "", bin+"/softlimit", "-m", "100000000", "/usr/bin/env", bin+"/setuidgid", "nobody", "true")
	if code == 0 || !strings.Contains(stderr, "fatal error") {
		t.Errorf("exec'd setuidgid survived -m 100000000: code %d %q", code, stderr)
	}
	// svkit's chain.
	out, stderr, code := testenv.Run(t, dir, "", bin+"/softlimit", "-m", "100000000", bin+"/setuidgid", "nobody", bin+"/envdir", "./env", "sh", "-c", "id -u; echo $A; grep 'Max data' /proc/self/limits")
	if code != 0 || stderr != "" || !regexpMatch(`^65534\na\nMax data size +100000000 `, out) {
		t.Errorf("svkit chain: code %d stdout %q stderr %q", code, out, stderr)
	}
}

func TestIdentify(t *testing.T) {
	bin := testenv.Bin(t)
	dir := t.TempDir()
	testenv.WriteFile(t, dir+"/fake/envdir", "#!/bin/sh\necho fake envdir \"$@\"\n", 0755)
	testenv.WriteFile(t, dir+"/notexec/envdir", "#!/bin/sh\necho not executable\n", 0644)
	if err := os.Mkdir(dir+"/isdir", 0755); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(dir+"/isdir/envdir", 0755)
	if err := os.Symlink(bin+"/envdir", dir+"/link"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ file, path, want string }{
		{"envdir", bin, "envdir"},
		{bin + "/setlock", "", "setlock"},
		{"envdir", dir + "/fake:" + bin, ""},                            // the first one execve would pick is not svkit's
		{"envdir", dir + "/notexec:" + dir + "/isdir:" + bin, "envdir"}, // execve skips EACCES candidates
		{"envdir", "/nonexistent:" + bin, "envdir"},
		{"envdir", testenv.DebianDir, ""},
		{"fghack", bin, ""}, // fghack forks: always exec'd
		{"link", dir, ""},   // only the chain-loaders' names are examined
		{"true", "/bin", ""},
	} {
		if got := chain.Identify(tc.file, tc.path); got != tc.want {
			t.Errorf("Identify(%q, %q) = %q, want %q", tc.file, tc.path, got, tc.want)
		}
	}
	// A foreign program with a chain-loader's name is exec'd, not emulated.
	out, _, code := testenv.Run(t, dir, "", bin+"/pgrphack", "sh", "-c", "PATH="+dir+"/fake:"+bin+" exec "+bin+"/pgrphack envdir x y")
	if code != 0 || out != "fake envdir x y\n" {
		t.Errorf("foreign envdir: code %d out %q", code, out)
	}
}

// TestSetlockLifetime: the lock lives exactly as long as the program that
// inherited it, and svkit's and 0.76's setlock exclude each other.
func TestSetlockLifetime(t *testing.T) {
	dir := t.TempDir()
	deb := testenv.Debian(t, "setlock")
	lock := filepath.Join(dir, "lockfile")
	started := filepath.Join(dir, "started")
	p := testenv.Start(t, exec.Command(testenv.Prog(t, "setlock"), lock, "sh", "-c", "touch "+started+"; exec sleep 60"))
	testenv.WaitFor(t, 10*time.Second, "the program under setlock to start", func() bool {
		_, err := os.Stat(started)
		return err == nil
	})
	_, stderr, code := testenv.Run(t, dir, "", deb, "-n", lock, "true")
	if code != 111 || stderr != "setlock: fatal: unable to lock "+lock+": temporary failure\n" {
		t.Errorf("0.76 setlock while svkit's holds the lock: code %d %q", code, stderr)
	}
	if _, _, code := testenv.Run(t, dir, "", deb, "-nx", lock, "true"); code != 0 {
		t.Errorf("-x: code %d", code)
	}
	p.KillAndWait(t, syscall.SIGKILL)
	if _, stderr, code := testenv.Run(t, dir, "", deb, "-n", lock, "true"); code != 0 {
		t.Errorf("lock still held after the program died: code %d %q", code, stderr)
	}
	// And the other way round.
	os.Remove(started)
	p = testenv.Start(t, exec.Command(deb, lock, "sh", "-c", "touch "+started+"; exec sleep 60"))
	testenv.WaitFor(t, 10*time.Second, "0.76's setlock to start", func() bool {
		_, err := os.Stat(started)
		return err == nil
	})
	_, stderr, code = testenv.Run(t, dir, "", testenv.Prog(t, "setlock"), "-n", lock, "true")
	if code != 111 || stderr != "setlock: fatal: unable to lock "+lock+": temporary failure\n" {
		t.Errorf("svkit setlock while 0.76's holds the lock: code %d %q", code, stderr)
	}
	p.KillAndWait(t, syscall.SIGKILL)
}

// TestFghackWaitsForDaemon: a daemon that forks off and keeps the pipe's
// write end keeps fghack in the foreground until it exits; without fghack
// the command returns at once.
func TestFghackWaitsForDaemon(t *testing.T) {
	dir := t.TempDir()
	script := "(sleep 0.5; touch done) & exit 4"
	for _, withFghack := range []bool{false, true} {
		os.Remove(filepath.Join(dir, "done"))
		args := []string{"-c", script}
		name := "/bin/sh"
		if withFghack {
			args = append([]string{"sh"}, args...)
			name = testenv.Prog(t, "fghack")
		}
		cmd := exec.Command(name, args...)
		cmd.Dir = dir // no stdout/stderr pipes: nothing else waits for the daemon
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 4 {
			t.Fatalf("fghack=%v: %v, want exit 4", withFghack, err)
		}
		_, statErr := os.Stat(filepath.Join(dir, "done"))
		if withFghack && statErr != nil {
			t.Errorf("fghack returned before the daemon finished")
		}
		if !withFghack {
			if statErr == nil {
				t.Errorf("the daemon finished before sh returned: the test proves nothing")
			}
			testenv.WaitFor(t, 10*time.Second, "the daemon", func() bool {
				_, err := os.Stat(filepath.Join(dir, "done"))
				return err == nil
			})
		}
	}
}
