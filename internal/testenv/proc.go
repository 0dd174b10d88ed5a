package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"svkit/internal/proc"
	"svkit/pkg/svdir"
)

// PidOf returns the pid that dir's supervise/status shows, or 0 when it is
// down or the status cannot be read.
func PidOf(dir string) int {
	r, err := svdir.ReadStatusOf(dir)
	if err != nil {
		return 0
	}
	return r.Pid
}

// Control writes letters to dir/supervise/control as svc does, failing the
// test if they cannot be delivered.
func Control(t testing.TB, dir, letters string) {
	t.Helper()
	if err := svdir.Send(dir, letters); err != nil {
		t.Fatalf("control %s %q: %v", dir, letters, err)
	}
}

// ProcState returns the state letter of pid (R, S, D, T, Z, ...) from
// /proc, or 0 when there is no such process.
func ProcState(pid int) byte {
	in, err := proc.Stat(pid)
	if err != nil {
		return 0
	}
	return in.State
}

// Cmdline returns the arguments of pid from /proc, nil when it is gone.
func Cmdline(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

// FDCount returns how many descriptors pid has open, or -1 when that
// cannot be read.
func FDCount(pid int) int {
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// ThreadCount returns how many threads pid has, 0 if it is gone.
func ThreadCount(pid int) int {
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		return 0
	}
	return len(ents)
}

// WaitGone waits until pid has left /proc altogether (reaped, not even a
// zombie), failing the test after timeout.
func WaitGone(t testing.TB, pid int, timeout time.Duration, what string) {
	t.Helper()
	WaitFor(t, timeout, what, func() bool {
		_, err := os.Stat("/proc/" + strconv.Itoa(pid))
		return err != nil
	})
}

// ProcsUnder lists the live processes whose working directory is dir or
// below it: everything a supervision tree rooted there runs (svscan,
// supervise, the services, their loggers). The test process itself is
// never listed.
func ProcsUnder(dir string) []int {
	return procsWhere(func(cwd string, pid int) bool {
		return (cwd == dir || strings.HasPrefix(cwd, dir+"/")) && Alive(pid)
	})
}

// KillIn kills, by pid, every process whose working directory is exactly
// dir (not below it), without waiting for them.
func KillIn(dir string) {
	for _, pid := range procsWhere(func(cwd string, _ int) bool { return cwd == dir }) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// procsWhere lists the processes, other than the test process, for which
// keep holds given their working directory and pid.
func procsWhere(keep func(cwd string, pid int) bool) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	self := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		cwd, err := os.Readlink("/proc/" + e.Name() + "/cwd")
		if err != nil {
			continue
		}
		if keep(cwd, pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// KillUnder kills, by pid, every process working under root until none is
// left, removes the cgroups of the service directories there, and returns
// how many processes there were at first. It fails the test if some
// survive for 5 seconds.
func KillUnder(t testing.TB, root string) int {
	t.Helper()
	n := -1
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		pids := ProcsUnder(root)
		if n < 0 {
			n = len(pids)
		}
		if len(pids) == 0 {
			RemoveGroupsUnder(root)
			return n
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("processes still running under %s: %v", root, ProcsUnder(root))
	return n
}

// ReadFile returns the content of path, failing the test if it cannot be
// read.
func ReadFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Inode returns the inode number of path (following symlinks), failing the
// test if it cannot be had.
func Inode(t testing.TB, path string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// StartAtPid starts a process made by newCmd that gets the free process id
// pid: it sets the kernel's last pid (ns_last_pid) to pid-1 just before
// each fork, again for at most two seconds, since any other fork or new
// thread on the machine may take the pid first. It returns nil when pid is
// taken by a process or thread it did not start (the caller then frees a
// new pid and tries again) or when the time is up; it skips the test,
// outside CI, when ns_last_pid cannot be written.
func StartAtPid(t testing.TB, pid int, newCmd func() *exec.Cmd) *Proc {
	t.Helper()
	f, err := os.OpenFile("/proc/sys/kernel/ns_last_pid", os.O_WRONLY, 0)
	Require(t, err == nil, fmt.Sprintf("cannot open ns_last_pid: %v", err))
	defer f.Close()
	last := []byte(strconv.Itoa(pid - 1))
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			return nil
		}
		p := prepare(t, newCmd())
		if _, err := f.WriteAt(last, 0); err != nil {
			Require(t, false, fmt.Sprintf("cannot write ns_last_pid: %v", err))
		}
		p.start(t)
		if p.Pid() == pid {
			return p
		}
		p.KillAndWait(t, syscall.SIGKILL)
	}
	return nil
}
