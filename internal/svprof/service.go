package svprof

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"svkit/internal/proc"
	"svkit/pkg/svdir"
)

// service is a supervised service directory: its run's pid comes from
// supervise/status, its cgroup (svkit's supervise gives every service one
// where cgroup v2 is mounted) from /proc/PID/cgroup.
type service struct {
	dir   string
	group string // cgroup v2 directory of the service, "" if none
}

// Errors of openService, for messages.
var (
	ErrNoSupervise = errors.New("supervise not running")
	ErrDown        = errors.New("service is down")
)

// openService checks that dir is supervised and up.
func openService(dir string) (*service, int, error) {
	ok, err := svdir.Supervised(dir)
	if err != nil {
		return nil, 0, err
	}
	if !ok {
		return nil, 0, fmt.Errorf("%s: %w", dir, ErrNoSupervise)
	}
	s := &service{dir: dir}
	pid, err := s.pid()
	if err != nil {
		return nil, 0, err
	}
	if pid == 0 {
		return nil, 0, fmt.Errorf("%s: %w", dir, ErrDown)
	}
	s.group = serviceGroup(dir, pid)
	return s, pid, nil
}

// pid returns the pid in supervise/status (0 when down).
func (s *service) pid() (int, error) {
	r, err := svdir.ReadStatusOf(s.dir)
	if err != nil {
		return 0, fmt.Errorf("unable to read %s/supervise/status: %w", s.dir, err)
	}
	return r.Pid, nil
}

// serviceGroup returns the cgroup v2 directory of the service whose run is
// pid, if pid is in the cgroup svkit's supervise made for dir
// (svkit-DEV-INO, with DEV and INO of dir in hex).
func serviceGroup(dir string, pid int) string {
	var st unix.Stat_t
	if unix.Stat(dir, &st) != nil {
		return ""
	}
	name := "svkit-" + strconv.FormatUint(st.Dev, 16) + "-" + strconv.FormatUint(st.Ino, 16)
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		rel, ok := strings.CutPrefix(line, "0::")
		if !ok || filepath.Base(rel) != name {
			continue
		}
		for _, mnt := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
			var sf unix.Statfs_t
			if unix.Statfs(mnt, &sf) == nil && sf.Type == unix.CGROUP2_SUPER_MAGIC {
				return filepath.Join(mnt, rel)
			}
		}
	}
	return ""
}

// procs returns the service's processes: the run from supervise/status,
// its descendants, and whatever else is in the service's cgroup (daemons
// that forked away from run). Zero pids means the service is down.
func (s *service) procs() []int {
	seen := map[int]bool{}
	var out []int
	add := func(pid int) {
		if pid > 0 && !seen[pid] {
			seen[pid] = true
			out = append(out, pid)
		}
	}
	pid, _ := s.pid()
	if pid > 0 {
		add(pid)
		for _, id := range proc.Descendants(pid) {
			add(id.Pid)
		}
	}
	if s.group != "" {
		b, _ := os.ReadFile(filepath.Join(s.group, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			if p, err := strconv.Atoi(f); err == nil {
				add(p)
			}
		}
	}
	return out
}

// alive reports whether the service has a run or any process left in its
// cgroup, without walking /proc.
func (s *service) alive() bool {
	if pid, err := s.pid(); err == nil && pid > 0 {
		return true
	}
	if s.group == "" {
		return false
	}
	b, err := os.ReadFile(filepath.Join(s.group, "cgroup.procs"))
	return err == nil && len(strings.TrimSpace(string(b))) > 0
}

// tasks lists the threads of pid.
func tasks(pid int) []int {
	d, err := os.Open("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	var out []int
	for _, n := range names {
		if t, err := strconv.Atoi(n); err == nil {
			out = append(out, t)
		}
	}
	return out
}

// comm returns the command name of a task.
func comm(pid, tid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(tid) + "/comm")
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}
