package svdir

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// replaceDir returns a directory and a descriptor of it.
func replaceDir(t *testing.T) (string, int) {
	t.Helper()
	dir := t.TempDir()
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return dir, fd
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

func mustReplace(t *testing.T, dfd int, name, data string) {
	t.Helper()
	if err := Replace(dfd, name, []byte(data), 0644); err != nil {
		t.Fatal(err)
	}
}

func wantContent(t *testing.T, path, want string) {
	t.Helper()
	if b, err := os.ReadFile(path); err != nil || string(b) != want {
		t.Errorf("%s: %q %v, want %q", filepath.Base(path), b, err, want)
	}
}

func wantMode(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if fi, err := os.Lstat(path); err != nil || fi.Mode() != mode&^os.FileMode(umask()) {
		t.Errorf("%s: mode %v (%v), want %v", filepath.Base(path), fi.Mode(), err, mode&^os.FileMode(umask()))
	}
}

// TestReplaceSpare: every file of a directory is replaced through one
// spare: a file's first write leaves a spare behind, and from then on no
// write creates a file. The spare holds the previous content of the file
// last replaced, shorter or longer, and takes each file's mode.
func TestReplaceSpare(t *testing.T) {
	dir, dfd := replaceDir(t)
	a, b, spare := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "spare")
	mustReplace(t, dfd, "a", "first version of a\n")
	wantContent(t, a, "first version of a\n")
	wantContent(t, spare, "")
	if err := Replace(dfd, "b", []byte("b0\n"), 0600); err != nil {
		t.Fatal(err)
	}
	wantMode(t, b, 0600)
	inodes := map[uint64]bool{inode(t, a): true, inode(t, b): true, inode(t, spare): true}
	if len(inodes) != 3 {
		t.Fatalf("%d inodes, want 3", len(inodes))
	}
	for i, w := range []struct{ name, data, prev string }{
		{"a", "2\n", "first version of a\n"},
		{"a", "", "2\n"},
		{"b", "a much longer b1\n", "b0\n"},
		{"a", "a3\n", ""},
		{"b", "b2\n", "a much longer b1\n"},
	} {
		mode := os.FileMode(0644)
		if w.name == "b" {
			mode = 0600
		}
		if err := Replace(dfd, w.name, []byte(w.data), uint32(mode)); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, w.name)
		wantContent(t, p, w.data)
		wantContent(t, spare, w.prev)
		wantMode(t, p, mode)
		for _, q := range []string{a, b, spare} {
			if !inodes[inode(t, q)] {
				t.Errorf("write %d: %s is a new file", i, filepath.Base(q))
			}
		}
	}
}

// TestReplaceOpenSpare: a reader that opened a file keeps reading what it
// opened, however many replacements follow: the inode it holds is never
// written again while it is open.
func TestReplaceOpenSpare(t *testing.T) {
	dir, dfd := replaceDir(t)
	f := filepath.Join(dir, "f")
	mustReplace(t, dfd, "f", "zero\n")
	mustReplace(t, dfd, "f", "one\n")
	r, err := os.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, data := range []string{"two, longer\n", "3\n", "four\n", "five\n"} {
		mustReplace(t, dfd, "f", data)
		mustReplace(t, dfd, "g", data)
		wantContent(t, f, data)
		b := make([]byte, 64)
		n, err := r.ReadAt(b, 0)
		if string(b[:n]) != "one\n" {
			t.Errorf("the open reader reads %q (%v) after %q was written", b[:n], err, data)
		}
	}
}

// TestReplacePlanted: whatever is found at the spare's name that is not a
// spare of ours is replaced, never written through.
func TestReplacePlanted(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plant func(t *testing.T, spare, other string)
	}{
		{"symlink", func(t *testing.T, spare, other string) { os.Symlink(other, spare) }},
		{"hard link", func(t *testing.T, spare, other string) {
			os.WriteFile(other, []byte("other\n"), 0644)
			os.Link(other, spare)
		}},
		{"fifo", func(t *testing.T, spare, other string) { unix.Mkfifo(spare, 0644) }},
		{"directory", func(t *testing.T, spare, other string) { os.Mkdir(spare, 0755) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, dfd := replaceDir(t)
			f, spare, other := filepath.Join(dir, "f"), filepath.Join(dir, "spare"), filepath.Join(dir, "other")
			mustReplace(t, dfd, "f", "old\n")
			os.Remove(spare)
			tc.plant(t, spare, other)
			err := Replace(dfd, "f", []byte("new\n"), 0644)
			if tc.name == "directory" {
				// Not removed: the write fails, and says where.
				var re *ReplaceError
				if !errors.As(err, &re) || re.Op != "open" || re.Spare != "spare" || re.Name != "f" {
					t.Fatalf("error %v", err)
				}
				wantContent(t, f, "old\n")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantContent(t, f, "new\n")
			wantMode(t, f, 0644)
			if b, err := os.ReadFile(other); tc.name == "hard link" && string(b) != "other\n" || tc.name != "hard link" && !os.IsNotExist(err) {
				t.Errorf("written through the planted file: %q %v", b, err)
			}
		})
	}
}

// TestReplaceSubdir: the spare of supervise/status is supervise/spare.
func TestReplaceSubdir(t *testing.T) {
	dir, dfd := replaceDir(t)
	os.Mkdir(filepath.Join(dir, Dir), 0700)
	for _, data := range []string{"1\n", "2\n"} {
		if err := Replace(dfd, StatusPath, []byte(data), 0644); err != nil {
			t.Fatal(err)
		}
	}
	wantContent(t, filepath.Join(dir, StatusPath), "2\n")
	wantContent(t, filepath.Join(dir, SparePath), "1\n")
	if _, err := os.Lstat(filepath.Join(dir, "spare")); !os.IsNotExist(err) {
		t.Errorf("a spare outside supervise/: %v", err)
	}
}

// BenchmarkReplace: one replacement of an 18-byte record, as at every
// change of a service's state, by Replace and the way 0.76 writes status
// (create status.new, write, rename it over status).
func BenchmarkReplace(b *testing.B) {
	data := []byte("0123456789abcdefgh")
	for _, bc := range []struct {
		name    string
		replace func(dfd int) error
	}{
		{"svkit", func(dfd int) error { return Replace(dfd, "status", data, 0644) }},
		{"0.76", func(dfd int) error {
			fd, err := unix.Openat(dfd, "status.new", unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0644)
			if err != nil {
				return err
			}
			if _, err := unix.Write(fd, data); err != nil {
				unix.Close(fd)
				return err
			}
			unix.Close(fd)
			return unix.Renameat(dfd, "status.new", dfd, "status")
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			dfd, err := unix.Open(b.TempDir(), unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer unix.Close(dfd)
			for b.Loop() {
				if err := bc.replace(dfd); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
