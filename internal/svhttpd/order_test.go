package svhttpd

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"svkit/internal/testenv"
)

// A batch starts what is needed first and stops dependents first: the
// chain c -> b -> a (c needs b, b needs a) with x free.
func TestBatchWaves(t *testing.T) {
	root := t.TempDir()
	names := []string{"a", "b", "c", "x"}
	for _, n := range names {
		os.MkdirAll(filepath.Join(root, n, "needs"), 0755)
	}
	testenv.NeedLink(t, root, "b", "needs", "a")
	testenv.NeedLink(t, root, "c", "needs", "b")
	s := &Server{Tree: &Tree{Dir: root}}
	for _, tc := range []struct {
		letters string
		want    [][]int
	}{
		{"u", [][]int{{0, 3}, {1}, {2}}},
		{"o", [][]int{{0, 3}, {1}, {2}}},
		{"d", [][]int{{2, 3}, {1}, {0}}},
		{"t", [][]int{{0, 1, 2, 3}}},
		{"du", [][]int{{0, 1, 2, 3}}},
	} {
		if got := s.waves(names, tc.letters); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.letters, got, tc.want)
		}
	}
}
