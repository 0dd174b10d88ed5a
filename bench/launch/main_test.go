package main

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestStartStop: every service's run starts in its own directory (dot
// directories and plain files are skipped) and stop ends and reaps them all.
func TestStartStop(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a", "b", ".hidden"} {
		d := filepath.Join(dir, name)
		os.Mkdir(d, 0755)
		os.WriteFile(filepath.Join(d, "run"), []byte("#!/bin/sh\npwd > here\nexec sleep 100\n"), 0755)
	}
	os.WriteFile(filepath.Join(dir, "file"), nil, 0644)
	pids, err := start(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	if len(pids) != 2 {
		t.Fatalf("%d started, want 2", len(pids))
	}
	for _, name := range []string{"a", "b"} {
		p := filepath.Join(dir, name, "here")
		deadline := time.Now().Add(10 * time.Second)
		for {
			b, _ := os.ReadFile(p)
			if string(b) == filepath.Join(dir, name)+"\n" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: run did not start in its directory (%q)", name, b)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	stop(pids)
	for _, pid := range pids {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
			t.Errorf("%d is left", pid)
		}
	}
}
