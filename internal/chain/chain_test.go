package chain

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"svkit/internal/pathexec"
)

// recSys records the system calls instead of making them.
type recSys struct {
	calls []string
	lim   map[int]syscall.Rlimit
	fail  map[string]error
}

var errExecuted = errors.New("executed")

func newRec() *recSys {
	return &recSys{lim: map[int]syscall.Rlimit{}, fail: map[string]error{}}
}

func (r *recSys) add(name string, args ...any) error {
	r.calls = append(r.calls, strings.TrimSpace(name+" "+fmt.Sprint(args...)))
	return r.fail[name]
}
func (r *recSys) Setgroups(g []int) error { return r.add("setgroups", g) }
func (r *recSys) Setgid(g int) error      { return r.add("setgid", g) }
func (r *recSys) Setuid(u int) error      { return r.add("setuid", u) }
func (r *recSys) Setsid() error           { return r.add("setsid") }
func (r *recSys) Getrlimit(res int, l *syscall.Rlimit) error {
	if v, ok := r.lim[res]; ok {
		*l = v
	} else {
		*l = syscall.Rlimit{Cur: 1000, Max: 5000}
	}
	return r.fail["getrlimit"]
}
func (r *recSys) Setrlimit(res int, l *syscall.Rlimit) error {
	r.lim[res] = *l
	return r.add("setrlimit", res, " ", l.Cur)
}
func (r *recSys) Exec(cands []string, argv, env []string, before func() bool) error {
	if !before() {
		return errLimits
	}
	var saved error
	for _, path := range cands {
		if err, ok := r.fail["exec "+path]; ok {
			r.add("exec", path)
			if !pathexec.Continue(err, &saved) {
				return err
			}
			continue
		}
		r.add("exec", path, " ", argv, " ", env)
		return errExecuted
	}
	return pathexec.Final(saved)
}

// testChain returns a Chain whose chain-loader names are always svkit's.
func testChain(env ...string) (*Chain, *recSys, *bytes.Buffer) {
	rec := newRec()
	var stderr bytes.Buffer
	c := &Chain{Stderr: &stderr, Sys: rec, Env: env, Identify: func(file, path string) string {
		if IsTool(file) {
			return file
		}
		return ""
	}}
	return c, rec, &stderr
}

func TestChainOrder(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(dir+"/env", 0755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(dir+"/env/B", []byte("bee\n"), 0644)
	c, rec, stderr := testChain("PATH=/bin", "B=old", "K=keep")
	code := c.Run("softlimit", []string{"softlimit", "-m", "100", "-o", "=",
		"setuidgid", "root", "pgrphack", "envdir", dir + "/env",
		"envuidgid", "root", "setlock", dir + "/lock", "prog", "arg"})
	if code != 111 {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	want := []string{
		"setgroups [0]", "setgid 0", "setuid 0", "setsid",
		// limits come last, in option order: -m is DATA, STACK, MEMLOCK, AS.
		fmt.Sprint("setrlimit ", unix.RLIMIT_DATA, " 100"),
		fmt.Sprint("setrlimit ", unix.RLIMIT_STACK, " 100"),
		fmt.Sprint("setrlimit ", unix.RLIMIT_MEMLOCK, " 100"),
		fmt.Sprint("setrlimit ", unix.RLIMIT_AS, " 100"),
		fmt.Sprint("setrlimit ", unix.RLIMIT_NOFILE, " 5000"),
		"exec /bin/prog [prog arg] [PATH=/bin K=keep B=bee GID=0 UID=0]",
		// the exec failed: the limits are put back, last first, so that
		// the message can be printed whatever they were.
		fmt.Sprint("setrlimit ", unix.RLIMIT_NOFILE, " 1000"),
		fmt.Sprint("setrlimit ", unix.RLIMIT_AS, " 1000"),
		fmt.Sprint("setrlimit ", unix.RLIMIT_MEMLOCK, " 1000"),
		fmt.Sprint("setrlimit ", unix.RLIMIT_STACK, " 1000"),
		fmt.Sprint("setrlimit ", unix.RLIMIT_DATA, " 1000"),
	}
	if !reflect.DeepEqual(rec.calls, want) {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(rec.calls, "\n"), strings.Join(want, "\n"))
	}
	if _, err := os.Stat(dir + "/lock"); err != nil {
		t.Errorf("setlock did not create its file: %v", err)
	}
	if !strings.HasPrefix(stderr.String(), "setlock: fatal: unable to run prog: ") {
		t.Errorf("the last tool names the failure: %q", stderr)
	}
}

func TestChainStopsEarly(t *testing.T) {
	// A failing tool in the middle exits with its own name and code, and
	// no limit is set and nothing exec'd.
	c, rec, stderr := testChain("PATH=/bin")
	code := c.Run("softlimit", []string{"softlimit", "-m", "100", "pgrphack", "setuidgid", "no-such-user-svkit", "prog"})
	if code != 111 || stderr.String() != "setuidgid: fatal: unknown account no-such-user-svkit\n" {
		t.Errorf("code %d stderr %q", code, stderr)
	}
	if !reflect.DeepEqual(rec.calls, []string{"setsid"}) {
		t.Errorf("calls %q", rec.calls)
	}
}

func TestChainUsage(t *testing.T) {
	for _, tc := range []struct {
		argv   []string
		code   int
		stderr string
	}{
		{[]string{"softlimit", "-m", "1", "envdir", "d"}, 111, "envdir: usage: envdir dir child\n"},
		{[]string{"softlimit", "pgrphack"}, 100, "pgrphack: usage: pgrphack child\n"},
		{[]string{"softlimit", "setlock", "-q", "f", "p"}, 100, "setlock: illegal option -- q\n" + setlockUsage},
		{[]string{"softlimit", "/x/setlock", "-q", "f", "p"}, 100, "setlock: illegal option -- q\n" + setlockUsage},
		{[]string{"softlimit", "-m", "x", "p"}, 100, softlimitUsage},
		{[]string{"softlimit", "setuidgid", "root"}, 100, "setuidgid: usage: setuidgid account child\n"},
		{[]string{"softlimit", "envuidgid"}, 100, "envuidgid: usage: envuidgid account child\n"},
		{[]string{"sl", "-y"}, 100, "sl: illegal option -- y\n" + softlimitUsage},
	} {
		c, rec, stderr := testChain("PATH=/bin")
		c.Identify = func(file, path string) string { return filepath.Base(file) }
		code := c.Run("softlimit", tc.argv)
		if code != tc.code || stderr.String() != tc.stderr {
			t.Errorf("%q: code %d stderr %q, want %d %q", tc.argv, code, stderr, tc.code, tc.stderr)
		}
		for _, call := range rec.calls {
			if strings.HasPrefix(call, "setrlimit") || strings.HasPrefix(call, "exec") {
				t.Errorf("%q: %s after a usage error", tc.argv, call)
			}
		}
	}
}

func TestChainLookupUsesOwnPath(t *testing.T) {
	// envdir's own lookup uses the PATH it was started with; the next
	// tool's uses the one envdir set.
	dir := t.TempDir()
	os.Mkdir(dir+"/env", 0755)
	os.WriteFile(dir+"/env/PATH", []byte("/new"), 0644)
	c, rec, _ := testChain("PATH=/old")
	var seen []string
	c.Identify = func(file, path string) string {
		seen = append(seen, file+"@"+path)
		if IsTool(file) {
			return file
		}
		return ""
	}
	c.Run("envdir", []string{"envdir", dir + "/env", "pgrphack", "prog"})
	if want := []string{"pgrphack@/old", "prog@/new"}; !reflect.DeepEqual(seen, want) {
		t.Errorf("lookups %q, want %q", seen, want)
	}
	if last := rec.calls[len(rec.calls)-1]; last != "exec /new/prog [prog] [PATH=/new]" {
		t.Errorf("exec %q", last)
	}
}

func TestChainExecSearch(t *testing.T) {
	c, rec, stderr := testChain()
	rec.fail["exec /bin/prog"] = syscall.EACCES
	rec.fail["exec /usr/bin/prog"] = syscall.ENOENT
	code := c.Run("pgrphack", []string{"pgrphack", "prog"})
	if code != 111 || stderr.String() != "pgrphack: fatal: unable to run prog: access denied\n" {
		t.Errorf("code %d stderr %q", code, stderr)
	}
	if want := []string{"setsid", "exec /bin/prog", "exec /usr/bin/prog"}; !reflect.DeepEqual(rec.calls, want) {
		t.Errorf("calls %q", rec.calls)
	}
}

func TestApplyLimits(t *testing.T) {
	c, rec, _ := testChain("PATH=/bin")
	rec.lim[unix.RLIMIT_CORE] = syscall.Rlimit{Cur: 0, Max: 300}
	c.Run("softlimit", []string{"softlimit", "-c", "99999", "-t", "", "-f", "=", "-c", "7", "prog"})
	want := []string{
		fmt.Sprint("setrlimit ", unix.RLIMIT_CORE, " 300"), // clamped
		fmt.Sprint("setrlimit ", unix.RLIMIT_CPU, " 0"),    // "" scans as 0
		fmt.Sprint("setrlimit ", unix.RLIMIT_FSIZE, " 5000"),
		fmt.Sprint("setrlimit ", unix.RLIMIT_CORE, " 7"),
	}
	if got := rec.calls[:4]; !reflect.DeepEqual(got, want) {
		t.Errorf("calls %q want %q", got, want)
	}
	c, rec, stderr := testChain("PATH=/bin")
	rec.fail["setrlimit"] = syscall.EPERM
	if code := c.Run("softlimit", []string{"softlimit", "-c", "1", "prog"}); code != 111 ||
		stderr.String() != "softlimit: fatal: setrlimit failed: permission denied\n" {
		t.Errorf("code %d stderr %q", code, stderr)
	}
}

func TestSetuidgidFailures(t *testing.T) {
	for _, tc := range []struct{ fail, msg string }{
		{"setgroups", "setuidgid: fatal: unable to setgid: permission denied\n"},
		{"setgid", "setuidgid: fatal: unable to setgid: permission denied\n"},
		{"setuid", "setuidgid: fatal: unable to setuid: permission denied\n"},
	} {
		c, rec, stderr := testChain("PATH=/bin")
		rec.fail[tc.fail] = syscall.EPERM
		if code := c.Run("setuidgid", []string{"setuidgid", "root", "prog"}); code != 111 || stderr.String() != tc.msg {
			t.Errorf("%s: code %d stderr %q", tc.fail, code, stderr)
		}
		if last := rec.calls[len(rec.calls)-1]; !strings.HasPrefix(last, tc.fail) {
			t.Errorf("%s: went on after the failure: %q", tc.fail, rec.calls)
		}
	}
}

func TestParseLimit(t *testing.T) {
	for _, tc := range []struct {
		in       string
		val      uint64
		hard, ok bool
	}{
		{"=", 0, true, true},
		{"", 0, false, true},
		{"0", 0, false, true},
		{"100000000", 100000000, false, true},
		{"18446744073709551615", 18446744073709551615, false, true},
		{"18446744073709551616", 0, false, true},
		{"18446744073709551617", 1, false, true},
		{"==", 0, false, false},
		{"=1", 0, false, false},
		{"-1", 0, false, false},
		{"+1", 0, false, false},
		{" 1", 0, false, false},
		{"1 ", 0, false, false},
		{"1k", 0, false, false},
	} {
		v, hard, ok := ParseLimit(tc.in)
		if v != tc.val || hard != tc.hard || ok != tc.ok {
			t.Errorf("ParseLimit(%q) = %d %v %v", tc.in, v, hard, ok)
		}
	}
}

func TestEnvValue(t *testing.T) {
	for _, tc := range []struct{ name, content, want string }{
		{"A", "", "A"},
		{"A", "\n", "A="},
		{"A", "x", "A=x"},
		{"A", "x \t \t\nsecond", "A=x"},
		{"A", " lead", "A= lead"},
		{"A", "a\x00b\x00", "A=a\nb\n"},
		{"A", "a\x00 ", "A=a\n"},
		{"X=Y", "a=b", "X=Y=a=b"},
		{"A", "\r\n", "A=\r"},
	} {
		if got := EnvValue(tc.name, []byte(tc.content)); got != tc.want {
			t.Errorf("EnvValue(%q, %q) = %q, want %q", tc.name, tc.content, got, tc.want)
		}
	}
}

func FuzzParseLimit(f *testing.F) {
	for _, s := range []string{"=", "", "123", "18446744073709551617", "1x", "-5", "=="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, hard, ok := ParseLimit(s)
		digits := strings.Trim(s, "0123456789") == ""
		switch {
		case s == "=":
			if !hard || !ok {
				t.Fatal("= is the hard limit")
			}
		case !digits:
			if ok {
				t.Fatalf("%q accepted", s)
			}
		default:
			if !ok || hard {
				t.Fatalf("%q rejected", s)
			}
			// The value is the number modulo 2^64.
			var ref uint64
			for _, c := range []byte(s) {
				ref = ref*10 + uint64(c-'0')
			}
			if v != ref {
				t.Fatalf("%q: %d != %d", s, v, ref)
			}
		}
	})
}

func FuzzEnvValue(f *testing.F) {
	for _, s := range []string{"", "\n", "x \t\nq", "a\x00b", "  ", "\t\x00\t"} {
		f.Add("NAME", []byte(s))
	}
	f.Fuzz(func(t *testing.T, name string, content []byte) {
		got := EnvValue(name, content)
		if len(content) == 0 {
			if got != name {
				t.Fatalf("empty file must unset: %q", got)
			}
			return
		}
		v, ok := strings.CutPrefix(got, name+"=")
		if !ok {
			t.Fatalf("%q does not set %q", got, name)
		}
		if strings.ContainsRune(v, 0) || strings.HasSuffix(v, " ") || strings.HasSuffix(v, "\t") {
			t.Fatalf("value %q keeps a NUL or trailing blank", v)
		}
		line, _, _ := bytes.Cut(content, []byte("\n"))
		if !bytes.HasPrefix(bytes.ReplaceAll(line, []byte{0}, []byte("\n")), []byte(v)) {
			t.Fatalf("value %q is not a prefix of the first line %q", v, line)
		}
	})
}
