package packaging

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"svkit/internal/testenv"
)

const (
	quickBegin = "<!-- quickstart: begin -->"
	quickEnd   = "<!-- quickstart: end -->"
)

// quickStart returns the shell commands of the README's quick start: the
// fenced sh block between the quickstart markers.
func quickStart(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.Root(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, quickBegin)
	j := strings.Index(s, quickEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md has no %s ... %s section", quickBegin, quickEnd)
	}
	m := regexp.MustCompile("(?s)```sh\n(.*?)```").FindStringSubmatch(s[i:j])
	if m == nil {
		t.Fatalf("README.md's quick start has no ```sh block")
	}
	return m[1]
}

// sandboxable are the absolute paths the quick start may use; the test
// moves /usr/local and /service into a temporary root (and runs
// package/install with DESTDIR set to it).
var (
	absPath     = regexp.MustCompile(`(^|[\s"'=<>:(])(/[A-Za-z][^\s"';:)]*)`)
	sandboxable = regexp.MustCompile(`^(/usr/local(/|$)|/service(/|$)|/bin/sh$)`)
	movable     = regexp.MustCompile(`(^|[\s"'=<>:(])(/usr/local|/service)\b`)
)

// TestReadmeQuickStart runs the README's quick start, as written, in a
// temporary root: install, make a service, start svscan, see it run, read
// its log with readable times. So the README cannot rot.
func TestReadmeQuickStart(t *testing.T) {
	block := quickStart(t)
	for _, m := range absPath.FindAllStringSubmatch(block, -1) {
		if !sandboxable.MatchString(m[2]) {
			t.Fatalf("the quick start uses %s; the test can only sandbox /usr/local and /service", m[2])
		}
	}
	for _, need := range []string{"package/install", "svscan ", "svstat ", "tai64nlocal ", "multilog t ./main"} {
		if !strings.Contains(block, need) {
			t.Errorf("the quick start does not use %q", need)
		}
	}
	root := t.TempDir()
	sandboxed := movable.ReplaceAllString(block, "${1}"+root+"${2}")
	pidFile := filepath.Join(root, "svscan.pid")
	scriptFile := filepath.Join(root, "quickstart.sh")
	body := sandboxed + "\necho \"$!\" > '" + pidFile + "'\n"
	if err := os.WriteFile(scriptFile, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "usr/local/bin")
	scan := filepath.Join(root, "service")
	t.Cleanup(func() {
		pid := 0
		if b, err := os.ReadFile(pidFile); err == nil {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		if pid == 0 {
			testenv.KillUnder(t, root)
			return
		}
		stopTree(t, bin, root, scan, pid)
	})

	out, errs, code := script(t, 5*time.Minute, []string{"DESTDIR=" + root}, "/bin/sh", "-eu", scriptFile)
	if code != 0 {
		t.Fatalf("the quick start failed (exit %d)\nscript:\n%s\nstdout:\n%s\nstderr:\n%s", code, sandboxed, out, errs)
	}
	for _, want := range []string{scan + "/hello: up (pid ", scan + "/hello/log: up (pid "} {
		if !strings.Contains(out, want) {
			t.Errorf("the quick start's svstat did not show %q:\n%s\nstderr:\n%s", want, out, errs)
		}
	}
	if !regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9} hello`).MatchString(out) {
		t.Errorf("the quick start did not show log lines with readable times:\n%s\nstderr:\n%s", out, errs)
	}
	checkInstalled(t, bin, filepath.Join(root, "usr/local/share/man/man8"))
	for _, p := range Programs {
		checkStatic(t, filepath.Join(bin, p))
	}
}
