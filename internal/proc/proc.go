// Package proc names processes in a way that survives pid reuse: a pid with
// the start time the kernel records for it (/proc/PID/stat field 22) and the
// boot it belongs to. It opens pidfds that are verified to name the process
// they were asked for, signals through them, and finds a process's
// descendants by walking the parent links in /proc.
package proc

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ID is one process incarnation.
type ID struct {
	Pid   int
	Start uint64 // clock ticks after boot at which the process started
}

// ErrGone means the process no longer exists (or its pid now names another).
var ErrGone = errors.New("process is gone")

// Info is what /proc/PID/stat says about a process.
type Info struct {
	ID
	PPid    int
	Pgrp    int // process group
	Session int
	State   byte // R, S, D, T, Z, ...
}

// Stat reads /proc/PID/stat.
func Stat(pid int) (Info, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Info{}, ErrGone
	}
	return parseStat(pid, b)
}

// parseStat parses a stat line. The command name may hold spaces and
// parentheses, so the fields are counted from the last ')'.
func parseStat(pid int, b []byte) (Info, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return Info{}, errors.New("bad /proc stat line")
	}
	f := strings.Fields(string(b[i+2:]))
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 20 {
		return Info{}, errors.New("bad /proc stat line")
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgrp, err3 := strconv.Atoi(f[2])
	sid, err4 := strconv.Atoi(f[3])
	start, err2 := strconv.ParseUint(f[19], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || len(f[0]) != 1 {
		return Info{}, errors.New("bad /proc stat line")
	}
	return Info{ID: ID{Pid: pid, Start: start}, PPid: ppid, Pgrp: pgrp, Session: sid, State: f[0][0]}, nil
}

// Lookup returns the current incarnation of pid.
func Lookup(pid int) (ID, error) {
	in, err := Stat(pid)
	return in.ID, err
}

// Live reports whether the process was running when its stat was read:
// not a zombie waiting to be reaped.
func (in Info) Live() bool { return in.State != 'Z' && in.State != 'X' }

// Alive reports whether id still runs (as anything but a zombie).
func (id ID) Alive() bool {
	in, err := Stat(id.Pid)
	return err == nil && in.Start == id.Start && in.Live()
}

// ticksPerSecond is the unit of ID.Start: Linux reports process start
// times in USER_HZ clock ticks, which is 100 on every architecture.
const ticksPerSecond = 100

// Now returns the current time in the unit and clock of ID.Start (ticks
// of CLOCK_BOOTTIME). A process forked after Now returned has a Start not
// below it: both truncate the same clock.
func Now() uint64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) != nil {
		return 0
	}
	return uint64(ts.Sec)*ticksPerSecond + uint64(ts.Nsec)/(1e9/ticksPerSecond)
}

// Age returns how long ago the process started, to the clock tick.
func (id ID) Age() time.Duration {
	now := Now()
	if now < id.Start {
		return 0
	}
	return time.Duration(now-id.Start) * (time.Second / ticksPerSecond)
}

// BootID returns the kernel's boot id, which tells a record written before
// a reboot from one written since. It is read once per process.
var BootID = sync.OnceValue(func() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
})

// Handle is an open pidfd for one process incarnation.
type Handle struct {
	ID
	fd int
}

// Open returns a pidfd for id, checked after opening to still name the same
// incarnation, so that signals sent through it can never reach a process
// that took over a recycled pid.
func Open(id ID) (*Handle, error) {
	fd, err := unix.PidfdOpen(id.Pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		if err == unix.ESRCH {
			return nil, ErrGone
		}
		return nil, err
	}
	unix.CloseOnExec(fd)
	now, err := Lookup(id.Pid)
	if err != nil || now.Start != id.Start {
		unix.Close(fd)
		return nil, ErrGone
	}
	return &Handle{ID: id, fd: fd}, nil
}

// FromFD wraps a pidfd obtained at fork time (clone's CLONE_PIDFD).
func FromFD(id ID, fd int) *Handle {
	unix.CloseOnExec(fd)
	return &Handle{ID: id, fd: fd}
}

// Inode returns the process's pidfs inode number, which no other process
// of this boot ever has, or 0 where pidfds are not pidfs files (kernels
// before 6.9). It tells apart two processes that had the same pid and
// start time: a pid recycled within one clock tick.
func (h *Handle) Inode() uint64 {
	var fs unix.Statfs_t
	if h == nil || h.fd < 0 || unix.Fstatfs(h.fd, &fs) != nil || fs.Type != unix.PID_FS_MAGIC {
		return 0
	}
	var st unix.Stat_t
	if unix.Fstat(h.fd, &st) != nil {
		return 0
	}
	return st.Ino
}

// Fd returns the pidfd.
func (h *Handle) Fd() int { return h.fd }

// Signal sends sig through the pidfd.
func (h *Handle) Signal(sig unix.Signal) error {
	if h == nil || h.fd < 0 {
		return ErrGone
	}
	err := unix.PidfdSendSignal(h.fd, sig, nil, 0)
	if err == unix.ESRCH {
		return ErrGone
	}
	return err
}

// Exited reports whether the process has exited (the pidfd is readable).
func (h *Handle) Exited() bool {
	fds := []unix.PollFd{{Fd: int32(h.fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0
}

// Close releases the pidfd.
func (h *Handle) Close() {
	if h != nil && h.fd >= 0 {
		unix.Close(h.fd)
		h.fd = -1
	}
}

// All returns every process in /proc.
func All() []Info {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	out := make([]Info, 0, len(names))
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		if in, err := Stat(pid); err == nil {
			out = append(out, in)
		}
	}
	return out
}

// Descendants returns the live descendants of the given roots (not the
// roots themselves), from one walk of /proc. Zombies are left out: they are
// already dead and only wait to be reaped.
func Descendants(roots ...int) []ID { return DescendantsExcept(roots, nil) }

// DescendantsExcept is Descendants without the processes in skip and their
// own descendants.
func DescendantsExcept(roots, skip []int) []ID {
	children := map[int][]Info{}
	for _, in := range All() {
		children[in.PPid] = append(children[in.PPid], in)
	}
	seen := map[int]bool{}
	for _, pid := range skip {
		seen[pid] = true
	}
	var out []ID
	queue := append([]int(nil), roots...)
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			if seen[c.Pid] {
				continue
			}
			seen[c.Pid] = true
			if c.Live() {
				out = append(out, c.ID)
			}
			queue = append(queue, c.Pid)
		}
	}
	return out
}

// SetChildSubreaper makes the calling process the reaper of its orphaned
// descendants.
func SetChildSubreaper() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}
