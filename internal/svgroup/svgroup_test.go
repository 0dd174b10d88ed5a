package svgroup_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"svkit/internal/testenv"
	"svkit/pkg/svdir"
)

// chain makes a <- b <- c (c needs b, b needs a) under root, each run
// appending "start NAME" to root/events when it starts and "stop NAME" on
// TERM; a and b say ready on fd 5 after 0.2 s, c declares no protocol.
func chain(t *testing.T, root string) []string {
	t.Helper()
	ev := filepath.Join(root, "events")
	var dirs []string
	for _, n := range []string{"a", "b", "c"} {
		dir := filepath.Join(root, n)
		run := "trap 'echo stop " + n + " >> " + ev + "; kill $!; exit 0' TERM\necho start " + n + " >> " + ev + "\n"
		if n != "c" {
			run += "sleep 0.2\necho >&5\n"
			os.MkdirAll(dir, 0755)
			os.WriteFile(filepath.Join(dir, "notification-fd"), []byte("5\n"), 0644)
		}
		run += "sleep 1000 &\nwait\n"
		testenv.WriteScript(t, filepath.Join(dir, "run"), run)
		dirs = append(dirs, dir)
	}
	testenv.NeedLink(t, root, "b", "needs", "a")
	testenv.NeedLink(t, root, "c", "needs", "b")
	return dirs
}

func events(root string) []string {
	b, _ := os.ReadFile(filepath.Join(root, "events"))
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// svgroup -t on the chain stops c, b, a, each waited for, then starts a,
// b, c, each waited for until ready; -d stops all, dependents first.
func TestRestartChain(t *testing.T) {
	root := t.TempDir()
	dirs := chain(t, root)
	sv := testenv.Prog(t, "supervise")
	for _, d := range dirs {
		os.WriteFile(filepath.Join(d, "down"), nil, 0644)
		testenv.StartSupervise(t, sv, d)
	}
	group := testenv.Prog(t, "svgroup")
	// Given in any order, started in dependency order.
	if out, errs, code := testenv.Run(t, root, "", group, "-u", dirs[2], dirs[0], dirs[1]); code != 0 || out != "" || errs != "" {
		t.Fatalf("svgroup -u: %d %q %q", code, out, errs)
	}
	if got := strings.Join(events(root), ","); got != "start a,start b,start c" {
		t.Fatalf("-u events: %s", got)
	}
	for _, d := range dirs {
		if r, _ := svdir.ReadStatusOf(d); r.Pid == 0 {
			t.Errorf("%s not up after svgroup -u", d)
		}
	}
	os.Remove(filepath.Join(root, "events"))
	if _, errs, code := testenv.Run(t, root, "", group, append([]string{"-t"}, dirs...)...); code != 0 || errs != "" {
		t.Fatalf("svgroup -t: %d %q", code, errs)
	}
	if got := strings.Join(events(root), ","); got != "stop c,stop b,stop a,start a,start b,start c" {
		t.Errorf("-t events: %s", got)
	}
	os.Remove(filepath.Join(root, "events"))
	if _, errs, code := testenv.Run(t, root, "", group, append([]string{"-d"}, dirs...)...); code != 0 || errs != "" {
		t.Fatalf("svgroup -d: %d %q", code, errs)
	}
	if got := strings.Join(events(root), ","); got != "stop c,stop b,stop a" {
		t.Errorf("-d events: %s", got)
	}
	for _, d := range dirs {
		if r, _ := svdir.ReadStatusOf(d); r.Pid != 0 {
			t.Errorf("%s up after svgroup -d", d)
		}
	}
}

func TestUsageAndUnsupervised(t *testing.T) {
	root := t.TempDir()
	group := testenv.Prog(t, "svgroup")
	for _, args := range [][]string{{}, {"-u"}, {"-x", root}, {root}} {
		if _, errs, code := testenv.Run(t, root, "", group, args...); code != 100 || errs != "svgroup: usage: svgroup -u|-d|-t dir...\n" && !strings.HasPrefix(errs, "svgroup: illegal option") {
			t.Errorf("%q: %d %q", args, code, errs)
		}
	}
	dir := filepath.Join(root, "x")
	testenv.WriteScript(t, filepath.Join(dir, "run"), "exec sleep 100\n")
	os.MkdirAll(filepath.Join(dir, "supervise"), 0700)
	syscall.Mkfifo(filepath.Join(dir, "supervise", "ok"), 0600)
	start := time.Now()
	if _, errs, code := testenv.Run(t, root, "", group, "-u", dir); code != 111 || errs != "svgroup: fatal: unable to control "+dir+": supervise not running\n" {
		t.Errorf("unsupervised: %d %q", code, errs)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("took too long")
	}
}
