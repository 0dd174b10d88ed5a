package svlog_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"svkit/internal/testenv"
	"svkit/pkg/tai64"
)

// tree is a scan directory with svkit's svscan running on it.
type tree struct {
	t          *testing.T
	root, scan string
}

func newTree(t *testing.T) *tree {
	t.Helper()
	root, scan := testenv.ScanDir(t)
	tr := &tree{t: t, root: root, scan: scan}
	t.Cleanup(func() { testenv.KillUnder(t, root) })
	return tr
}

func (tr *tree) start() {
	tr.t.Helper()
	cmd := exec.Command(testenv.Prog(tr.t, "svscan"), tr.scan)
	cmd.Dir = tr.root
	cmd.Env = append(os.Environ(), "PATH="+testenv.Bin(tr.t)+":"+os.Getenv("PATH"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	testenv.Start(tr.t, cmd)
}

// service makes scan/name with a run script printing "name N" every
// interval, and a log/run when logRun is not empty.
func (tr *tree) service(name, interval, logRun string) string {
	tr.t.Helper()
	dir := filepath.Join(tr.scan, name)
	testenv.WriteScript(tr.t, filepath.Join(dir, "run"),
		"exec 2>&1\ni=0\nwhile :; do echo \""+name+" $i\"; i=$((i+1)); sleep "+interval+"; done\n")
	if logRun != "" {
		testenv.WriteScript(tr.t, filepath.Join(dir, "log", "run"), logRun)
	}
	return dir
}

// waitLines waits until path holds at least n lines.
func waitLines(t *testing.T, path string, n int) {
	t.Helper()
	testenv.WaitFor(t, 10*time.Second, path+" to hold lines", func() bool {
		b, _ := os.ReadFile(path)
		return strings.Count(string(b), "\n") >= n
	})
}

// outLine is TIME[~] NAME: TEXT.
var outLine = regexp.MustCompile(`^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9})(~?) ([a-z]+): (.*)$`)

type parsed struct {
	time, name, text string
	stamped          bool
}

func parse(t *testing.T, out string) []parsed {
	t.Helper()
	var ps []parsed
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if l == "" {
			continue
		}
		m := outLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line not TIME NAME: TEXT: %q", l)
		}
		ps = append(ps, parsed{m[1], m[3], m[4], m[2] == ""})
	}
	return ps
}

// checkOrder fails unless the stamped lines' times never go back.
func checkOrder(t *testing.T, ps []parsed) {
	t.Helper()
	last := ""
	for i, p := range ps {
		if !p.stamped {
			continue
		}
		if p.time < last {
			t.Fatalf("line %d %q at %s comes after %s", i, p.text, p.time, last)
		}
		last = p.time
	}
}

// TestTree reads the last lines of a real svscan tree's services, logged by
// real multilog: several directories with selections, an unstamped log, a
// stopped logger, a service without a logger, one whose logger never ran.
func TestTree(t *testing.T) {
	tr := newTree(t)
	alpha := tr.service("alpha", "0.01", "exec multilog t ./main\n")
	beta := tr.service("beta", "0.013", "exec multilog t '-*' '+*1' '+*3' '+*5' '+*7' '+*9' ./odd '+*' ./main\n")
	gamma := tr.service("gamma", "0.02", "exec multilog ./main\n")
	nolog := tr.service("nolog", "1", "")
	never := tr.service("never", "1", "exec multilog t ./main\n")
	if err := os.WriteFile(filepath.Join(never, "log", "down"), nil, 0644); err != nil {
		t.Fatal(err)
	}

	tr.start()
	for _, d := range []string{alpha, beta + "/log/odd", beta + "/log/main", gamma} {
		if !strings.Contains(d, "/log/") {
			d += "/log/main"
		}
		waitLines(t, d+"/current", 20)
	}
	svlog := testenv.Prog(t, "svlog")
	out, errs, code := testenv.Run(t, tr.root, "", svlog, "-n", "5", alpha, beta, gamma, nolog, never)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	ps := parse(t, out)
	count := map[string]int{}
	for _, p := range ps {
		count[p.name]++
		if !strings.HasPrefix(p.text, p.name+" ") {
			t.Errorf("%s shows %q", p.name, p.text)
		}
		if p.name == "beta" && !strings.ContainsAny(p.text[len(p.text)-1:], "13579") {
			t.Errorf("beta read from ./main, not its first directory ./odd: %q", p.text)
		}
		if p.stamped != (p.name != "gamma") {
			t.Errorf("%s: stamped %v", p.name, p.stamped)
		}
	}
	if count["alpha"] != 5 || count["beta"] != 5 || count["gamma"] != 5 || len(ps) != 15 {
		t.Errorf("lines per service %v", count)
	}
	checkOrder(t, ps)
	for _, want := range []string{
		"svlog: warning: " + nolog + ": no logger",
		"svlog: warning: " + never + ": no log found",
		"svlog: warning: " + beta + ": logger writes " + beta + "/log/odd " + beta + "/log/main; reading " + beta + "/log/odd",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if strings.Count(errs, "\n") != 3 {
		t.Errorf("stderr:\n%s", errs)
	}

	// -d picks another directory.
	out, errs, code = testenv.Run(t, tr.root, "", svlog, "-n", "10", "-d", "main", beta)
	evens := 0
	for _, p := range parse(t, out) {
		if strings.ContainsAny(p.text[len(p.text)-1:], "02468") {
			evens++
		}
	}
	if code != 0 || errs != "" || evens == 0 {
		t.Errorf("-d main: exit %d, %d even lines, stderr %q", code, evens, errs)
	}

	// With the service and its logger stopped, the lines are tai64nlocal's,
	// prefixed, and they come from log/main although no logger runs.
	testenv.Control(t, alpha, "d")
	testenv.WaitFor(t, 5*time.Second, "alpha down", func() bool { return testenv.PidOf(alpha) == 0 })
	testenv.Control(t, alpha+"/log", "d")
	testenv.WaitFor(t, 5*time.Second, "alpha's logger down", func() bool { return testenv.PidOf(alpha+"/log") == 0 })
	out, errs, code = testenv.Run(t, tr.root, "", svlog, "-n", "3", alpha)
	cur := testenv.ReadFile(t, alpha+"/log/main/current")
	local, _, _ := testenv.Run(t, tr.root, cur, testenv.Prog(t, "tai64nlocal"))
	ll := strings.Split(strings.TrimSuffix(local, "\n"), "\n")
	var w strings.Builder
	for _, l := range ll[len(ll)-3:] {
		// "DATE TIME TEXT" -> "DATE TIME alpha: TEXT"
		i := strings.IndexByte(l, ' ')
		j := i + 1 + strings.IndexByte(l[i+1:], ' ')
		w.WriteString(l[:j] + " alpha:" + l[j:] + "\n")
	}
	if code != 0 || errs != "" || out != w.String() {
		t.Errorf("stopped logger: exit %d, stderr %q, output\n%s\nwant\n%s", code, errs, out, w.String())
	}
}

// logText returns the texts of every line of a log directory in order,
// archives first, stamps removed.
func logText(t *testing.T, dir string) []string {
	t.Helper()
	names, _ := filepath.Glob(dir + "/@*")
	sort.Strings(names)
	names = append(names, dir+"/current")
	var texts []string
	for _, n := range names {
		for _, l := range strings.Split(strings.TrimSuffix(testenv.ReadFile(t, n), "\n"), "\n") {
			if len(l) > 26 && l[0] == '@' {
				l = l[26:]
			}
			texts = append(texts, l)
		}
	}
	return texts
}

// TestFollow follows two services through forced rotations (svc -a) and a
// logger killed mid-follow (svc -k): every line the log directory holds,
// from the first svlog showed to the last, appears once, in time order.
// It runs with svkit's multilog and with Debian's daemontools 0.76 one.
func TestFollow(t *testing.T) {
	t.Run("svkit", func(t *testing.T) { testFollow(t, "multilog") })
	t.Run("debian", func(t *testing.T) { testFollow(t, testenv.Debian(t, "multilog")) })
}

func testFollow(t *testing.T, multilog string) {
	tr := newTree(t)
	alpha := tr.service("alpha", "0.01", "exec "+multilog+" t ./main\n")
	beta := tr.service("beta", "0.015", "exec "+multilog+" t s4096 ./main\n")
	tr.start()
	waitLines(t, alpha+"/log/main/current", 5)
	waitLines(t, beta+"/log/main/current", 5)
	outPath := filepath.Join(tr.root, "follow.out")
	outF, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer outF.Close()
	cmd := exec.Command(testenv.Prog(t, "svlog"), "-f", "-n", "2", alpha, beta)
	cmd.Dir = tr.root
	cmd.Stdout = outF
	p := testenv.Start(t, cmd)
	countAlpha := func() int {
		return strings.Count(testenv.ReadFile(t, outPath), " alpha: ")
	}
	testenv.WaitFor(t, 10*time.Second, "svlog to follow", func() bool { return countAlpha() >= 10 })
	arch := func() int { n, _ := filepath.Glob(alpha + "/log/main/@*"); return len(n) }
	for i := 1; i <= 2; i++ {
		testenv.Control(t, alpha+"/log", "a")
		testenv.WaitFor(t, 5*time.Second, "rotation", func() bool { return arch() >= i })
		n := countAlpha()
		testenv.WaitFor(t, 5*time.Second, "lines after the rotation", func() bool { return countAlpha() >= n+10 })
	}
	oldPid := testenv.PidOf(alpha + "/log")
	testenv.Control(t, alpha+"/log", "k")
	testenv.WaitFor(t, 5*time.Second, "logger restarted", func() bool {
		pid := testenv.PidOf(alpha + "/log")
		return pid != 0 && pid != oldPid
	})
	n := countAlpha()
	testenv.WaitFor(t, 5*time.Second, "lines after the restart", func() bool { return countAlpha() >= n+20 })
	// beta rotates by itself (s4096) meanwhile.
	if b, _ := filepath.Glob(beta + "/log/main/@*"); len(b) == 0 {
		testenv.WaitFor(t, 10*time.Second, "beta to rotate", func() bool { b, _ := filepath.Glob(beta + "/log/main/@*"); return len(b) > 0 })
		n := strings.Count(testenv.ReadFile(t, outPath), " beta: ")
		testenv.WaitFor(t, 5*time.Second, "beta's lines after its rotation", func() bool {
			return strings.Count(testenv.ReadFile(t, outPath), " beta: ") >= n+10
		})
	}
	testenv.Control(t, alpha, "d")
	testenv.Control(t, beta, "d")
	time.Sleep(300 * time.Millisecond) // let svlog show the last lines (its window is 100 ms)
	p.KillAndWait(t, syscall.SIGTERM)
	if s := p.Stderr.String(); s != "" {
		t.Errorf("stderr: %s", s)
	}
	ps := parse(t, testenv.ReadFile(t, outPath))
	checkOrder(t, ps)
	for _, svc := range []string{alpha, beta} {
		name := filepath.Base(svc)
		var shown []string
		for _, p := range ps {
			if p.name == name {
				shown = append(shown, p.text)
			}
		}
		all := logText(t, svc+"/log/main")
		first := -1
		for i, l := range all {
			if l == shown[0] {
				first = i
			}
		}
		if first < 0 || first+len(shown) > len(all) {
			t.Fatalf("%s: %q not found in the log", name, shown[0])
		}
		for i, s := range shown {
			if all[first+i] != s {
				t.Fatalf("%s: line %d shown %q, the log has %q", name, i, s, all[first+i])
			}
		}
		if got, want := len(shown), len(all)-first; got != want {
			t.Errorf("%s: %d lines shown from %q on, the log has %d", name, got, shown[0], want)
		}
	}
}

// TestUnreadable: a log directory the caller may not read is named on
// stderr and skipped; the others are shown; the exit code says 111.
func TestUnreadable(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	for d := root; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0755); err != nil {
			t.Fatal(err)
		}
	}
	line := "@" + string(tai64.FromTime(time.Now()).AppendHex(nil)) + " hello\n"
	for _, s := range []string{"open", "closed"} {
		if err := os.MkdirAll(filepath.Join(root, s, "log", "main"), 0755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, s, "log", "main", "current"), []byte(line), 0644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "closed", "log", "main"), 0700); err != nil {
		t.Fatal(err)
	}
	// nobody may not enter the test's build directory: run a copy.
	svlog := filepath.Join(root, "svlog")
	if err := os.WriteFile(svlog, []byte(testenv.ReadFile(t, testenv.Prog(t, "svlog"))), 0755); err != nil {
		t.Fatal(err)
	}
	out, errs, code := testenv.Run(t, root, "", testenv.Prog(t, "setuidgid"), "nobody", svlog, root+"/closed", root+"/open")
	if code != 111 || !strings.HasSuffix(out, " open: hello\n") || strings.Count(out, "\n") != 1 ||
		errs != "svlog: warning: "+root+"/closed: unable to open "+root+"/closed/log/main/current: access denied\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

// TestUsage: options and messages in daemontools' style.
func TestUsage(t *testing.T) {
	svlog := testenv.Prog(t, "svlog")
	for _, args := range [][]string{{}, {"-n", "x", "d"}, {"-z", "d"}, {"-n"}} {
		_, errs, code := testenv.Run(t, "/", "", svlog, args...)
		if code != 100 || !strings.HasSuffix(errs, "svlog: usage: svlog [ -f ] [ -n lines ] [ -d name ] dir ...\n") {
			t.Errorf("%q: exit %d, stderr %q", args, code, errs)
		}
	}
	_, errs, code := testenv.Run(t, "/", "", svlog, "-f", "/nonexistent")
	if code != 111 || errs != "svlog: warning: /nonexistent: no logger (no log directory)\nsvlog: fatal: no log to follow\n" {
		t.Errorf("-f without a log: exit %d, stderr %q", code, errs)
	}
}

// TestFollowWithoutLogger: a log found with no logger running is followed,
// and svlog says that nothing new comes until one runs.
func TestFollowWithoutLogger(t *testing.T) {
	root := t.TempDir()
	svc := filepath.Join(root, "quiet")
	if err := os.MkdirAll(filepath.Join(svc, "log", "main"), 0755); err != nil {
		t.Fatal(err)
	}
	cur := filepath.Join(svc, "log", "main", "current")
	if err := os.WriteFile(cur, []byte("@"+string(tai64.FromTime(time.Now()).AppendHex(nil))+" old\n"), 0644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testenv.Prog(t, "svlog"), "-f", svc)
	p := testenv.Start(t, cmd)
	want := "svlog: warning: " + svc + ": no logger runs; following " + svc + "/log/main as it is\n"
	testenv.WaitFor(t, 5*time.Second, "the warning", func() bool { return p.Stderr.String() == want })
	f, err := os.OpenFile(cur, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("@" + string(tai64.FromTime(time.Now()).AppendHex(nil)) + " new\n")
	f.Close()
	testenv.WaitFor(t, 5*time.Second, "the new line", func() bool { return strings.HasSuffix(p.Stdout.String(), " quiet: new\n") })
	if s := p.Stdout.String(); strings.Count(s, "\n") != 2 || !strings.Contains(s, " quiet: old\n") {
		t.Errorf("stdout %q", s)
	}
}
