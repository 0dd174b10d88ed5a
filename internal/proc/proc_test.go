package proc

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseStat(t *testing.T) {
	line := []byte("1234 (a (weird) name) S 1 1230 1220 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n")
	in, err := parseStat(1234, line)
	if err != nil {
		t.Fatal(err)
	}
	if in.PPid != 1 || in.Pgrp != 1230 || in.Session != 1220 || in.State != 'S' || in.Start != 987654 || in.Pid != 1234 {
		t.Fatalf("%+v", in)
	}
	for _, bad := range []string{"", "1 (x", "1 (x) S 1", "1 (x) SS 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21"} {
		if _, err := parseStat(1, []byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("1234 (sh) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000"))
	f.Add([]byte("1 ()) R 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseStat(1, b)
	})
}

func TestOpenSignalDescendants(t *testing.T) {
	self, err := Lookup(os.Getpid())
	if err != nil || !self.Alive() {
		t.Fatalf("self: %v %v", self, err)
	}
	// A shell with a child: both are descendants of this test process. The
	// shell outlives the child, which the test kills first.
	cmd := exec.Command("/bin/sh", "-c", "sleep 1000 & wait; exec sleep 1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var kids []ID
	deadline := time.Now().Add(5 * time.Second)
	for len(kids) < 2 && time.Now().Before(deadline) {
		kids = Descendants(os.Getpid())
		time.Sleep(5 * time.Millisecond)
	}
	if len(kids) < 2 {
		t.Fatalf("descendants: %v", kids)
	}
	id, _ := Lookup(cmd.Process.Pid)
	h, err := Open(id)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	// A handle for a wrong start time is refused.
	if _, err := Open(ID{Pid: id.Pid, Start: id.Start + 1}); err != ErrGone {
		t.Errorf("stale id opened: %v", err)
	}
	for _, k := range kids {
		if k.Pid != id.Pid {
			if kh, err := Open(k); err == nil {
				kh.Signal(unix.SIGKILL)
				kh.Close()
			}
		}
	}
	if h.Exited() {
		t.Fatal("exited too early")
	}
	if err := h.Signal(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if !h.Exited() {
		t.Error("pidfd not readable after exit")
	}
	if err := h.Signal(unix.SIGTERM); err != ErrGone {
		t.Errorf("signal to reaped process: %v", err)
	}
	if id.Alive() {
		t.Error("still alive")
	}
	if BootID() == "" {
		t.Error("no boot id")
	}
}
