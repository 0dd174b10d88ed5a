// Package cgroup gives a service a cgroup v2 of its own, below the
// supervisor's, so that every process of the service can be found and
// killed however it forked. It is used only where the cgroup v2 hierarchy
// is mounted and writable; callers fall back to other means otherwise.
package cgroup

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Group is one cgroup v2 directory. It holds no descriptor: a host of a
// thousand supervisors would otherwise keep a thousand directories open.
// Each operation opens what it needs, by path below the root-owned cgroup
// mount, without following symbolic links.
type Group struct {
	Path string // absolute path in the cgroup file system
	rel  string // path as /proc/PID/cgroup shows it
}

// ErrUnavailable means there is no cgroup v2 hierarchy to use.
var ErrUnavailable = errors.New("cgroup v2 unavailable")

// mountpoint returns where the cgroup v2 hierarchy is mounted: at
// /sys/fs/cgroup on a unified system, or at /sys/fs/cgroup/unified on a
// hybrid one (as systemd sets them up).
func mountpoint() (string, error) {
	for _, p := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var st unix.Statfs_t
		if unix.Statfs(p, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			return p, nil
		}
	}
	return "", ErrUnavailable
}

// ownPath returns this process's cgroup v2 path ("0::/path").
func ownPath() (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return p, nil
		}
	}
	return "", ErrUnavailable
}

// ServiceName is the name of the cgroup of the service directory with the
// given device and inode numbers: svkit-DEV-INO, in hex. Its identity, not
// its path, so that every name of one directory gives one cgroup.
func ServiceName(dev, ino uint64) string {
	return "svkit-" + strconv.FormatUint(dev, 16) + "-" + strconv.FormatUint(ino, 16)
}

// RemoveIfEmpty removes the cgroup name below this process's own cgroup if
// it exists and holds no process. It reports whether it removed one.
func RemoveIfEmpty(name string) bool {
	if strings.ContainsAny(name, "/\x00") || name == "" || name[0] == '.' {
		return false
	}
	mnt, err := mountpoint()
	if err != nil {
		return false
	}
	own, err := ownPath()
	if err != nil {
		return false
	}
	// rmdir fails with EBUSY on a cgroup that has processes or children.
	return unix.Rmdir(filepath.Join(mnt, own, name)) == nil
}

// Open opens the cgroup name below this process's own cgroup, creating it
// if needed.
func Open(name string) (*Group, error) {
	return open(name)
}

func open(name string) (*Group, error) {
	if strings.ContainsAny(name, "/\x00") || name == "" || name[0] == '.' {
		return nil, errors.New("bad cgroup name")
	}
	mnt, err := mountpoint()
	if err != nil {
		return nil, err
	}
	own, err := ownPath()
	if err != nil {
		return nil, err
	}
	rel := filepath.Join(own, name)
	path := filepath.Join(mnt, rel)
	if err := unix.Mkdir(path, 0755); err != nil && err != unix.EEXIST {
		return nil, err
	}
	g := &Group{Path: path, rel: rel}
	fd, err := g.Dir()
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	// A cgroup must be writable for processes to be moved into it.
	if err := unix.Faccessat(fd, "cgroup.procs", unix.W_OK, 0); err != nil {
		return nil, err
	}
	return g, nil
}

// Dir opens the cgroup's directory, for SysProcAttr.CgroupFD; the caller
// closes it. A cgroup removed meanwhile (it was empty) is made again.
func (g *Group) Dir() (int, error) {
	fd, err := unix.Open(g.Path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err == unix.ENOENT {
		if err := unix.Mkdir(g.Path, 0755); err != nil && err != unix.EEXIST {
			return -1, err
		}
		fd, err = unix.Open(g.Path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	}
	return fd, err
}

// openFile opens one of the cgroup's files.
func (g *Group) openFile(name string, flags int) (int, error) {
	return unix.Open(g.Path+"/"+name, flags|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
}

// Procs lists the pids in the cgroup.
func (g *Group) Procs() []int {
	b, err := os.ReadFile(filepath.Join(g.Path, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Contains reports whether pid is a member of the group right now.
func (g *Group) Contains(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return p == g.rel
		}
	}
	return false
}

// Freeze stops (true) or thaws (false) every process in the group, so that
// nothing in it can fork while it is being killed. A frozen process still
// dies of SIGKILL.
//
// cgroup.kill would do the same in one write, but on the kernels seen here
// a cgroup that was ever killed that way kills every process later cloned
// into it with CLONE_INTO_CGROUP, so svkit does not use it.
func (g *Group) Freeze(frozen bool) error {
	v := "0"
	if frozen {
		v = "1"
	}
	return g.write("cgroup.freeze", v)
}

// WaitFrozen waits at most d for cgroup.events to say that every process in
// the group is frozen, and reports whether it did. Freeze only starts
// freezing: a process that is forking meanwhile has its child in the group,
// frozen too, by the time the group is frozen, so a list of the members
// read after WaitFrozen misses nothing.
func (g *Group) WaitFrozen(d time.Duration) bool {
	fd, err := g.openFile("cgroup.events", unix.O_RDONLY)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	deadline := time.Now().Add(d)
	buf := make([]byte, 256)
	for {
		n, err := unix.Pread(fd, buf, 0)
		if err != nil {
			return false
		}
		if strings.Contains(string(buf[:n]), "frozen 1") {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		// A change of cgroup.events is signalled as POLLPRI; the
		// timeout only bounds each wait.
		p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLPRI}}
		if _, err := unix.Poll(p, int(min(left, 10*time.Millisecond)/time.Millisecond)+1); err != nil && err != unix.EINTR {
			return false
		}
	}
}

// Populated reports whether any process is in the group.
func (g *Group) Populated() bool {
	b, err := os.ReadFile(filepath.Join(g.Path, "cgroup.events"))
	if err != nil {
		return len(g.Procs()) > 0
	}
	return strings.Contains(string(b), "populated 1")
}

func (g *Group) write(name, v string) error {
	fd, err := g.openFile(name, unix.O_WRONLY)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	_, err = unix.Write(fd, []byte(v))
	return err
}

// Remove removes the (empty) cgroup.
func (g *Group) Remove() error {
	return unix.Rmdir(g.Path)
}
