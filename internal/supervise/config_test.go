package supervise

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]unix.Signal{"TERM": unix.SIGTERM, "SIGQUIT": unix.SIGQUIT, "hup": unix.SIGHUP, "9": unix.SIGKILL, "usr1": unix.SIGUSR1} {
		if got, ok := parseSignal(in); !ok || got != want {
			t.Errorf("parseSignal(%q) = %v %v", in, got, ok)
		}
	}
	for _, bad := range []string{"", "0", "65", "-1", "FOO", "SIG"} {
		if _, ok := parseSignal(bad); ok {
			t.Errorf("parseSignal(%q) accepted", bad)
		}
	}
}

func FuzzParseSignal(f *testing.F) {
	for _, s := range []string{"TERM", "SIGKILL", "15", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if sig, ok := parseSignal(s); ok && (sig <= 0 || sig >= 65) {
			t.Fatalf("%q -> %d", s, sig)
		}
	})
}
