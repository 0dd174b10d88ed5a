package testenv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"svkit/pkg/svdir"
)

// FastSchedule, in the environment of svkit's supervise as the tests build
// it (tag svkit_testhooks), runs its schedule five times as fast: restarts
// every 0.2 s. For tests that count restarts rather than time them.
const FastSchedule = "SVKIT_TEST_TIMESCALE=0.2"

// StartSupervise runs a supervise program (svkit's or 0.76's) on dir until
// the test ends, with env added to the test's environment, and waits until
// it answers on supervise/ok. At the end it sends "dx", waits for
// supervise to exit and kills a run left behind, by pid.
func StartSupervise(t testing.TB, prog, dir string, env ...string) *Proc {
	t.Helper()
	cmd := exec.Command(prog, dir)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	p := Start(t, cmd)
	t.Cleanup(func() {
		r, _ := svdir.ReadStatusOf(dir)
		svdir.Send(dir, "dx")
		deadline := time.Now().Add(5 * time.Second)
		for !p.Exited() && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if r.Pid != 0 && Alive(r.Pid) {
			syscall.Kill(r.Pid, syscall.SIGKILL)
		}
		RemoveGroup(dir)
	})
	WaitFor(t, 15*time.Second, "supervise to start", func() bool {
		ok, _ := svdir.OK(dir)
		return ok
	})
	return p
}

// RemoveGroup removes the cgroup svkit's supervise made for dir once it is
// empty (waiting up to 2 s for killed processes to leave it): a supervise
// that is killed cannot remove it itself.
func RemoveGroup(dir string) {
	var st syscall.Stat_t
	if syscall.Stat(dir, &st) != nil {
		return
	}
	name := fmt.Sprintf("svkit-%x-%x", st.Dev, st.Ino)
	matches, _ := filepath.Glob("/sys/fs/cgroup/*/" + name)
	more, _ := filepath.Glob("/sys/fs/cgroup/" + name)
	for _, m := range append(matches, more...) {
		// Processes just sent KILL may take a moment to leave it.
		deadline := time.Now().Add(2 * time.Second)
		for syscall.Rmdir(m) == syscall.EBUSY && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// RemoveGroupsUnder removes the empty cgroups of every service directory
// (a directory holding supervise/) under root.
func RemoveGroupsUnder(root string) {
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == "supervise" {
			RemoveGroup(filepath.Dir(path))
			return filepath.SkipDir
		}
		return nil
	})
}

// RequireCgroup stops the test (failing in CI) unless this process may make
// cgroups of its own in a cgroup v2 hierarchy, as svkit's supervise does:
// it makes one below its own cgroup and removes it. (Package cgroup's own
// tests use this kit, so the probe does not import it.)
func RequireCgroup(t testing.TB) {
	t.Helper()
	err := probeCgroup()
	Require(t, err == nil, fmt.Sprintf("no writable cgroup v2: %v", err))
}

func probeCgroup() error {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return err
	}
	own := ""
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			own = p
		}
	}
	for _, mnt := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var st syscall.Statfs_t
		if syscall.Statfs(mnt, &st) != nil || st.Type != 0x63677270 { // CGROUP2_SUPER_MAGIC
			continue
		}
		dir := filepath.Join(mnt, own, "svkit-probe-"+strconv.Itoa(os.Getpid()))
		if err := os.Mkdir(dir, 0755); err != nil && !os.IsExist(err) {
			return err
		}
		defer os.Remove(dir)
		return syscall.Access(filepath.Join(dir, "cgroup.procs"), 2) // W_OK
	}
	return errors.New("no cgroup v2 hierarchy mounted")
}
