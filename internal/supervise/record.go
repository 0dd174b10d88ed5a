package supervise

import (
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"svkit/internal/cgroup"
	"svkit/internal/proc"
	"svkit/pkg/svdir"
)

// The process record, supervise/process, names the process supervise
// watches as the service: "PID STARTTIME BOOTID INODE\n", with the start
// time in clock ticks after boot as /proc/PID/stat gives it. A supervise
// that starts on a directory whose previous supervise was killed reads it
// to find the service still running and re-adopt it instead of starting a
// second copy. The boot id keeps a record written before a reboot from
// matching a process that happens to have the same pid and start time
// since; the pidfs inode number (0 before Linux 6.9) one that took the pid
// within the same clock tick.
//
// Before it forks run, supervise writes "0 NOW BOOTID PGID SID\n": a start
// is under way since NOW, by a supervise in that process group and session.
// A supervise killed between the fork and the record of the new pid leaves
// that line, and its successor finds the run it had started: the oldest
// process started since NOW in the service's cgroup or, without a cgroup,
// in that process group and session with the service directory as its
// working directory.
//
// When nothing runs the record is empty. Like status, it is replaced
// through svdir.Replace and not synced: it describes running processes,
// which a power loss ends anyway.
const recordFile = svdir.ProcessPath

// record is what supervise/process says.
type record struct {
	id         proc.ID // the service's process; Pid 0 while a start is under way since id.Start
	inode      uint64  // the process's pidfs inode, or 0
	pgrp, sess int     // for a start: the process group and session of run
}

func (s *supervisor) writeRecord(h *proc.Handle) error {
	line := strconv.Itoa(h.Pid) + " " + strconv.FormatUint(h.Start, 10) + " " + proc.BootID() + " " +
		strconv.FormatUint(h.Inode(), 10) + "\n"
	return svdir.Replace(s.dirfd, recordFile, []byte(line), 0644)
}

// writeStarting records that a start is under way since the given time,
// by a supervise in process group pgrp and session sess: run is about to
// be forked, or has exited leaving a daemon to follow.
func (s *supervisor) writeStarting(since uint64, pgrp, sess int) error {
	line := "0 " + strconv.FormatUint(since, 10) + " " + proc.BootID() + " " +
		strconv.Itoa(pgrp) + " " + strconv.Itoa(sess) + "\n"
	return svdir.Replace(s.dirfd, recordFile, []byte(line), 0644)
}

// removeRecord empties the record, if there is one: nothing runs.
// Emptying it rather than removing it keeps the file and its spare for the
// next start, so a start and a stop create no file (see svdir.Replace).
func (s *supervisor) removeRecord() {
	var st unix.Stat_t
	if unix.Fstatat(s.dirfd, recordFile, &st, unix.AT_SYMLINK_NOFOLLOW) != nil || st.Size == 0 {
		return
	}
	if err := svdir.Replace(s.dirfd, recordFile, nil, 0644); err != nil {
		unix.Unlinkat(s.dirfd, recordFile, 0)
	}
}

// readRecord returns what the record of this boot says.
func (s *supervisor) readRecord() (record, bool) {
	b, err := svdir.ReadFile(s.dirfd, recordFile, 256)
	if err != nil {
		return record{}, false
	}
	return parseRecord(b, proc.BootID())
}

// parseRecord parses a record written during the boot named boot.
func parseRecord(b []byte, boot string) (record, bool) {
	f := strings.Fields(string(b))
	if len(f) < 3 || len(f) > 5 {
		return record{}, false
	}
	var r record
	var err1, err2 error
	r.id.Pid, err1 = strconv.Atoi(f[0])
	r.id.Start, err2 = strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil || r.id.Pid < 0 || r.id.Pid == 1 || f[2] != boot {
		return record{}, false
	}
	switch {
	case r.id.Pid == 0 && len(f) == 5:
		r.pgrp, err1 = strconv.Atoi(f[3])
		r.sess, err2 = strconv.Atoi(f[4])
	case r.id.Pid != 0 && len(f) == 4:
		r.inode, err1 = strconv.ParseUint(f[3], 10, 64)
	case r.id.Pid != 0 && len(f) == 3: // written before the inode was
	default:
		return record{}, false
	}
	if err1 != nil || err2 != nil {
		return record{}, false
	}
	return r, true
}

// startedIn returns the run a start begun at since put in the group: the
// oldest live process there that started since then, not counting its own
// descendants.
func startedIn(g *cgroup.Group, since uint64) (proc.ID, bool) {
	var found []proc.Info
	for _, in := range members(g) {
		if in.Start >= since {
			found = append(found, in)
		}
	}
	return oldestRoot(found)
}

// startedHere returns, where there is no cgroup, the run the start r
// left: the oldest live process started since, in the recorded process
// group and session, whose working directory is the service directory
// (dirfd). A run that has already changed directory is not found.
func startedHere(r record, self, dirfd int) (proc.ID, bool) {
	var here unix.Stat_t
	if unix.Fstat(dirfd, &here) != nil {
		return proc.ID{}, false
	}
	var found []proc.Info
	for _, in := range proc.All() {
		if in.Pid == self || in.Start < r.id.Start || in.Pgrp != r.pgrp || in.Session != r.sess || !in.Live() {
			continue
		}
		var st unix.Stat_t
		if unix.Stat("/proc/"+strconv.Itoa(in.Pid)+"/cwd", &st) == nil && st.Dev == here.Dev && st.Ino == here.Ino {
			found = append(found, in)
		}
	}
	return oldestRoot(found)
}

// oldestRoot returns the process of found that started first among those
// whose parent is not in found.
func oldestRoot(found []proc.Info) (proc.ID, bool) {
	var best proc.Info
	for _, in := range found {
		if slices.ContainsFunc(found, func(p proc.Info) bool { return p.Pid == in.PPid }) {
			continue // a child of another candidate
		}
		if best.Pid == 0 || in.Start < best.Start || in.Start == best.Start && in.Pid < best.Pid {
			best = in
		}
	}
	return best.ID, best.Pid != 0
}
