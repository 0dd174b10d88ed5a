package main

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestWait: a session of a shell and its two children is waited for until
// the last one ends, not before, and an empty session returns at once.
func TestWait(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 0.3 & sleep 0.6 & wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reaped := make(chan struct{})
	go func() { cmd.Wait(); close(reaped) }()
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); <-reaped })
	time.Sleep(100 * time.Millisecond) // the children are forked
	if n := len(members(cmd.Process.Pid)); n != 3 {
		t.Fatalf("%d members, want 3", n)
	}
	t0 := time.Now()
	if err := wait(cmd.Process.Pid, time.Now().Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < 400*time.Millisecond {
		t.Errorf("returned after %v, before the last member ended", d)
	}
	select {
	case <-reaped:
	case <-time.After(5 * time.Second):
		t.Error("the shell still runs")
	}
	if err := wait(cmd.Process.Pid, time.Now().Add(time.Second)); err != nil {
		t.Errorf("empty session: %v", err)
	}
	// A timeout is an error.
	long := exec.Command("sleep", "10")
	long.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := long.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { long.Process.Kill(); long.Wait() }()
	if err := wait(long.Process.Pid, time.Now().Add(200*time.Millisecond)); err == nil {
		t.Error("no error on timeout")
	}
}
