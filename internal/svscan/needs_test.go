package svscan_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"svkit/internal/testenv"
)

// stopRecorder is a run script that says hello on its log, and on TERM
// records the nanosecond in root/stop-NAME, takes 0.3 s to stop, records
// that moment in root/gone-NAME and says goodbye.
func stopRecorder(root, name string) string {
	return "trap 'date +%s%N > " + root + "/stop-" + name + "; sleep 0.3; date +%s%N > " + root + "/gone-" + name +
		"; echo bye " + name + "; kill $!; exit 0' TERM\n" +
		"echo hello " + name + "\nsleep 1000 &\nwait\n"
}

// svscan -o stops a chain c -> b -> a (c needs b, b needs a) dependents
// first: c, then b, then a, each waited for; then the loggers, which keep
// every line.
func TestOrderedShutdownNeeds(t *testing.T) {
	tr := newTree(t, svkitPair)
	names := []string{"a", "b", "c", "free"}
	for _, n := range names {
		tr.service(n, stopRecorder(tr.root, n), "exec cat >> "+filepath.Join(tr.root, n+".out")+"\n")
	}
	for _, l := range [][2]string{{"b", "a"}, {"c", "b"}} {
		os.MkdirAll(filepath.Join(tr.scan, l[0], "needs"), 0755)
		if err := os.Symlink("../../"+l[1], filepath.Join(tr.scan, l[0], "needs", l[1])); err != nil {
			t.Fatal(err)
		}
	}
	p := tr.start(testenv.Prog(t, "svscan"), "-o", "-k", "30")
	for _, n := range names {
		testenv.WaitFor(t, 30*time.Second, n+" logging", func() bool {
			b, _ := os.ReadFile(filepath.Join(tr.root, n+".out"))
			return strings.Contains(string(b), "hello "+n)
		})
	}
	syscall.Kill(p.Pid(), syscall.SIGTERM)
	if code := p.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("svscan -o exited %d; stderr: %s", code, tr.stderr())
	}
	stop, gone := map[string]int64{}, map[string]int64{}
	for _, n := range names {
		stop[n], gone[n] = stamp(t, tr.root, "stop-"+n), stamp(t, tr.root, "gone-"+n)
		out, _ := os.ReadFile(filepath.Join(tr.root, n+".out"))
		if string(out) != "hello "+n+"\nbye "+n+"\n" {
			t.Errorf("%s's log: %q", n, out)
		}
	}
	// Each is told to stop only once what needs it is gone.
	if stop["b"] < gone["c"] || stop["a"] < gone["b"] {
		t.Errorf("stop order: c %d-%d, b %d-%d, a %d-%d", stop["c"], gone["c"], stop["b"], gone["b"], stop["a"], gone["a"])
	}
	// free needs nothing and nothing needs it: it goes with the first.
	if stop["free"] > gone["c"] {
		t.Errorf("free stopped at %d, after c was gone at %d", stop["free"], gone["c"])
	}
	if s := tr.stderr(); s != "" {
		t.Errorf("svscan wrote %q", s)
	}
}

// stamp reads the nanosecond a run recorded in root/name.
func stamp(t *testing.T, root, name string) int64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, name))
	v, err2 := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || err2 != nil {
		t.Fatalf("no record %s: %q %v", name, b, err)
	}
	return v
}

// A cycle is said once and does not hold the shutdown up.
func TestOrderedShutdownCycle(t *testing.T) {
	tr := newTree(t, svkitPair)
	for _, n := range []string{"a", "b"} {
		tr.service(n, stopRecorder(tr.root, n), "")
	}
	for _, l := range [][2]string{{"a", "b"}, {"b", "a"}} {
		os.MkdirAll(filepath.Join(tr.scan, l[0], "needs"), 0755)
		os.Symlink("../../"+l[1], filepath.Join(tr.scan, l[0], "needs", l[1]))
	}
	p := tr.start(testenv.Prog(t, "svscan"), "-o", "-k", "30")
	waitUp(t, filepath.Join(tr.scan, "a"), 30*time.Second)
	waitUp(t, filepath.Join(tr.scan, "b"), 30*time.Second)
	syscall.Kill(p.Pid(), syscall.SIGTERM)
	if code := p.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("svscan -o exited %d; stderr: %s", code, tr.stderr())
	}
	if s := tr.stderr(); !strings.Contains(s, "svscan: warning: needs cycle: a -> b -> a\n") {
		t.Errorf("stderr %q", s)
	}
}

// 200 services in a random DAG of depth 10 come up under svscan in a valid
// order (each after every service it needs said it was ready) and svscan
// -o stops them in the reverse (each before every service it needs).
func TestNeedsDAG200(t *testing.T) {
	const n, depth = 200, 10
	tr := newTree(t, svkitPair)
	marks := filepath.Join(tr.root, "marks")
	os.Mkdir(marks, 0755)
	rng := rand.New(rand.NewPCG(19, 76))
	level := make([]int, n)
	byLevel := make([][]int, depth)
	for i := range n {
		level[i] = i * depth / n
		byLevel[level[i]] = append(byLevel[level[i]], i)
	}
	name := func(i int) string { return fmt.Sprintf("s%03d", i) }
	need := make([][]int, n)
	for i := range n {
		if level[i] == 0 {
			continue
		}
		prev := byLevel[level[i]-1]
		need[i] = append(need[i], prev[rng.IntN(len(prev))])
		for k := rng.IntN(3); k > 0; k-- {
			j := rng.IntN(i * depth / n * n / depth) // any lower level
			if !slices.Contains(need[i], j) {
				need[i] = append(need[i], j)
			}
		}
	}
	for i := range n {
		m := filepath.Join(marks, name(i))
		run := "trap 'date +%s%N > " + m + ".stop; kill $!; exit 0' TERM\n" +
			"date +%s%N > " + m + ".start\ndate +%s%N > " + m + ".ready\necho >&5\nsleep 1000 &\nwait\n"
		stage := filepath.Join(tr.root, "stage-"+name(i))
		testenv.WriteScript(t, filepath.Join(stage, "run"), run)
		os.WriteFile(filepath.Join(stage, "notification-fd"), []byte("5\n"), 0644)
		os.Mkdir(filepath.Join(stage, "needs"), 0755)
		for _, j := range need[i] {
			os.Symlink("../../"+name(j), filepath.Join(stage, "needs", name(j)))
		}
	}
	// Into the scan directory in a shuffled order: dependents may come
	// first.
	for _, i := range rng.Perm(n) {
		if err := os.Rename(filepath.Join(tr.root, "stage-"+name(i)), filepath.Join(tr.scan, name(i))); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now()
	p := tr.start(testenv.Prog(t, "svscan"), "-o", "-k", "60")
	stamp := func(i int, what string) int64 {
		b, err := os.ReadFile(filepath.Join(marks, name(i)+"."+what))
		v, err2 := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || err2 != nil {
			return 0
		}
		return v
	}
	testenv.WaitFor(t, 60*time.Second, "200 services up", func() bool {
		for i := range n {
			if stamp(i, "start") == 0 {
				return false
			}
		}
		return true
	})
	t.Logf("200 services up after %v", time.Since(t0))
	for i := range n {
		for _, j := range need[i] {
			// j's run wrote .ready just before it said so.
			if stamp(i, "start") < stamp(j, "ready") {
				t.Errorf("%s started before %s, which it needs", name(i), name(j))
			}
		}
	}
	t0 = time.Now()
	syscall.Kill(p.Pid(), syscall.SIGTERM)
	if code := p.Wait(t, 60*time.Second); code != 0 {
		t.Fatalf("svscan -o exited %d; stderr: %s", code, tr.stderr())
	}
	t.Logf("shut down in %v", time.Since(t0))
	for i := range n {
		for _, j := range need[i] {
			if si, sj := stamp(i, "stop"), stamp(j, "stop"); si == 0 || sj == 0 || si > sj {
				t.Errorf("%s stopped at %d, %s which it needs at %d", name(i), si, name(j), sj)
			}
		}
	}
}
