package chain

import (
	"bytes"
	"debug/buildinfo"
	"os"
	"testing"

	"svkit/internal/testenv"
)

// TestMainPackagePath checks the small reader against debug/buildinfo on
// real executables: svkit's, the test binary itself, and C programs.
func TestMainPackagePath(t *testing.T) {
	files := []string{os.Args[0], testenv.Prog(t, "setuidgid"), testenv.Prog(t, "fghack"), "/bin/true", "/etc/passwd"}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want := ""
		if info, err := buildinfo.Read(bytes.NewReader(data)); err == nil {
			want = info.Path
		}
		if got := mainPackagePath(bytes.NewReader(data)); got != want {
			t.Errorf("%s: %q, debug/buildinfo says %q", f, got, want)
		}
	}
	if got := mainPackagePath(bytes.NewReader(nil)); got != "" {
		t.Errorf("empty file: %q", got)
	}
}

func FuzzMainPackagePath(f *testing.F) {
	self, err := os.ReadFile(os.Args[0])
	if err == nil {
		// The ELF header and a damaged copy of the real thing.
		f.Add(self[:64])
		if i := bytes.Index(self, []byte(buildInfoMagic)); i > 0 && i+4096 < len(self) {
			f.Add(self[i : i+4096])
		}
	}
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Add([]byte(buildInfoMagic + "\x08\x02" + "xxxxxxxxxxxxxxxx\x04go1x\x05hello"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Never a panic, and a path found is one the data records.
		got := mainPackagePath(bytes.NewReader(data))
		if got != "" && !bytes.Contains(data, []byte("path\t"+got+"\n")) {
			t.Fatalf("found %q, which the data does not record", got)
		}
	})
}
