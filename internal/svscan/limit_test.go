package svscan

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestServiceLimit lowers the limit to 3: the first three directories in
// ASCII order start, the others get 0.76's warning at every pass.
func TestServiceLimit(t *testing.T) {
	old := maxServices
	maxServices = 3
	defer func() { maxServices = old }()
	bin := t.TempDir()
	// The stand-in supervise sleeps (sleep named by its path: its PATH is
	// bin alone), so that every one started is still running when looked at.
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "supervise"), []byte("#!/bin/sh\nexec "+sleep+" 1000\n"), 0755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, n := range []string{"e", "B", "a", "d", "c"} {
		if err := os.Mkdir(filepath.Join(dir, n), 0755); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	var buf bytes.Buffer
	s := NewScanner(&buf, []string{"PATH=" + bin})
	defer func() {
		for pid := range s.byPid {
			unix.Kill(pid, unix.SIGKILL)
			var ws unix.WaitStatus
			unix.Wait4(pid, &ws, 0, nil)
		}
	}()
	s.Pass()
	s.Pass()
	want := "svscan: warning: unable to start d: running too many services\n" +
		"svscan: warning: unable to start e: running too many services\n"
	if got := buf.String(); got != want+want {
		t.Errorf("got %q, want %q twice", got, want)
	}
	started := map[string]bool{}
	for _, e := range s.entries {
		started[e.name] = e.pid != 0
	}
	if len(started) != 3 || !started["B"] || !started["a"] || !started["c"] {
		t.Errorf("started %v, want B, a and c", started)
	}
}
