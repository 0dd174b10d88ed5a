package svscan_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"svkit/internal/testenv"
)

// pair is one combination of scanner and supervisor under test.
type pair struct {
	name      string
	svscan    func(t *testing.T) string
	supervise func(t *testing.T) string
	svkitScan bool // the scanner is svkit's (SIGALRM forces a pass)
}

func svkitProg(name string) func(t *testing.T) string {
	return func(t *testing.T) string { return testenv.Prog(t, name) }
}

func debianProg(name string) func(t *testing.T) string {
	return func(t *testing.T) string { return testenv.Debian(t, name) }
}

var (
	svkitPair  = pair{"svkit", svkitProg("svscan"), svkitProg("supervise"), true}
	debianPair = pair{"debian", debianProg("svscan"), debianProg("supervise"), false}
	// Interop: Debian's svscan runs svkit's supervise, and the reverse.
	debianScanSvkitSup = pair{"debian-svscan+svkit-supervise", debianProg("svscan"), svkitProg("supervise"), false}
	svkitScanDebianSup = pair{"svkit-svscan+debian-supervise", svkitProg("svscan"), debianProg("supervise"), true}
)

// tree is a scan directory in a temporary directory, with svscan running on
// it and finding supervise through a PATH whose first element holds a
// symbolic link to the supervise under test.
type tree struct {
	t    *testing.T
	root string // the temporary directory
	scan string // root/sv, the scan directory
	bin  string // root/bin, first in PATH
	p    *testenv.Proc
	out  string // svscan's stdout file
	err  string // svscan's stderr file
}

func newTree(t *testing.T, pr pair) *tree {
	t.Helper()
	root := t.TempDir()
	tr := &tree{t: t, root: root, scan: filepath.Join(root, "sv"), bin: filepath.Join(root, "bin")}
	for _, d := range []string{tr.scan, tr.bin} {
		if err := os.Mkdir(d, 0755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(pr.supervise(t), filepath.Join(tr.bin, "supervise")); err != nil {
		t.Fatal(err)
	}
	// Runs after svscan is killed (cleanups run last-registered first).
	t.Cleanup(func() { testenv.KillUnder(t, root) })
	return tr
}

// start runs svscan (with args before the scan directory) in the
// background. Its stdout and stderr are files, so that waiting for it does
// not wait for the supervise processes that share them.
func (tr *tree) start(svscan string, args ...string) *testenv.Proc {
	tr.t.Helper()
	return tr.startCmd(exec.Command(svscan, append(args, tr.scan)...))
}

func (tr *tree) startCmd(cmd *exec.Cmd) *testenv.Proc {
	tr.t.Helper()
	tr.out = filepath.Join(tr.root, "svscan.out")
	tr.err = filepath.Join(tr.root, "svscan.err")
	o, err := os.Create(tr.out)
	if err != nil {
		tr.t.Fatal(err)
	}
	e, err := os.Create(tr.err)
	if err != nil {
		tr.t.Fatal(err)
	}
	defer o.Close()
	defer e.Close()
	cmd.Stdout, cmd.Stderr = o, e
	cmd.Env = append(os.Environ(), "PATH="+tr.bin+":"+os.Getenv("PATH"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	tr.p = testenv.Start(tr.t, cmd)
	return tr.p
}

func (tr *tree) stderr() string {
	b, _ := os.ReadFile(tr.err)
	return string(b)
}

// checkQuiet fails the test if svscan wrote anything to stderr.
func (tr *tree) checkQuiet(t *testing.T) {
	t.Helper()
	if s := tr.stderr(); s != "" {
		t.Errorf("svscan wrote %q", s)
	}
}

// service creates scan/name with a run script (and log/run when logRun is
// not empty), built beside the scan directory and renamed into it, as
// daemontools recommends, so that svscan never sees half a service.
func (tr *tree) service(name, run, logRun string) string {
	tr.t.Helper()
	stage := filepath.Join(tr.root, "stage-"+name)
	testenv.WriteScript(tr.t, filepath.Join(stage, "run"), run)
	if logRun != "" {
		testenv.WriteScript(tr.t, filepath.Join(stage, "log", "run"), logRun)
	}
	dst := filepath.Join(tr.scan, name)
	if err := os.Rename(stage, dst); err != nil {
		tr.t.Fatal(err)
	}
	return dst
}

// waitUp waits until supervise runs the service in dir.
func waitUp(t *testing.T, dir string, timeout time.Duration) int {
	t.Helper()
	var pid int
	testenv.WaitFor(t, timeout, dir+" up", func() bool {
		pid = testenv.PidOf(dir)
		return pid != 0 && testenv.Alive(pid)
	})
	return pid
}

// proc is a process seen in /proc.
type proc struct {
	pid, ppid int
	state     byte
	cwd       string
	argv      []string
}

// procs lists the processes of the system.
func procs() []proc {
	ents, _ := os.ReadDir("/proc")
	var out []proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || i+2 >= len(s) {
			continue
		}
		f := strings.Fields(s[i+2:])
		if len(f) < 2 {
			continue
		}
		p := proc{pid: pid, state: f[0][0]}
		p.ppid, _ = strconv.Atoi(f[1])
		p.cwd, _ = os.Readlink("/proc/" + e.Name() + "/cwd")
		if c, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil && len(c) > 0 {
			p.argv = strings.Split(strings.TrimSuffix(string(c), "\x00"), "\x00")
		}
		out = append(out, p)
	}
	return out
}

// under returns the live processes whose working directory is root or
// below it.
func under(root string) []proc {
	var out []proc
	for _, p := range procs() {
		if p.state == 'Z' || p.cwd == "" {
			continue
		}
		if p.cwd == root || strings.HasPrefix(p.cwd, root+"/") {
			out = append(out, p)
		}
	}
	return out
}

// superviseOf returns the pid of the supervise process running arg in dir.
func superviseOf(dir, arg string) int {
	for _, p := range procs() {
		if p.state != 'Z' && p.cwd == dir && len(p.argv) == 2 && filepath.Base(p.argv[0]) == "supervise" && p.argv[1] == arg {
			return p.pid
		}
	}
	return 0
}

// producer is a run script that writes numbered lines, one every delay,
// keeping the count in file so that a restarted copy goes on where the
// last one stopped.
func producer(counter, delay string) string {
	return fmt.Sprintf(`n=$(cat %[1]s 2>/dev/null || echo 0)
while :; do
  n=$((n+1))
  echo "line $n"
  echo $n > %[1]s.new && mv %[1]s.new %[1]s
  sleep %[2]s
done
`, counter, delay)
}

// seqs reads the numbers of the "line N" lines of file.
func seqs(t *testing.T, file string) []int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []int
	for _, l := range strings.Split(string(b), "\n") {
		if l == "" {
			continue
		}
		var n int
		if _, err := fmt.Sscanf(l, "line %d", &n); err != nil {
			t.Fatalf("%s: bad line %q", file, l)
		}
		out = append(out, n)
	}
	return out
}

// maxSeq returns the highest number in file.
func maxSeq(t *testing.T, file string) int {
	m := 0
	for _, n := range seqs(t, file) {
		if n > m {
			m = n
		}
	}
	return m
}

// checkContiguous fails unless file holds every number from 1 to at least
// upto (a number may repeat where a producer was killed between writing a
// line and recording it).
func checkContiguous(t *testing.T, file string, upto int) {
	t.Helper()
	got := seqs(t, file)
	seen := map[int]bool{}
	for _, n := range got {
		seen[n] = true
	}
	var missing []int
	for i := 1; i <= upto; i++ {
		if !seen[i] {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 {
		sort.Ints(missing)
		t.Fatalf("%s: lines lost: %v (have %d lines)", file, missing, len(got))
	}
}

// alarm forces a pass of svkit's svscan.
func alarm(t *testing.T, p *testenv.Proc) {
	t.Helper()
	if err := unix.Kill(p.Pid(), unix.SIGALRM); err != nil {
		t.Fatal(err)
	}
}
