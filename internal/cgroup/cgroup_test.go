package cgroup

import (
	"os/exec"
	"syscall"
	"testing"
	"time"

	"svkit/internal/testenv"
)

// TestGroup starts a process tree inside a new cgroup and kills it with
// cgroup.kill. Needs root and a writable cgroup v2 hierarchy.
func TestGroup(t *testing.T) {
	testenv.RequireRoot(t)
	g, err := Open("svkit-test-group")
	testenv.Require(t, err == nil, "no writable cgroup v2 hierarchy")
	defer g.Remove()
	dir, err := g.Dir()
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(dir)
	cmd := exec.Command("/bin/sh", "-c", "sleep 1000 & sleep 1000 & wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: dir}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	testenv.WaitFor(t, 5*time.Second, "three processes in the group", func() bool { return len(g.Procs()) == 3 })
	if !g.Contains(cmd.Process.Pid) {
		t.Error("Contains is false for a member")
	}
	if !g.Populated() {
		t.Error("not populated")
	}
	if err := g.Freeze(true); err != nil {
		t.Fatal(err)
	}
	for _, pid := range g.Procs() {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if err := g.Freeze(false); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	testenv.WaitFor(t, 5*time.Second, "empty group", func() bool { return !g.Populated() })
	// The group is still usable for new processes.
	again := exec.Command("/bin/true")
	again.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: dir}
	if err := again.Run(); err != nil {
		t.Fatalf("start into the group again: %v", err)
	}
}
