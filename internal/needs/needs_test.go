package needs

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"svkit/internal/testenv"
)

// tree makes root/NAME for each name and, for each link {from, to}, the
// link root/from/needs/to: from needs to.
func tree(t *testing.T, names []string, links [][2]string) string {
	t.Helper()
	root := t.TempDir()
	for _, n := range names {
		os.MkdirAll(filepath.Join(root, n, "needs"), 0755)
	}
	for _, l := range links {
		testenv.NeedLink(t, root, l[0], "needs", l[1])
	}
	return root
}

func TestBuildLevels(t *testing.T) {
	// d needs c and a; c needs b; b needs a; e is free; f needs outside.
	root := tree(t, []string{"a", "b", "c", "d", "e", "f", "outside"},
		[][2]string{{"b", "a"}, {"c", "b"}, {"d", "c"}, {"d", "a"}, {"f", "outside"}})
	names := []string{"d", "c", "b", "a", "e", "f"}
	dirs := make([]string, len(names))
	for i, n := range names {
		dirs[i] = filepath.Join(root, n)
	}
	g := Build(dirs)
	if len(g.Cycle) != 0 {
		t.Errorf("cycles %v", g.Cycle)
	}
	if got, want := g.Levels(), []int{3, 2, 1, 0, 0, 0}; !slices.Equal(got, want) {
		t.Errorf("levels %v, want %v", got, want)
	}
	dep := g.Dependents()
	if !slices.Equal(dep[3], []int{0, 2}) { // a: needed by d and b
		t.Errorf("dependents of a: %v", dep[3])
	}
	if w := g.Waves(); len(w) != 4 || !slices.Equal(w[0], []int{3, 4, 5}) {
		t.Errorf("waves %v", w)
	}
	// Stopping: d, e and f (nothing needs them) first, a last.
	if w := g.StopWaves(); len(w) != 4 || !slices.Equal(w[0], []int{0, 4, 5}) || !slices.Equal(w[3], []int{3}) {
		t.Errorf("stop waves %v", w)
	}
}

func TestCycles(t *testing.T) {
	root := tree(t, []string{"a", "b", "c"}, [][2]string{{"a", "b"}, {"b", "c"}, {"c", "a"}})
	got := Cycles(filepath.Join(root, "a"), "a")
	if got["b"] != "a -> b -> c -> a" || len(got) != 1 {
		t.Errorf("cycles of a: %v", got)
	}
	g := Build([]string{filepath.Join(root, "a"), filepath.Join(root, "b"), filepath.Join(root, "c")})
	if !slices.Equal(g.Cycle, []string{"a -> b -> c -> a"}) {
		t.Errorf("graph cycles %v", g.Cycle)
	}
	// The link that closed the cycle is dropped: the rest is ordered.
	if got := g.Levels(); !slices.Equal(got, []int{2, 1, 0}) {
		t.Errorf("levels %v", got)
	}
	if none := Cycles(filepath.Join(root, "nothing"), "x"); none != nil {
		t.Errorf("cycles of a missing dir: %v", none)
	}
}

// Wait returns at once when the condition holds, and at the moment a
// condition names when only time is missing: no change is needed.
func TestWaitDeadline(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "supervise"), 0700)
	at := time.Now().Add(150 * time.Millisecond)
	start := time.Now()
	err := Wait([]string{dir}, func(string, time.Time) (bool, time.Time) {
		if time.Now().Before(at) {
			return false, at
		}
		return true, time.Time{}
	})
	if err != nil || time.Since(start) < 150*time.Millisecond || time.Since(start) > 5*time.Second {
		t.Errorf("Wait: %v after %v", err, time.Since(start))
	}
}
