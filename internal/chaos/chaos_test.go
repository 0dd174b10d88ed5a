// Package chaos holds svkit's reliability tests: a chaos test that
// kills services, supervise, multilog and svscan at random under svc
// commands and control-FIFO floods and then checks what must hold, and a
// table of bad inputs given to every program. See TESTING.md for the figures.
package chaos_test

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"svkit/internal/testenv"
	"svkit/pkg/svdir"
)

// nServices is the size of the scan directory.
const nServices = 20

// pinfo is a process seen in /proc.
type pinfo struct {
	pid, ppid int
	state     byte
	start     string // field 22, with pid names one incarnation
	cwd       string
	argv      []string
}

func (p pinfo) key() string { return strconv.Itoa(p.pid) + "/" + p.start }

// snapshot lists the processes of the system.
func snapshot() []pinfo {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	out := make([]pinfo, 0, len(names))
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + n + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) {
			continue
		}
		f := strings.Fields(string(b[i+2:]))
		if len(f) < 20 {
			continue
		}
		p := pinfo{pid: pid, state: f[0][0], start: f[19]}
		p.ppid, _ = strconv.Atoi(f[1])
		p.cwd, _ = os.Readlink("/proc/" + n + "/cwd")
		if c, err := os.ReadFile("/proc/" + n + "/cmdline"); err == nil && len(c) > 0 {
			p.argv = strings.Split(strings.TrimSuffix(string(c), "\x00"), "\x00")
		}
		out = append(out, p)
	}
	return out
}

func (p pinfo) live() bool { return p.state != 'Z' && p.state != 'X' }

func (p pinfo) prog() string {
	if len(p.argv) == 0 {
		return ""
	}
	return filepath.Base(p.argv[0])
}

// pendingControl returns how many bytes wait in dir's supervise/control
// FIFO, unread by its supervise.
func (w *world) pendingControl(dir string) int {
	fd, err := syscall.Open(filepath.Join(w.scan, dir, svdir.ControlPath), syscall.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return -1
	}
	defer syscall.Close(fd)
	n, _ := unix.IoctlGetInt(fd, unix.TIOCINQ)
	return n
}

// fdList names what each of pid's descriptors refers to.
func fdList(pid int) []string {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, _ := os.ReadDir(dir)
	var l []string
	for _, e := range ents {
		target, _ := os.Readlink(filepath.Join(dir, e.Name()))
		l = append(l, e.Name()+"->"+target)
	}
	return l
}

// world is one chaos run: a scan directory of logged producers under svkit's
// svscan -o.
type world struct {
	t        *testing.T
	root     string
	scan     string
	stateDir string
	marker   string
	svscan   string
	svc      string
	scanProc *testenv.Proc
	names    []string
	inproc   bool // svscan -i: the supervisors run in svscan, not in supervise processes

	mu         sync.Mutex
	failures   []string
	samples    int
	statusRead int
	maxCopies  int
	zombies    map[string]time.Time // zombie (pid/start) -> first seen, children of the tree
	lateSeen   map[string]bool
	lateReaps  []string       // zombies seen unreaped for over a second, with their parent's state
	tree       map[int]bool   // pids of svscan, supervise, multilog, producers (last sample)
	roles      map[int]string // their roles (last sample)

	hist    map[string][]string // recent actions per service, for the report
	dupSeen map[string]int      // samples with two copies, per service

	kills map[string]int // what was killed, by kind
	mlog  map[string]int // multilog SIGKILLs per service
	svcs  int            // svc commands run
	flood int            // bytes flooded into control FIFOs
}

func (w *world) failf(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.failures) < 50 {
		w.failures = append(w.failures, fmt.Sprintf(format, args...))
	}
}

func newWorld(t *testing.T, inproc bool) *world {
	root := t.TempDir()
	w := &world{
		t: t, root: root, scan: filepath.Join(root, "sv"), stateDir: filepath.Join(root, "state"),
		marker: fmt.Sprintf("chaos-%d-%d", os.Getpid(), time.Now().UnixNano()),
		svscan: testenv.Prog(t, "svscan"), svc: testenv.Prog(t, "svc"),
		zombies: map[string]time.Time{}, lateSeen: map[string]bool{}, tree: map[int]bool{},
		kills: map[string]int{}, mlog: map[string]int{},
		hist: map[string][]string{}, dupSeen: map[string]int{}, inproc: inproc,
	}
	for _, d := range []string{w.scan, w.stateDir, filepath.Join(root, "bin")} {
		if err := os.Mkdir(d, 0755); err != nil {
			t.Fatal(err)
		}
	}
	producer := filepath.Join(root, "bin", "chaosproducer")
	cmd := exec.Command("go", "build", "-o", producer, "./internal/chaos/testdata/producer")
	cmd.Dir = testenv.Root()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build producer: %v\n%s", err, out)
	}
	// Runs last: whatever is left, killed by pid even when the test fails.
	t.Cleanup(func() { w.killAll() })
	for i := 1; i <= nServices; i++ {
		name := fmt.Sprintf("svc%02d", i)
		w.names = append(w.names, name)
		stage := filepath.Join(root, "stage-"+name)
		testenv.WriteScript(t, filepath.Join(stage, "run"), fmt.Sprintf("exec %s %s %s %s 10ms\n",
			producer, w.marker, name, filepath.Join(w.stateDir, name)))
		testenv.WriteScript(t, filepath.Join(stage, "log", "run"), "exec multilog s4096 n1000 ./main\n")
		if i%4 == 0 && !inproc {
			// A quarter of the services run without a cgroup, as where
			// cgroup v2 is not writable: re-adoption then finds an
			// unrecorded run by process group, session and directory.
			// (svscan -i needs a cgroup for every service.)
			if err := os.WriteFile(filepath.Join(stage, "no-cgroup"), nil, 0644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Rename(stage, filepath.Join(w.scan, name)); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// note records an action on a service for the report of a failure.
func (w *world) note(name, format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.noteLocked(name, format, args...)
}

// histLen is how many of a service's recent events its history keeps.
const histLen = 40

func (w *world) noteLocked(name, format string, args ...any) {
	h := append(w.hist[name], time.Now().Format("15:04:05.000")+" "+fmt.Sprintf(format, args...))
	if len(h) > histLen {
		h = h[len(h)-histLen:]
	}
	w.hist[name] = h
}

// fdIdent names what descriptor fd of pid is: its device and inode (a
// FIFO's own, or an anonymous pipe's in pipefs), to tell pipes apart.
func fdIdent(pid, fd int) string {
	var st syscall.Stat_t
	if err := syscall.Stat(fmt.Sprintf("/proc/%d/fd/%d", pid, fd), &st); err != nil {
		return "?"
	}
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

// serviceOf is the service a process of the tree belongs to ("" for
// svscan).
func (w *world) serviceOf(p pinfo) string { return w.serviceOfRole(w.role(p)) }

func (w *world) serviceOfRole(r string) string {
	_, rest, ok := strings.Cut(r, " ")
	if !ok {
		return ""
	}
	return strings.TrimSuffix(rest, "/log")
}

// startScan starts svkit's svscan -o on the scan directory (again after a
// kill: the same command, its output appended to the same files).
func (w *world) startScan() {
	open := func(name string) *os.File {
		f, err := os.OpenFile(filepath.Join(w.root, name), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0644)
		if err != nil {
			w.t.Fatal(err)
		}
		return f
	}
	o, e := open("svscan.out"), open("svscan.err")
	defer o.Close()
	defer e.Close()
	args := []string{"-o", w.scan}
	if w.inproc {
		args = []string{"-o", "-i", w.scan}
	}
	cmd := exec.Command(w.svscan, args...)
	cmd.Stdout, cmd.Stderr = o, e
	cmd.Env = append(os.Environ(), "PATH="+testenv.Bin(w.t)+":"+os.Getenv("PATH"))
	if keep := os.Getenv("CHAOS_KEEP"); keep != "" {
		// Every multilog's trace, for the post-mortem (test builds).
		os.MkdirAll(filepath.Join(w.root, "mltrace"), 0755)
		cmd.Env = append(cmd.Env, "SVKIT_TEST_MLTRACE="+filepath.Join(w.root, "mltrace"))
	}
	// Its own session, as under init or svscanboot. In a process group of
	// the test's session instead, killing svscan while a service is paused
	// (svc -p) would orphan a group holding a stopped process, and the
	// kernel would send the whole group HUP, which ends multilog and
	// supervise.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	w.scanProc = testenv.Start(w.t, cmd)
}

// ours reports whether p belongs to this run.
func (w *world) ours(p pinfo) bool {
	if p.cwd == w.root || strings.HasPrefix(p.cwd, w.root+"/") {
		return true
	}
	return len(p.argv) >= 3 && p.argv[1] == w.marker
}

// killAll kills, by pid, every process of the run until none is left.
func (w *world) killAll() {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		n := 0
		for _, p := range snapshot() {
			if p.live() && w.ours(p) {
				syscall.Kill(p.pid, syscall.SIGKILL)
				n++
			}
		}
		if n == 0 {
			for _, name := range w.names {
				testenv.RemoveGroup(filepath.Join(w.scan, name))
				testenv.RemoveGroup(filepath.Join(w.scan, name, "log"))
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.t.Errorf("processes of the chaos run still alive after 10 s")
}

// role names what a process of the run is: "producer svcNN",
// "supervise svcNN" or "supervise svcNN/log", "multilog svcNN", "svscan".
func (w *world) role(p pinfo) string {
	switch p.prog() {
	case "chaosproducer":
		if len(p.argv) >= 3 && p.argv[1] == w.marker {
			return "producer " + p.argv[2]
		}
	case "supervise":
		// supervise runs in the service directory (it chdirs there).
		if rel, ok := strings.CutPrefix(p.cwd, w.scan+"/"); ok {
			return "supervise " + rel
		}
	case "multilog":
		if strings.HasPrefix(p.cwd, w.scan+"/") && strings.HasSuffix(p.cwd, "/log") {
			return "multilog " + filepath.Base(filepath.Dir(p.cwd))
		}
	case "svscan":
		if len(p.argv) >= 2 && p.argv[len(p.argv)-1] == w.scan {
			return "svscan"
		}
	}
	return ""
}

// find returns the live processes of the run with the given role.
func (w *world) find(role string) []pinfo {
	var out []pinfo
	for _, p := range snapshot() {
		if p.live() && w.role(p) == role {
			out = append(out, p)
		}
	}
	return out
}

// zombieBound is how long a zombie child of svscan, supervise or multilog
// may stay unreaped. svscan reaps on SIGCHLD and after each supervise it
// starts, so a child waits at most one fork and exec of the pass under way,
// which under the suite's load can take a second or more; a child never
// reaped still fails. Children reaped after more than a second are
// reported, with their parent's signal state and threads.
const zombieBound = 6 * time.Second

// sigState returns the signal lines of /proc/PID/status and where each of
// pid's threads sleeps.
func sigState(pid int) string {
	var out []string
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "Sig") || strings.HasPrefix(l, "ShdPnd") || strings.HasPrefix(l, "State") {
			out = append(out, strings.Join(strings.Fields(l), " "))
		}
	}
	tids, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, t := range tids {
		w, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/wchan", pid, t.Name()))
		st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, t.Name()))
		blk := ""
		for _, l := range strings.Split(string(st), "\n") {
			if strings.HasPrefix(l, "SigBlk") || strings.HasPrefix(l, "SigPnd") {
				blk += " " + strings.Join(strings.Fields(l), " ")
			}
		}
		out = append(out, fmt.Sprintf("task %s %s%s", t.Name(), w, blk))
	}
	return strings.Join(out, "; ")
}

// wchan returns where the kernel says pid sleeps.
func wchan(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/wchan", pid))
	return string(b)
}

// sample checks, once, what must hold at every moment: at most one live
// producer per service, every status file exactly 18 bytes, no zombie child
// of the tree left unreaped for longer than zombieBound.
func (w *world) sample() {
	ps := snapshot()
	copies := map[string][]int{}
	tree := map[int]bool{}
	byPid := map[int]pinfo{}
	for _, p := range ps {
		r := w.role(p)
		if r == "" || !p.live() {
			continue
		}
		tree[p.pid] = true
		byPid[p.pid] = p
		if name, ok := strings.CutPrefix(r, "producer "); ok {
			copies[name] = append(copies[name], p.pid)
		}
	}
	now := time.Now()
	w.mu.Lock()
	w.samples++
	for name, pids := range copies {
		if len(pids) > w.maxCopies {
			w.maxCopies = len(pids)
		}
		if len(pids) > 1 {
			w.dupSeen[name]++
			if w.dupSeen[name] == 1 {
				var d []string
				for _, pid := range pids {
					q := byPid[pid]
					d = append(d, fmt.Sprintf("pid %d (parent %d, start %s, state %c)", pid, q.ppid, q.start, q.state))
				}
				for _, q := range byPid {
					if r := w.role(q); r == "supervise "+name {
						d = append(d, fmt.Sprintf("%s pid %d (parent %d, start %s)", r, q.pid, q.ppid, q.start))
					}
				}
				w.failures = append(w.failures, fmt.Sprintf("%s: %d live copies at once: %s; recent actions:\n\t%s",
					name, len(pids), strings.Join(d, ", "), strings.Join(w.hist[name], "\n\t")))
			}
		}
	}
	// Processes of the tree that came or went since the last sample, in
	// each service's history: what a lost line's report needs to know
	// (which multilog was reading, and when).
	for pid, p := range byPid {
		if !w.tree[pid] {
			if name := w.serviceOf(p); name != "" && p.prog() != "supervise" {
				w.noteLocked(name, "seen %s %d (parent %d, stdin %s, stdout %s)", w.role(p), pid, p.ppid, fdIdent(pid, 0), fdIdent(pid, 1))
			}
		}
	}
	for pid, r := range w.roles {
		if !tree[pid] {
			if name := w.serviceOfRole(r); name != "" && !strings.HasPrefix(r, "supervise ") {
				w.noteLocked(name, "gone %s %d", r, pid)
			}
		}
	}
	w.roles = map[int]string{}
	for pid, p := range byPid {
		w.roles[pid] = w.role(p)
	}
	seen := map[string]bool{}
	for _, p := range ps {
		if p.state != 'Z' || !(tree[p.ppid] || w.tree[p.ppid]) {
			continue
		}
		k := p.key()
		seen[k] = true
		if first, ok := w.zombies[k]; !ok {
			w.zombies[k] = now
		} else if now.Sub(first) > time.Second && !w.lateSeen[k] && len(w.lateReaps) < 20 {
			w.lateSeen[k] = true
			w.lateReaps = append(w.lateReaps, fmt.Sprintf("zombie %d of %d (%q) unreaped for %v: parent wchan %s, %s",
				p.pid, p.ppid, w.role(byPid[p.ppid]), now.Sub(first), wchan(p.ppid), sigState(p.ppid)))
		}
		if first, ok := w.zombies[k]; ok && now.Sub(first) > zombieBound && len(w.failures) < 50 {
			parent := byPid[p.ppid]
			w.failures = append(w.failures, fmt.Sprintf("zombie %d (parent %d, %q, state %c, wchan %s) unreaped for %v",
				p.pid, p.ppid, w.role(parent), parent.state, wchan(p.ppid), now.Sub(first)))
			w.zombies[k] = now.Add(time.Hour) // report once
		}
	}
	for k := range w.zombies {
		if !seen[k] {
			delete(w.zombies, k)
		}
	}
	w.tree = tree
	w.mu.Unlock()
	for _, name := range w.names {
		for _, dir := range []string{name, name + "/log"} {
			b, err := os.ReadFile(filepath.Join(w.scan, dir, svdir.StatusPath))
			if err != nil {
				if !os.IsNotExist(err) {
					w.failf("%s: reading status: %v", dir, err)
				}
				continue
			}
			w.mu.Lock()
			w.statusRead++
			w.mu.Unlock()
			if len(b) != svdir.StatusSize {
				w.failf("%s: status is %d bytes: %q", dir, len(b), b)
			} else if _, err := svdir.DecodeStatus(b); err != nil {
				w.failf("%s: status does not parse: %v", dir, err)
			}
		}
	}
}

// upPid returns the pid of a live run of dir according to its status file.
func (w *world) upPid(dir string) int {
	r, err := svdir.ReadStatusOf(filepath.Join(w.scan, dir))
	if err != nil || r.Pid == 0 || !testenv.Alive(r.Pid) {
		return 0
	}
	return r.Pid
}

func (w *world) svcCmd(opt, dir string) error {
	w.svcs++
	return exec.Command(w.svc, opt, filepath.Join(w.scan, dir)).Run()
}

// waitReleased waits (bounded) until pid has left /proc, so that its lock
// is free.
func waitReleased(pid int) {
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
			return
		}
		if !testenv.Alive(pid) {
			// A zombie of a dead parent: its lock is already released.
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// act does one random thing to the tree.
func (w *world) act(rng *rand.Rand, lastScanKill *time.Time) {
	name := w.names[rng.Intn(len(w.names))]
	x := rng.Intn(100)
	switch {
	case x < 2 && time.Since(*lastScanKill) > 2*time.Second:
		// svscan: SIGKILL and start the same command again. Its old
		// supervise processes keep running; the new one's fail on the
		// locks until those die.
		for _, n := range w.names {
			w.note(n, "svscan %d killed", w.scanProc.Pid())
		}
		w.scanProc.KillAndWait(w.t, syscall.SIGKILL)
		w.kills["svscan"]++
		w.startScan()
		*lastScanKill = time.Now()
	case x < 22:
		if pid := w.upPid(name); pid != 0 {
			syscall.Kill(pid, syscall.SIGKILL)
			w.kills["service"]++
			w.note(name, "service %d killed", pid)
		}
	case x < 35:
		if pid := w.upPid(name + "/log"); pid != 0 {
			syscall.Kill(pid, syscall.SIGKILL)
			w.kills["multilog"]++
			w.note(name, "multilog %d killed", pid)
			w.mlog[name]++
		}
	case x < 48 && w.inproc:
		// Under svscan -i the supervisors are svscan: killing them is
		// killing svscan, as above, at most every second.
		if time.Since(*lastScanKill) > time.Second {
			for _, n := range w.names {
				w.note(n, "svscan -i %d killed", w.scanProc.Pid())
			}
			w.scanProc.KillAndWait(w.t, syscall.SIGKILL)
			w.kills["svscan"]++
			w.startScan()
			*lastScanKill = time.Now()
		}
	case x < 48:
		// supervise of the service, of its logger, or both. The two
		// may then have been started by different svscan processes:
		// they still share one pipe, the FIFO supervise/logpipe.
		which := rng.Intn(3)
		var victims []pinfo
		if which != 1 {
			victims = append(victims, w.find("supervise "+name)...)
		}
		if which != 0 {
			victims = append(victims, w.find("supervise "+name+"/log")...)
		}
		if len(victims) == 0 {
			return
		}
		for _, p := range victims {
			syscall.Kill(p.pid, syscall.SIGKILL)
			w.kills["supervise"]++
			w.note(name, "%s %d (start %s) killed", w.role(p), p.pid, p.start)
		}
		for _, p := range victims {
			waitReleased(p.pid)
		}
		syscall.Kill(w.scanProc.Pid(), syscall.SIGALRM) // start them again now
	case x < 88:
		opts := []string{"-t", "-k", "-h", "-a", "-i", "-u", "-d", "-u", "-p", "-c", "-o", "-u", "-du", "-pc", "-tu"}
		opt := opts[rng.Intn(len(opts))]
		err := w.svcCmd(opt, name)
		w.note(name, "svc %s (%v)", opt, err)
	default:
		// A flood of harmless letters and unknown bytes into the FIFO.
		f, err := os.OpenFile(filepath.Join(w.scan, name, svdir.ControlPath), os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			return
		}
		const alphabet = "uachi\n Z9#\x00\xff"
		b := make([]byte, 4096+rng.Intn(8192))
		for i := range b {
			b[i] = alphabet[rng.Intn(len(alphabet))]
		}
		n, _ := f.Write(b)
		f.Close()
		w.flood += n
		w.note(name, "flood %d bytes", n)
	}
}

// durationEnv reads a duration from the environment.
func durationEnv(name string, def time.Duration) time.Duration {
	if s := os.Getenv(name); s != "" {
		if d, err := time.ParseDuration(s); err == nil {
			return d
		}
	}
	return def
}

// TestChaos: see TESTING.md, "Chaos test". CHAOS_DURATION (default 10s)
// sets the length of the chaos phase, CHAOS_SEED the random seed.
func TestChaos(t *testing.T) { chaos(t, false) }

// TestChaosInProcess is the chaos test with every supervisor hosted by
// svscan -i: the kills of supervise processes become kills of svscan.
func TestChaosInProcess(t *testing.T) {
	testenv.RequireCgroup(t)
	chaos(t, true)
}

func chaos(t *testing.T, inproc bool) {
	if testing.Short() {
		t.Skip("chaos run skipped in -short mode")
	}
	duration := durationEnv("CHAOS_DURATION", 10*time.Second)
	seed := time.Now().UnixNano()
	if s := os.Getenv("CHAOS_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	t.Logf("CHAOS_DURATION=%v CHAOS_SEED=%d", duration, seed)
	rng := rand.New(rand.NewSource(seed))

	w := newWorld(t, inproc)
	w.startScan()
	up := func(timeout time.Duration, what string) {
		t.Helper()
		var down []string
		deadline := time.Now().Add(timeout)
		for {
			down = down[:0]
			for _, name := range w.names {
				for _, dir := range []string{name, name + "/log"} {
					if w.upPid(dir) == 0 {
						down = append(down, dir)
					}
				}
			}
			if len(down) == 0 {
				return
			}
			if time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		// Say what each laggard's supervise shows, for the report.
		var d []string
		for _, dir := range down {
			r, err := svdir.ReadStatusOf(filepath.Join(w.scan, dir))
			rec, _ := os.ReadFile(filepath.Join(w.scan, dir, svdir.ProcessPath))
			d = append(d, fmt.Sprintf("%s: status %+v (%v), process %q, %d supervise, %d bytes waiting in supervise/control; recent actions:\n\t%s",
				dir, r, err, rec, len(w.find("supervise "+dir)), w.pendingControl(dir), strings.Join(w.hist[strings.TrimSuffix(dir, "/log")], "\n\t")))
		}
		t.Fatalf("timed out after %v waiting for %s:\n%s", timeout, what, strings.Join(d, "\n"))
	}
	up(10*time.Second, "all 20 services and their loggers up")

	// Descriptor counts of the supervise processes and svscan before the
	// chaos, by role.
	fdBase := map[string]int{}
	for _, name := range w.names {
		for _, r := range []string{"supervise " + name, "supervise " + name + "/log"} {
			if ps := w.find(r); len(ps) == 1 {
				fdBase[r] = testenv.FDCount(ps[0].pid)
			}
		}
	}
	scanFD := testenv.FDCount(w.scanProc.Pid())

	// The sampler runs during the whole chaos phase.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				w.sample()
			}
		}
	}()
	start := time.Now()
	var lastScanKill time.Time
	lastScanKill = start
	for time.Since(start) < duration {
		w.act(rng, &lastScanKill)
		time.Sleep(time.Duration(10+rng.Intn(40)) * time.Millisecond)
	}

	// Settle: every service wanted up again (u, and c for the paused),
	// and all of them up within 3 s.
	for _, name := range w.names {
		w.svcCmd("-uc", name)
		w.svcCmd("-uc", name+"/log")
	}
	syscall.Kill(w.scanProc.Pid(), syscall.SIGALRM)
	settle := time.Now()
	up(3*time.Second, "every service wanted up to be up")
	t.Logf("all up %v after the last command", time.Since(settle).Round(time.Millisecond))
	close(stop)
	wg.Wait()
	w.sample()

	// Descriptors: every supervise, old or new, holds no more than one
	// more than its role did before the chaos; the current svscan no more
	// than the first one.
	for _, name := range w.names {
		for _, r := range []string{"supervise " + name, "supervise " + name + "/log"} {
			for _, p := range w.find(r) {
				// A supervise may be writing its status at this instant:
				// a descriptor that goes away within a second is not a leak.
				n := testenv.FDCount(p.pid)
				for deadline := time.Now().Add(time.Second); n > fdBase[r]+1 && time.Now().Before(deadline); n = testenv.FDCount(p.pid) {
					time.Sleep(20 * time.Millisecond)
				}
				if n > fdBase[r]+1 {
					w.failf("%s (pid %d): %d descriptors, %d before the chaos: %v; recent actions:\n\t%s",
						r, p.pid, n, fdBase[r], fdList(p.pid), strings.Join(w.hist[name], "\n\t"))
				}
			}
		}
	}
	// svscan may be starting a supervise at this instant (ForkExec holds
	// a pipe until the exec), or reading its directory: a descriptor that
	// goes away within a second is not a leak.
	// Under -i it holds the supervisors' descriptors too: a supervisor
	// that adopted its service (after svscan was killed) watches it
	// through one more, its pidfd's copy.
	bound := scanFD + 1
	if w.inproc {
		bound += 2 * len(w.names)
	}
	n := testenv.FDCount(w.scanProc.Pid())
	for deadline := time.Now().Add(time.Second); n > bound && time.Now().Before(deadline); n = testenv.FDCount(w.scanProc.Pid()) {
		time.Sleep(20 * time.Millisecond)
	}
	if n > bound {
		w.failf("svscan: %d descriptors, %d before the chaos: %v", n, scanFD, fdList(w.scanProc.Pid()))
	}
	t.Logf("descriptors: svscan %d -> %d", scanFD, testenv.FDCount(w.scanProc.Pid()))

	// Stop: TERM to svscan -o, which takes down every supervise in order,
	// including those its predecessors started (they share the pipes), and
	// so exits 0. Each logger reads its pipe to the end before it exits.
	stopping := time.Now()
	syscall.Kill(w.scanProc.Pid(), syscall.SIGTERM)
	// What is still running a second into the stop, for the report of a
	// slow one.
	var slow []string
	for time.Since(stopping) < time.Second && !w.scanProc.Exited() {
		time.Sleep(10 * time.Millisecond)
	}
	if !w.scanProc.Exited() {
		for _, p := range snapshot() {
			if !w.ours(p) {
				continue
			}
			d := fmt.Sprintf("%d %c %s", p.pid, p.state, w.role(p))
			if dir, ok := strings.CutPrefix(w.role(p), "supervise "); ok {
				r, err := svdir.ReadStatusOf(filepath.Join(w.scan, dir))
				d += fmt.Sprintf(": status %+v %v", r, err)
				d += fmt.Sprintf(", %d bytes waiting in supervise/control", w.pendingControl(dir))
			}
			slow = append(slow, d)
		}
	}
	for end := time.Now().Add(20 * time.Second); !w.scanProc.Exited() && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	if !w.scanProc.Exited() {
		// Reported, not fatal: the logs are still checked below.
		w.failf("svscan -o still running 20 s after TERM; running 1 s into the stop:\n\t%s", strings.Join(slow, "\n\t"))
		w.scanProc.KillAndWait(t, syscall.SIGKILL)
	} else if code := w.scanProc.State().ExitCode(); code != 0 {
		var left []string
		for _, p := range snapshot() {
			if w.ours(p) {
				left = append(left, fmt.Sprintf("%d %v", p.pid, p.argv))
			}
		}
		w.failf("svscan -o exited %d after TERM: its ordered shutdown did not finish; running then: %v", code, left)
	}
	scanDone := time.Since(stopping)
	gone := func() bool {
		for _, p := range snapshot() {
			if w.ours(p) {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(5 * time.Second)
	for !gone() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !gone() {
		// Report, then stop what is left as an administrator would,
		// so that the logs can still be checked.
		w.failf("processes of the tree still running 5 s after svscan -o exited")
		for _, name := range w.names {
			w.svcCmd("-dx", name)
		}
		testenv.WaitFor(t, 15*time.Second, "every producer down", func() bool {
			for _, name := range w.names {
				if len(w.find("producer "+name)) > 0 {
					return false
				}
			}
			return true
		})
		for _, name := range w.names {
			w.svcCmd("-x", name+"/log")
		}
		testenv.WaitFor(t, 15*time.Second, "every process of the tree gone", gone)
	}
	t.Logf("stop: svscan -o exited after %v, the whole tree gone after %v",
		scanDone.Round(time.Millisecond), time.Since(stopping).Round(time.Millisecond))
	if len(slow) > 0 {
		t.Logf("running 1 s into the stop:\n\t%s", strings.Join(slow, "\n\t"))
	}

	// The logs.
	lines, lost, maxLoss, fragments, maybe := 0, 0, 0, 0, 0
	for _, name := range w.names {
		r := checkLog(t, w, name)
		lines += r.found
		lost += r.missing
		fragments += r.fragments
		maybe += r.maybe
		for _, run := range r.runs {
			maxLoss = max(maxLoss, run)
		}
		// multilog consumes from its pipe only what it has written, and
		// the pipe outlives every process but the service: no kill
		// loses a line.
		if len(r.runs) > 0 {
			w.failf("%s: %d lines lost in %d gaps (%v lines, from seqs %v; last written %d; %d multilog kills); lines before: %v; the log there: %v; recent actions:\n\t%s",
				name, r.missing, len(r.runs), r.runs, r.gaps, r.done, w.mlog[name], r.files, r.around, strings.Join(w.hist[name], "\n\t"))
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	t.Logf("chaos %v: kills %v, svc commands %d, %d bytes flooded; %d samples, %d status reads, max copies %d (samples with two copies, by service: %v)",
		duration, w.kills, w.svcs, w.flood, w.samples, w.statusRead, w.maxCopies, w.dupSeen)
	t.Logf("logs: %d lines checked in order, %d lost in %d multilog kills (max %d lines per kill), %d line fragments, %d seqs in doubt (producer killed mid-write)",
		lines, lost, w.kills["multilog"], maxLoss, fragments, maybe)
	if b, _ := os.ReadFile(filepath.Join(w.root, "svscan.err")); len(b) > 0 {
		// A new supervise failing on the lock its predecessor still
		// holds is expected after every kill; the rest is reported.
		var other []string
		for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
			if !strings.HasPrefix(l, "supervise: fatal: unable to acquire ") {
				other = append(other, l)
			}
		}
		t.Logf("svscan's stderr: %d bytes, %d lines besides the expected lock failures; the last of those:\n%s",
			len(b), len(other), tail(strings.Join(other, "\n"), 20))
	}
	if len(w.lateReaps) > 0 {
		t.Logf("children reaped more than a second after they exited:\n\t%s", strings.Join(w.lateReaps, "\n\t"))
	}
	for _, f := range w.failures {
		t.Error(f)
	}
	if keep := os.Getenv("CHAOS_KEEP"); keep != "" && len(w.failures) > 0 {
		// The whole tree (logs, states, svscan's stderr) for a post-mortem.
		dst := filepath.Join(keep, strconv.FormatInt(seed, 10))
		if out, err := exec.Command("cp", "-a", w.root, dst).CombinedOutput(); err != nil {
			t.Logf("CHAOS_KEEP: %v: %s", err, out)
		} else {
			for name, h := range w.hist {
				os.WriteFile(filepath.Join(dst, "hist-"+name), []byte(strings.Join(h, "\n")+"\n"), 0644)
			}
			t.Logf("CHAOS_KEEP: the tree is kept in %s", dst)
		}
	}
}

// aroundGap shows the stream's bytes from the line at off to 80 bytes
// beyond it, with "|NAME|" where each file starts.
func aroundGap(stream []byte, starts []int, files []string, off int) string {
	end := min(len(stream), off+80)
	var b strings.Builder
	for i := off; i < end; i++ {
		for k, st := range starts {
			if st == i && i > off {
				fmt.Fprintf(&b, "|%s|", files[k])
			}
		}
		b.WriteByte(stream[i])
	}
	return strconv.Quote(b.String())
}

func tail(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

type logResult struct {
	found, missing, fragments, maybe int
	runs                             []int   // lengths of the runs of missing seqs
	gaps                             []int64 // the first seq of each run
	done                             int64
	files                            []string // the file holding the line before each gap
	around                           []string // the bytes about each gap, with file boundaries marked
}

// checkLog reads svcNN/log/main (archives in name order, then current) and
// checks the seqs: strictly increasing, and every seq up to the producer's
// last completed write present, except seqs whose write was interrupted by
// a kill (STATE.maybe). A killed multilog leaves no gap.
func checkLog(t *testing.T, w *world, name string) logResult {
	t.Helper()
	dir := filepath.Join(w.scan, name, "log", "main")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "@") && (strings.HasSuffix(e.Name(), ".s") || strings.HasSuffix(e.Name(), ".u")) {
			files = append(files, e.Name())
		}
	}
	sort.Strings(files)
	files = append(files, "current")
	var r logResult
	var seqs []int64
	where := map[int64]string{} // seq -> file, for the report
	at := map[int64]int{}       // seq -> offset of its line in the stream
	prefix := name + " "
	// The files are read as one stream: a line that a killed multilog
	// had written in part ends a .u archive, and the next multilog, which
	// finds the rest in the pipe, starts current with it.
	var stream []byte
	var starts []int // offset in stream where each file starts
	for _, fn := range files {
		b, err := os.ReadFile(filepath.Join(dir, fn))
		if err != nil {
			if fn == "current" && os.IsNotExist(err) {
				starts = append(starts, len(stream))
				continue
			}
			t.Fatal(err)
		}
		starts = append(starts, len(stream))
		stream = append(stream, b...)
	}
	fileAt := func(off int) string {
		i := sort.Search(len(starts), func(i int) bool { return starts[i] > off }) - 1
		return files[max(i, 0)]
	}
	off := 0
	ls := strings.Split(string(stream), "\n")
	if ls[len(ls)-1] != "" {
		r.fragments++ // a last line without its end
	}
	ls = ls[:len(ls)-1]
	for _, l := range ls {
		s, ok := strings.CutPrefix(l, prefix)
		n, err := strconv.ParseInt(s, 10, 64)
		if !ok || err != nil || n <= 0 || strconv.FormatInt(n, 10) != s {
			r.fragments++
		} else {
			seqs = append(seqs, n)
			where[n] = fileAt(off)
			at[n] = off
		}
		off += len(l) + 1
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			w.failf("%s: seq %d follows %d (duplicate or out of order)", name, seqs[i], seqs[i-1])
			break
		}
	}
	var st [40]byte
	f, err := os.Open(filepath.Join(w.stateDir, name))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := f.ReadAt(st[:], 0)
	f.Close()
	done, _ := strconv.ParseInt(strings.TrimSpace(string(st[20:n])), 10, 64)
	attempt, _ := strconv.ParseInt(strings.TrimSpace(string(st[:min(n, 20)])), 10, 64)
	doubt := map[int64]bool{}
	if attempt > done {
		// The last producer was stopped between its write and its
		// record of it: that line may or may not be in the log.
		doubt[attempt] = true
	}
	if b, err := os.ReadFile(filepath.Join(w.stateDir, name+".maybe")); err == nil {
		for _, l := range strings.Fields(string(b)) {
			v, _ := strconv.ParseInt(l, 10, 64)
			doubt[v] = true
		}
	}
	r.maybe = len(doubt)
	r.done = done
	have := map[int64]bool{}
	for _, s := range seqs {
		have[s] = true
		if s > done && !doubt[s] {
			w.failf("%s: seq %d in the log, beyond the producer's last write %d", name, s, done)
		}
	}
	r.found = len(seqs)
	run := 0
	for s := int64(1); s <= done; s++ {
		if doubt[s] && !have[s] {
			continue // neither breaks nor extends a gap
		}
		if have[s] {
			if run > 0 {
				r.runs = append(r.runs, run)
				run = 0
			}
			continue
		}
		if run == 0 {
			r.gaps = append(r.gaps, s)
			r.files = append(r.files, where[s-1]+" .. "+fmt.Sprint(s-1))
			r.around = append(r.around, aroundGap(stream, starts, files, at[s-1]))
		}
		r.missing++
		run++
	}
	if run > 0 {
		r.runs = append(r.runs, run)
	}
	if done < 10 {
		w.failf("%s: the producer wrote only %d lines", name, done)
	}
	return r
}
