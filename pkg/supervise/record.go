package supervise

import (
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"svkit/pkg/cgroup"
	"svkit/pkg/proc"
)

// The process record, supervise/process, names the process supervise
// watches as the service: "PID STARTTIME BOOTID\n", with the start time in
// clock ticks after boot as /proc/PID/stat gives it. A supervise that starts
// on a directory whose previous supervise was killed reads it to find the
// service still running and re-adopt it instead of starting a second copy.
// The boot id keeps a record written before a reboot from matching a
// process that happens to have the same pid and start time since.
//
// Before it forks run, supervise writes "0 NOW BOOTID\n": a start is under
// way since NOW. A supervise killed between the fork and the record of the
// new pid leaves that line, and its successor finds the run it had started
// in the service's cgroup: the oldest process there started since NOW.
//
// Like status, the record is replaced through a rename and not synced: it
// describes running processes, which a power loss ends anyway.
const recordFile = "supervise/process"

func writeRecord(id proc.ID) error {
	line := strconv.Itoa(id.Pid) + " " + strconv.FormatUint(id.Start, 10) + " " + proc.BootID() + "\n"
	return replaceFile(recordFile, []byte(line), 0644)
}

// writeStarting records that run is about to be forked.
func writeStarting() error { return writeRecord(proc.ID{Pid: 0, Start: proc.Now()}) }

func removeRecord() { unix.Unlink(recordFile) }

// readRecord returns what the record of this boot names: a process (which
// may be gone since), or with Pid 0 the time a start began.
func readRecord() (proc.ID, bool) {
	b, err := os.ReadFile(recordFile)
	if err != nil {
		return proc.ID{}, false
	}
	f := strings.Fields(string(b))
	if len(f) != 3 {
		return proc.ID{}, false
	}
	var id proc.ID
	var err1, err2 error
	id.Pid, err1 = strconv.Atoi(f[0])
	id.Start, err2 = strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil || id.Pid < 0 || id.Pid == 1 || f[2] != proc.BootID() {
		return proc.ID{}, false
	}
	return id, true
}

// startedIn returns the run a start begun at since put in the group: the
// oldest live process there that started since then, not counting its own
// descendants.
func startedIn(g *cgroup.Group, since uint64) (proc.ID, bool) {
	var found []proc.Info
	for _, pid := range g.Procs() {
		in, err := proc.Stat(pid)
		if err == nil && in.Start >= since && in.State != 'Z' && in.State != 'X' {
			found = append(found, in)
		}
	}
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

// replaceFile writes data to path+".new" and renames it over path, so that
// readers see the old or the new content, never a mix. The file is created
// without following a symlink planted at the temporary name.
func replaceFile(path string, data []byte, mode uint32) error {
	tmp := path + ".new"
	fd, err := unix.Open(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
	if err != nil {
		return err
	}
	n, err := unix.Write(fd, data)
	unix.Close(fd)
	if err == nil && n < len(data) {
		err = unix.EIO
	}
	if err != nil {
		return err
	}
	return unix.Rename(tmp, path)
}
