package svprof_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/google/pprof/profile"
	"golang.org/x/sys/unix"

	"svkit/internal/proc"
	"svkit/internal/testenv"
	"svkit/pkg/svdir"
)

const wait = 15 * time.Second

// requirePerf fails (in CI) or skips the test when the kernel refuses
// perf_event_open for this process.
func requirePerf(t *testing.T) {
	t.Helper()
	a := unix.PerfEventAttr{
		Type:   unix.PERF_TYPE_SOFTWARE,
		Config: unix.PERF_COUNT_SW_CPU_CLOCK,
		Size:   uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
		Bits:   unix.PerfBitDisabled | unix.PerfBitExcludeKernel,
	}
	fd, err := unix.PerfEventOpen(&a, 0, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err == nil {
		unix.Close(fd)
	}
	testenv.Require(t, err == nil, "the kernel refuses perf events here (perf_event_open: "+errString(err)+")")
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// buildC compiles testdata/NAME.c into dir, by default with frame
// pointers (which gcc 12 still leaves out of leaf functions) and debug line
// tables.
func buildC(t *testing.T, dir, name, out string, flags ...string) string {
	t.Helper()
	if flags == nil {
		flags = []string{"-O1", "-g", "-fno-omit-frame-pointer", "-mno-omit-leaf-frame-pointer"}
	}
	gcc, err := exec.LookPath("gcc")
	testenv.Require(t, err == nil, "gcc is not installed")
	src, _ := filepath.Abs(filepath.Join("testdata", name+".c"))
	bin := filepath.Join(dir, out)
	cmd := exec.Command(gcc, append(flags, "-o", bin, src)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", name, err, b)
	}
	return bin
}

// buildGo builds testdata/NAME.go into dir.
func buildGo(t *testing.T, dir, name string) string {
	t.Helper()
	src, _ := filepath.Abs(filepath.Join("testdata", name+".go"))
	bin := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", bin, src)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GO111MODULE=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", name, err, b)
	}
	return bin
}

// scanTree is a scan directory with svkit's svscan running on it.
type scanTree struct {
	t    *testing.T
	root string
	scan string
}

// newTree starts svscan on an empty scan directory. At the end it stops
// svscan (which stops the services), then kills by pid whatever of the
// services is left and removes their cgroups.
func newTree(t *testing.T) *scanTree {
	t.Helper()
	root, scan := testenv.ScanDir(t)
	tr := &scanTree{t: t, root: root, scan: scan}
	cmd := exec.Command(testenv.Prog(t, "svscan"), tr.scan)
	cmd.Env = append(os.Environ(), "PATH="+testenv.Bin(t)+":"+os.Getenv("PATH"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := testenv.Start(t, cmd)
	t.Cleanup(func() {
		// svscan's supervise processes, the services and their children.
		left := proc.Descendants(p.Pid())
		syscall.Kill(p.Pid(), syscall.SIGTERM)
		p.Wait(t, wait)
		deadline := time.Now().Add(5 * time.Second)
		for _, id := range left {
			for id.Alive() && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if id.Alive() {
				syscall.Kill(id.Pid, syscall.SIGKILL)
			}
		}
		testenv.RemoveGroupsUnder(tr.scan)
	})
	return tr
}

// service adds a service with the given run script and files, and waits
// until it is up (unless a down file is among the files).
func (tr *scanTree) service(name, run string, files map[string]string) string {
	tr.t.Helper()
	stage := filepath.Join(tr.root, "stage-"+name)
	testenv.WriteScript(tr.t, filepath.Join(stage, "run"), run)
	for f, body := range files {
		if err := os.WriteFile(filepath.Join(stage, f), []byte(body), 0644); err != nil {
			tr.t.Fatal(err)
		}
	}
	dir := filepath.Join(tr.scan, name)
	if err := os.Rename(stage, dir); err != nil {
		tr.t.Fatal(err)
	}
	_, down := files["down"]
	testenv.WaitStatus(tr.t, wait, dir, name+" supervised", func(r svdir.Status) bool { return down || r.Pid > 0 })
	return dir
}

// svprof runs svprof to completion and returns its stderr and exit code.
func svprof(t *testing.T, args ...string) (string, int) {
	t.Helper()
	_, stderr, code := testenv.Run(t, t.TempDir(), "", testenv.Prog(t, "svprof"), args...)
	return stderr, code
}

// readProfile parses a profile file with profile.Parse and checks it.
func readProfile(t *testing.T, path string) *profile.Profile {
	t.Helper()
	p, err := profile.Parse(testenv.Open(t, path))
	if err != nil {
		t.Fatalf("profile.Parse %s: %v", path, err)
	}
	if err := p.CheckValid(); err != nil {
		t.Fatalf("CheckValid: %v", err)
	}
	return p
}

// leafName is the function name of a sample's first frame.
func leafName(s *profile.Sample) string {
	if len(s.Location) == 0 || len(s.Location[0].Line) == 0 {
		return ""
	}
	return s.Location[0].Line[0].Function.Name
}

// leafSamples counts the samples whose first frame is in function name.
func leafSamples(p *profile.Profile, name string) int64 {
	var n int64
	for _, s := range p.Sample {
		if leafName(s) == name {
			n += s.Value[0]
		}
	}
	return n
}

// mustProfile runs svprof with args, failing the test unless it exits 0,
// and returns what it wrote to stderr.
func mustProfile(t *testing.T, args ...string) string {
	t.Helper()
	stderr, code := svprof(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	return stderr
}

func hasFunc(s *profile.Sample, name string) bool {
	for _, l := range s.Location {
		for _, ln := range l.Line {
			if ln.Function.Name == name {
				return true
			}
		}
	}
	return false
}

// samplesBy counts samples per value of a string label.
func samplesBy(p *profile.Profile, label string) map[string]int64 {
	m := map[string]int64{}
	for _, s := range p.Sample {
		for _, v := range s.Label[label] {
			m[v] += s.Value[0]
		}
	}
	return m
}

func total(p *profile.Profile) int64 {
	var n int64
	for _, s := range p.Sample {
		n += s.Value[0]
	}
	return n
}

// modes are the two ways svprof attaches: to the service's cgroup (when
// the kernel takes it; it falls back to threads otherwise) and forced to
// threads with -p.
var modes = []struct {
	name string
	args []string
}{
	{"cgroup", nil},
	{"threads", []string{"-p"}},
}

var summaryRE = regexp.MustCompile(`(?m)^svprof: (\d+) samples, (\d+) lost, (\d+) processes, [0-9.]+ seconds \((cgroup|threads)\); wrote `)

// summaryOf checks the summary line and returns its fields.
func summaryOf(t *testing.T, stderr string) (samples, procs int, mode string) {
	t.Helper()
	m := summaryRE.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no summary line in stderr:\n%s", stderr)
	}
	samples, _ = strconv.Atoi(m[1])
	procs, _ = strconv.Atoi(m[3])
	return samples, procs, m[4]
}

// TestHotLeafC: a C service built with frame pointers; the profile shows
// its hot leaf with most samples, the leaf's caller above it, file:line from
// DWARF, and the binary's build ID; go tool pprof -top agrees.
func TestHotLeafC(t *testing.T) {
	requirePerf(t)
	tr := newTree(t)
	bin := buildC(t, tr.root, "hot", "hot")
	dir := tr.service("hot", "exec "+bin+"\n", nil)
	want := buildIDOf(t, bin)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "hot.pb.gz")
			stderr := mustProfile(t, append(m.args, "-F", "499", "-d", "1.5", "-o", out, dir)...)
			n, _, mode := summaryOf(t, stderr)
			t.Logf("mode %s: %s", mode, strings.TrimSpace(stderr))
			if m.name == "threads" && mode != "threads" {
				t.Errorf("-p sampled in %s mode", mode)
			}
			p := readProfile(t, out)
			if int64(n) != total(p) || n < 10 {
				t.Fatalf("summary says %d samples, profile holds %d (want at least 10)", n, total(p))
			}
			var hot, withParent int64
			sawLine := false
			for _, s := range p.Sample {
				if leafName(s) != "hot_leaf" {
					continue
				}
				hot += s.Value[0]
				if hasFunc(s, "hot_parent") && hasFunc(s, "main") {
					withParent += s.Value[0]
				}
				ln := s.Location[0].Line[0]
				if strings.HasSuffix(ln.Function.Filename, "hot.c") && ln.Line > 0 {
					sawLine = true
				}
			}
			if hot*100 < total(p)*70 {
				t.Errorf("hot_leaf has %d of %d samples, want at least 70%%", hot, total(p))
			}
			if withParent*100 < hot*90 {
				t.Errorf("only %d of %d hot_leaf samples have hot_parent and main above", withParent, hot)
			}
			if !sawLine {
				t.Errorf("hot_leaf has no hot.c:line")
			}
			var found bool
			for _, mp := range p.Mapping {
				if mp.File == bin {
					found = true
					if mp.BuildID != want {
						t.Errorf("mapping %s has build ID %q, readelf says %q", bin, mp.BuildID, want)
					}
				}
			}
			if !found {
				t.Errorf("no mapping for %s", bin)
			}
			if p.Mapping[0].File != bin {
				t.Errorf("first mapping is %s, want the service's binary", p.Mapping[0].File)
			}
			top := pprofTop(t, out)
			if !regexp.MustCompile(`(?m)^\s*\S+\s+(7\d|8\d|9\d|100)(\.\d+)?%.*\bhot_leaf$`).MatchString(top) {
				t.Errorf("go tool pprof -top does not show hot_leaf at 70%% or more:\n%s", top)
			}
		})
	}
}

// TestNoFramePointers: a service built without frame pointers yields
// one-frame stacks, and svprof says so.
func TestNoFramePointers(t *testing.T) {
	requirePerf(t)
	tr := newTree(t)
	bin := buildC(t, tr.root, "hot", "hot", "-O2", "-fomit-frame-pointer")
	dir := tr.service("hot", "exec "+bin+"\n", nil)
	out := filepath.Join(t.TempDir(), "hot.pb.gz")
	stderr := mustProfile(t, "-F", "499", "-d", "1", "-o", out, dir)
	if !regexp.MustCompile(`(?m)^svprof: warning: \d+% of stacks are one frame deep: .*-fno-omit-frame-pointer`).MatchString(stderr) {
		t.Errorf("no warning about one-frame stacks:\n%s", stderr)
	}
	summaryOf(t, stderr)
	p := readProfile(t, out)
	hot := leafSamples(p, "hot_leaf")
	if hot*2 < total(p) {
		t.Errorf("hot_leaf has %d of %d samples", hot, total(p))
	}
}

// buildIDOf asks readelf for a binary's GNU build ID.
func buildIDOf(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command("readelf", "-n", bin).Output()
	if err != nil {
		testenv.Require(t, false, "readelf -n failed: "+err.Error())
	}
	m := regexp.MustCompile(`Build ID: ([0-9a-f]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("readelf -n %s shows no build ID:\n%s", bin, out)
	}
	return string(m[1])
}

// pprofTop runs go tool pprof -top on a profile.
func pprofTop(t *testing.T, path string) string {
	t.Helper()
	cmd := exec.Command("go", "tool", "pprof", "-top", path)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof -top: %v\n%s", err, out)
	}
	return string(out)
}

// TestGoTwoThreads: a Go service burning CPU in two functions on two
// threads that existed before svprof started: both functions are in the
// profile, on different threads, named from Go's pclntab.
func TestGoTwoThreads(t *testing.T) {
	requirePerf(t)
	tr := newTree(t)
	bin := buildGo(t, tr.root, "burn")
	dir := tr.service("burn", "exec "+bin+"\n", nil)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "burn.pb.gz")
			stderr := mustProfile(t, append(m.args, "-F", "499", "-d", "1.5", "-o", out, dir)...)
			p := readProfile(t, out)
			tids := map[string]map[int64]bool{"main.burnAlpha": {}, "main.burnBeta": {}}
			counts := map[string]int64{}
			for _, s := range p.Sample {
				for fn := range tids {
					if hasFunc(s, fn) {
						counts[fn] += s.Value[0]
						for _, tid := range s.NumLabel["tid"] {
							tids[fn][tid] = true
						}
					}
				}
			}
			t.Logf("%s; %v", strings.TrimSpace(stderr), counts)
			for fn, n := range counts {
				if n*5 < total(p) {
					t.Errorf("%s has %d of %d samples, want at least 20%%", fn, n, total(p))
				}
			}
			if len(counts) != 2 {
				t.Fatalf("want samples in both functions, got %v", counts)
			}
			for a := range tids["main.burnAlpha"] {
				if tids["main.burnBeta"][a] {
					t.Errorf("both functions on thread %d; want two threads", a)
				}
			}
		})
	}
}

// TestShellChildren: a run that is a shell starting two children, the
// second after svprof has begun (so it is found by inheritance in thread
// mode): both children's samples are in the
// profile, told apart by their pid and comm labels.
func TestShellChildren(t *testing.T) {
	requirePerf(t)
	hot := buildC(t, t.TempDir(), "hot", "hot")
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			tr := newTree(t)
			d := t.TempDir()
			for _, c := range []string{"child1", "child2"} {
				b, err := os.ReadFile(hot)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(d, c), b, 0755); err != nil {
					t.Fatal(err)
				}
			}
			// child2 starts once svprof runs (when d/go exists).
			run := d + "/child1 &\nwhile [ ! -e " + d + "/go ]; do sleep 0.05; done\n" + d + "/child2 &\nwait\n"
			dir := tr.service("sh-"+m.name, run, nil)
			out := filepath.Join(d, "sh.pb.gz")
			sp := testenv.Start(t, exec.Command(testenv.Prog(t, "svprof"), append(m.args, "-F", "499", "-d", "2.5", "-o", out, dir)...))
			time.Sleep(300 * time.Millisecond)
			if err := os.WriteFile(filepath.Join(d, "go"), nil, 0644); err != nil {
				t.Fatal(err)
			}
			code := sp.Wait(t, wait)
			stderr := sp.Stderr.String()
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			_, procs, mode := summaryOf(t, stderr)
			t.Logf("%s", strings.TrimSpace(stderr))
			p := readProfile(t, out)
			by := samplesBy(p, "comm")
			for _, c := range []string{"child1", "child2"} {
				if by[c] < 3 {
					t.Errorf("%s has %d samples (mode %s): %v", c, by[c], mode, by)
				}
			}
			pids := map[int64]bool{}
			for _, s := range p.Sample {
				if leafName(s) == "hot_leaf" {
					pids[s.NumLabel["pid"][0]] = true
				}
			}
			if len(pids) < 2 || procs < 2 {
				t.Errorf("hot_leaf sampled in %d processes (summary: %d), want 2", len(pids), procs)
			}
		})
	}
}

// TestReplacedBinary: the service's binary is replaced on disk (renamed
// over) after it started: svprof still names the functions of the binary
// that runs, through /proc/PID/map_files.
func TestReplacedBinary(t *testing.T) {
	requirePerf(t)
	tr := newTree(t)
	bin := buildC(t, tr.root, "hot", "hot")
	want := buildIDOf(t, bin)
	dir := tr.service("hot", "exec "+bin+"\n", nil)
	other := buildC(t, tr.root, "other", "hot.new")
	if err := os.Rename(other, bin); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "hot.pb.gz")
	mustProfile(t, "-p", "-F", "499", "-d", "1", "-o", out, dir)
	p := readProfile(t, out)
	hot := leafSamples(p, "hot_leaf")
	if hot*2 < total(p) {
		t.Errorf("hot_leaf has %d of %d samples after the binary was replaced", hot, total(p))
	}
	for _, mp := range p.Mapping {
		if mp.File == bin && mp.BuildID != want {
			t.Errorf("mapping %s has build ID %s, want the running binary's %s", bin, mp.BuildID, want)
		}
	}
}

// TestServiceExits: a service that exits while being profiled (and is not
// restarted): svprof stops soon after, writes the profile and warns.
func TestServiceExits(t *testing.T) {
	requirePerf(t)
	tr := newTree(t)
	bin := buildC(t, tr.root, "hot", "hot")
	dir := tr.service("once", "exec "+bin+" 0.8\n", map[string]string{"down": ""})
	if _, _, code := testenv.Run(t, dir, "", testenv.Prog(t, "svc"), "-o", "."); code != 0 {
		t.Fatal("svc -o failed")
	}
	testenv.WaitStatus(t, wait, dir, "service up", func(r svdir.Status) bool { return r.Pid > 0 })
	out := filepath.Join(t.TempDir(), "once.pb.gz")
	stderr := mustProfile(t, "-d", "20", "-o", out, dir)
	// How long svprof went on after the service went down (its status's
	// stamp): the run's own length is 0.8 s of CPU, which a loaded machine
	// can stretch to many seconds.
	end := time.Now()
	r := testenv.ReadStatus(t, dir)
	if r.Pid != 0 {
		t.Fatalf("service still up: %+v", r)
	}
	lag := end.Sub(r.Since())
	t.Logf("svprof ended %v after the service went down", lag)
	if lag > 5*time.Second || lag < 0 {
		t.Errorf("svprof ran %v after the service went down", lag)
	}
	if !strings.Contains(stderr, "svprof: warning: "+dir+" went down after ") {
		t.Errorf("no warning about the service going down:\n%s", stderr)
	}
	readProfile(t, out)
}

// TestInterrupt: INT stops sampling early and the profile is still
// written.
func TestInterrupt(t *testing.T) {
	requirePerf(t)
	tr := newTree(t)
	bin := buildC(t, tr.root, "hot", "hot")
	dir := tr.service("hot", "exec "+bin+"\n", nil)
	out := filepath.Join(t.TempDir(), "hot.pb.gz")
	cmd := exec.Command(testenv.Prog(t, "svprof"), "-d", "60", "-o", out, dir)
	p := testenv.Start(t, cmd)
	time.Sleep(500 * time.Millisecond)
	syscall.Kill(p.Pid(), syscall.SIGINT)
	if code := p.Wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGINT: %s", code, p.Stderr)
	}
	summaryOf(t, p.Stderr.String())
	readProfile(t, out)
}

// TestBadInput: each failure is one "svprof: fatal:" line and exit 111
// (100 for usage), and no profile is left behind.
func TestBadInput(t *testing.T) {
	requirePerf(t)
	tr := newTree(t)
	down := tr.service("down", "exec sleep 100\n", map[string]string{"down": ""})
	notsvc := t.TempDir()
	outdir := t.TempDir()
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no dir", nil, 100, "svprof: usage: svprof "},
		{"bad rate", []string{"-F", "0", down}, 100, "svprof: usage: "},
		{"bad duration", []string{"-d", "x", down}, 100, "svprof: usage: "},
		{"missing", []string{filepath.Join(notsvc, "nothing")}, 111, "svprof: fatal: unable to chdir to " + filepath.Join(notsvc, "nothing") + ": file does not exist\n"},
		{"not a service", []string{"-o", filepath.Join(outdir, "x"), notsvc}, 111, "svprof: fatal: " + notsvc + ": supervise not running\n"},
		{"down", []string{"-o", filepath.Join(outdir, "x"), down}, 111, "svprof: fatal: " + down + ": service is down\n"},
		{"unwritable output", []string{"-o", filepath.Join(outdir, "no/such/dir/x.pb.gz"), down}, 111, "svprof: fatal: unable to create " + filepath.Join(outdir, "no/such/dir/x.pb.gz") + ": file does not exist\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stderr, code := svprof(t, c.args...)
			if code != c.code || !strings.HasPrefix(stderr, c.msg) {
				t.Errorf("svprof %v: exit %d, stderr %q; want exit %d, %q", c.args, code, stderr, c.code, c.msg)
			}
		})
	}
	if ents, _ := os.ReadDir(outdir); len(ents) != 0 {
		t.Errorf("files left in the output directory: %v", ents)
	}
}
