package svdir

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"svkit/pkg/tai64"
)

func TestReadNeeds(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"a", "db", "b/needs", "b/binds"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(root, "pid"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0644)
	for link, target := range map[string]string{
		"b/needs/a":     "../../a",
		"b/needs/a2":    "../../a", // the same service again
		"b/needs/gone":  "../../nothing",
		"b/needs/pid":   "../../pid",
		"b/needs/null":  "/dev/null",
		"b/binds/db":    "../../db",
		"b/binds/a-too": "../../a",
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ReadNeeds(filepath.Join(root, "b"))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name string
		kind NeedKind
		bind bool
	}{{"a", NeedService, true}, {"gone", NeedMissing, false}, {"null", NeedOther, false}, {"pid", NeedPidFile, false}, {"db", NeedService, true}}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i, w := range want {
		if got[i].Name != w.name || got[i].Kind != w.kind || got[i].Bind != w.bind {
			t.Errorf("need %d: %+v, want %+v", i, got[i], w)
		}
	}
	if p := got[1].Problem(); p != "does not exist: file does not exist" {
		t.Errorf("problem %q", p)
	}
	if !PidFileLive(filepath.Join(root, "pid")) {
		t.Error("own pid not live")
	}
	if none, err := ReadNeeds(filepath.Join(root, "a")); err != nil || len(none) != 0 {
		t.Errorf("no needs: %v %v", none, err)
	}
}

func TestStateReady(t *testing.T) {
	now := time.Unix(1700000000, 0)
	label := func(t time.Time) tai64.Label { return tai64.FromTime(t) }
	up := Status{Pid: 5, When: label(now.Add(-2 * time.Second)), Want: WantUp}
	young := Status{Pid: 5, When: label(now.Add(-300 * time.Millisecond)), Want: WantUp}
	down := Status{When: label(now), Want: WantDown}
	cases := []struct {
		name  string
		s     State
		ready bool
		wake  bool
	}{
		{"0.76 up 2 s", State{Status: up}, true, false},
		{"0.76 up 0.3 s", State{Status: young}, false, true},
		{"protocol ready", State{Status: young, Info: &Info{Pid: 5, Ready: true, Protocol: true}, Current: true}, true, false},
		{"protocol not ready", State{Status: up, Info: &Info{Pid: 5}, Current: true}, false, false},
		{"no protocol, ready 0.5 s", State{Status: young, Info: &Info{Pid: 5, Ready: true, ReadySince: now.Add(-500 * time.Millisecond).UnixNano()}, Current: true}, false, true},
		{"no protocol, ready 1 s", State{Status: young, Info: &Info{Pid: 5, Ready: true, ReadySince: now.Add(-time.Second).UnixNano()}, Current: true}, true, false},
		{"down", State{Status: down, Info: &Info{}, Current: true}, false, false},
		{"once ok", State{Status: down, Info: &Info{OnceOK: true}, Current: true}, true, false},
		{"once ok, stale", State{Status: down, Info: &Info{OnceOK: true}}, false, false},
	}
	for _, c := range cases {
		r, w := StateReady(c.s, now)
		if r != c.ready || w.IsZero() == c.wake {
			t.Errorf("%s: ready %v wake %v", c.name, r, w)
		}
	}
}

func TestParsePid(t *testing.T) {
	for in, want := range map[string]int{"123\n": 123, "77": 77, " 5": 0, "1": 0, "0": 0, "": 0, "12a": 0, "99999999999": 0} {
		got, ok := ParsePid([]byte(in))
		if got != want || ok != (want != 0) {
			t.Errorf("%q: %d %v", in, got, ok)
		}
	}
}

func FuzzParsePid(f *testing.F) {
	for _, s := range []string{"123\n", "1", "", "x", "4194304"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pid, ok := ParsePid(b)
		if ok && (pid <= 1 || pid > 1<<22) {
			t.Fatalf("%q: %d", b, pid)
		}
	})
}
