package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"svkit/internal/testenv"
)

// manPage returns the source of program p's page; a missing page is an
// error of the test and gives false.
func manPage(t *testing.T, p string) (string, bool) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.Root(), "package/man", p+".8"))
	if err != nil {
		t.Errorf("no man page for %s: %v", p, err)
		return "", false
	}
	return string(b), true
}

// manPages writes every page with the version filled in, as package/install
// does, into a temporary directory and returns it.
func manPages(t *testing.T) string {
	t.Helper()
	v := version(t)
	dir := t.TempDir()
	for _, p := range Programs {
		s, ok := manPage(t, p)
		if !ok {
			continue
		}
		if !strings.Contains(s, `"svkit `+v+`"`) {
			t.Errorf("%s.8 does not carry package/version's %s in its title line", p, v)
		}
		if err := os.WriteFile(filepath.Join(dir, p+".8"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestManPagesMatchPrograms: one page per program, no page without one.
func TestManPagesMatchPrograms(t *testing.T) {
	pages, _ := filepath.Glob(filepath.Join(testenv.Root(), "package/man/*.8"))
	var got []string
	for _, p := range pages {
		got = append(got, strings.TrimSuffix(filepath.Base(p), ".8"))
	}
	want := append([]string(nil), Programs...)
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("man pages %v, want one per program %v", got, want)
	}
	cmds, _ := filepath.Glob(filepath.Join(testenv.Root(), "cmd/*/main.go"))
	for _, c := range cmds {
		name := filepath.Base(filepath.Dir(c))
		if _, err := os.Stat(filepath.Join(testenv.Root(), "package/man", name+".8")); err != nil {
			t.Errorf("cmd/%s has no man page package/man/%s.8", name, name)
		}
	}
}

// TestManPagesContent checks the structure every page promises: the title
// line with the version placeholder, the NAME line, and the sections a
// Unix tool's page has, including the differences from daemontools 0.76.
func TestManPagesContent(t *testing.T) {
	for _, p := range Programs {
		s, ok := manPage(t, p)
		if !ok {
			continue
		}
		v := version(t)
		th := regexp.MustCompile(`(?m)^\.TH ` + strings.ToUpper(p) + ` 8 \d{4}-\d\d-\d\d "svkit ` + regexp.QuoteMeta(v) + `" "svkit"$`)
		if !th.MatchString(s) {
			t.Errorf("%s.8: no .TH %s 8 DATE \"svkit %s\" \"svkit\" line (package/version)", p, strings.ToUpper(p), v)
		}
		if !regexp.MustCompile(`(?m)^\.SH NAME\n` + regexp.QuoteMeta(p) + ` \\- \S`).MatchString(s) {
			t.Errorf("%s.8: NAME section does not start with %q", p, p+` \- ...`)
		}
		for _, sec := range []string{"SYNOPSIS", "DESCRIPTION", "EXIT STATUS", "DIFFERENCES FROM DAEMONTOOLS 0.76", "SEE ALSO"} {
			if !strings.Contains(s, "\n.SH \""+sec+"\"\n") && !strings.Contains(s, "\n.SH "+sec+"\n") {
				t.Errorf("%s.8: no %s section", p, sec)
			}
		}
	}
}

// TestManPagesLint: every page is clean under mandoc -T lint -W warning and
// groff -ww, and renders with man -l showing the version.
func TestManPagesLint(t *testing.T) {
	dir := manPages(t)
	v := version(t)
	mandoc, err := exec.LookPath("mandoc")
	testenv.Require(t, err == nil, "mandoc is not installed (apt-get install mandoc)")
	for _, p := range Programs {
		f := filepath.Join(dir, p+".8")
		out, err := exec.Command(mandoc, "-T", "lint", "-W", "warning", f).CombinedOutput()
		if err != nil || len(out) != 0 {
			t.Errorf("mandoc -T lint -W warning %s.8: %v\n%s", p, err, out)
		}
	}
	if groff, err := exec.LookPath("groff"); err == nil {
		for _, p := range Programs {
			f := filepath.Join(dir, p+".8")
			out, err := exec.Command(groff, "-man", "-ww", "-z", "-Tutf8", f).CombinedOutput()
			if err != nil || len(out) != 0 {
				t.Errorf("groff -man -ww %s.8: %v\n%s", p, err, out)
			}
		}
	} else {
		t.Logf("groff is not installed; pages checked with mandoc only")
	}
	man, err := exec.LookPath("man")
	if err != nil {
		t.Logf("man is not installed; man -l not tried")
		return
	}
	for _, p := range Programs {
		cmd := exec.Command(man, "-l", filepath.Join(dir, p+".8"))
		cmd.Env = append(baseEnv(), "MANPAGER=cat", "PAGER=cat", "MANWIDTH=80", "LANG=C.UTF-8")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "svkit "+v) || !strings.Contains(string(out), "EXIT STATUS") {
			t.Errorf("man -l %s.8: %v\n%s", p, err, out)
		}
	}
}
