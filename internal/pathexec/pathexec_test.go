package pathexec

import (
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

// TestCandidates: the places execvp tries for a file, in PATH's order; an
// empty entry is the current directory and a name with a slash is taken as
// it is.
func TestCandidates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file, path string
		want       []string
	}{
		{"ls", "/bin:/usr/bin", []string{"/bin/ls", "/usr/bin/ls"}},
		{"ls", "", []string{"./ls"}},
		{"ls", ":/bin:", []string{"./ls", "/bin/ls", "./ls"}},
		{"a/ls", "/bin", []string{"a/ls"}},
		{"/bin/ls", "/x", []string{"/bin/ls"}},
		{"", "/bin", []string{"/bin/"}},
	} {
		if got := Candidates(tc.file, tc.path); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Candidates(%q, %q) = %q, want %q", tc.file, tc.path, got, tc.want)
		}
	}
}

func TestSearchPath(t *testing.T) {
	t.Parallel()
	if got := SearchPath([]string{"X=1"}); got != DefaultPath {
		t.Errorf("unset PATH: %q", got)
	}
	if got := SearchPath([]string{"PATHX=1", "PATH=", "PATH=/b"}); got != "" {
		t.Errorf("first PATH wins, even empty: %q", got)
	}
}

func TestMerge(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env, plus, want []string
	}{
		{[]string{"A=1", "B=2", "C=3"}, []string{"A=x"}, []string{"C=3", "B=2", "A=x"}},
		{[]string{"A=1", "B=2", "C=3"}, []string{"B"}, []string{"A=1", "C=3"}},
		{[]string{"A=1", "A=2"}, []string{"A=3"}, []string{"A=2", "A=3"}}, // only the first goes
		{[]string{"A=1"}, []string{"Q"}, []string{"A=1"}},
		{[]string{"X=old"}, []string{"X=Y=a=b"}, []string{"X=Y=a=b"}},
		{[]string{"AB=1", "A"}, []string{"A=2"}, []string{"AB=1", "A", "A=2"}},
		{[]string{"A=1", "B=2"}, []string{"A=1", "A"}, []string{"B=2"}},
		{nil, []string{"A=1", "B=2"}, []string{"A=1", "B=2"}},
	} {
		env := append([]string(nil), tc.env...)
		got := Merge(env, tc.plus)
		if !reflect.DeepEqual(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("Merge(%q, %q) = %q, want %q", tc.env, tc.plus, got, tc.want)
		}
		if !reflect.DeepEqual(env, tc.env) && tc.env != nil {
			t.Errorf("Merge modified its input: %q", env)
		}
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		file  string
		path  string
		errs  map[string]error
		tried []string
		err   error
	}{
		{"found", "p", "/a:/b", map[string]error{"/a/p": syscall.ENOENT}, []string{"/a/p", "/b/p"}, nil},
		{"all missing", "p", "/a:/b", nil, []string{"/a/p", "/b/p"}, syscall.ENOENT},
		{"access remembered", "p", "/a:/b:/c", map[string]error{"/a/p": syscall.EACCES, "/b/p": syscall.ENOENT, "/c/p": syscall.ENOENT},
			[]string{"/a/p", "/b/p", "/c/p"}, syscall.EACCES},
		{"noexec stops", "p", "/a:/b", map[string]error{"/a/p": syscall.ENOEXEC}, []string{"/a/p"}, syscall.ENOEXEC},
		{"isdir goes on", "p", "/a:/b", map[string]error{"/a/p": syscall.EISDIR}, []string{"/a/p", "/b/p"}, nil},
		{"slash", "./p", "/a", map[string]error{"./p": syscall.EACCES}, []string{"./p"}, syscall.EACCES},
	} {
		var tried []string
		exec := func(path string, argv, env []string) error {
			tried = append(tried, path)
			if e, ok := tc.errs[path]; ok {
				return e
			}
			if tc.errs == nil {
				return syscall.ENOENT
			}
			return nil
		}
		err := Run(exec, tc.file, []string{tc.file}, nil, tc.path)
		if err != tc.err || !reflect.DeepEqual(tried, tc.tried) {
			t.Errorf("%s: err %v tried %q; want %v %q", tc.name, err, tried, tc.err, tc.tried)
		}
	}
}

func TestEnviron(t *testing.T) {
	t.Parallel()
	// Without duplicate names, the exact environment is Go's.
	if got, want := Environ(), os.Environ(); !reflect.DeepEqual(got, want) {
		t.Errorf("Environ() = %q, want %q", got, want)
	}
}

func FuzzMerge(f *testing.F) {
	f.Add("A=1\x00B=2\x00A=3", "A=x\x00B\x00C=y")
	f.Add("X", "X=Y=z")
	f.Fuzz(func(t *testing.T, envs, pluss string) {
		env := strings.Split(envs, "\x00")
		plus := strings.Split(pluss, "\x00")
		got := Merge(env, plus)
		if len(got) > len(env)+len(plus) {
			t.Fatalf("grew too much: %q", got)
		}
		// The last change to a name decides whether it is set.
		last := plus[len(plus)-1]
		if strings.Contains(last, "=") && got[len(got)-1] != last {
			t.Fatalf("last set %q not at the end of %q", last, got)
		}
	})
}
