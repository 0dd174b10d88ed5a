package supervise

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

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
// Like status, the record is replaced through a rename and not synced: it
// describes running processes, which a power loss ends anyway.
const recordFile = "supervise/process"

func writeRecord(id proc.ID) error {
	line := strconv.Itoa(id.Pid) + " " + strconv.FormatUint(id.Start, 10) + " " + proc.BootID() + "\n"
	return replaceFile(recordFile, []byte(line), 0644)
}

func removeRecord() { unix.Unlink(recordFile) }

// readRecord returns the recorded process if it is still the same live
// incarnation.
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
	if err1 != nil || err2 != nil || id.Pid <= 1 || f[2] != proc.BootID() || !id.Alive() {
		return proc.ID{}, false
	}
	return id, true
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
