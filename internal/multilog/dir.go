package multilog

import (
	"bytes"
	"errors"
	"os"
	"os/exec"

	"golang.org/x/sys/unix"

	"svkit/internal/diag"
	"svkit/internal/eintr"
	"svkit/pkg/tai64"
)

// logDir is one log directory of a script: its settings, descriptors and
// the size of its current file.
type logDir struct {
	m         *Logger
	path      string
	size      uint64
	num       uint64
	processor string
	hasProc   bool

	fd    int // the directory
	lock  int
	cur   int    // current, open for append
	bytes uint64 // size of current
	kick  uint64 // where the last asynchronous writeback started
	sel   bool   // the line being handled is selected for this dir
	pend  []byte // selected bytes of this read, written at its end
	due   bool   // the last write ended where current is to be rotated
}

const (
	oAppend = unix.O_WRONLY | unix.O_APPEND | unix.O_CREAT | unix.O_NONBLOCK | unix.O_NOFOLLOW | unix.O_CLOEXEC
	oTrunc  = unix.O_WRONLY | unix.O_TRUNC | unix.O_CREAT | unix.O_NONBLOCK | unix.O_NOFOLLOW | unix.O_CLOEXEC
	oRead   = unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOFOLLOW | unix.O_CLOEXEC
	// current is written at its end through the file offset, not with
	// O_APPEND, which splice(2) refuses.
	oCurrent = unix.O_WRONLY | unix.O_CREAT | unix.O_NONBLOCK | unix.O_NOFOLLOW | unix.O_CLOEXEC
)

// openCurrent opens current for writing at its end.
func (d *logDir) openCurrent() (int, error) {
	fd, err := d.openat("current", oCurrent, 0644)
	if err != nil {
		return -1, err
	}
	if _, err := unix.Seek(fd, 0, unix.SEEK_END); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// openat opens name in the directory without following a symlink,
// retrying on EINTR.
func (d *logDir) openat(name string, flags int, mode uint32) (int, error) {
	return eintr.Retry(func() (int, error) { return unix.Openat(d.fd, name, flags, mode) })
}

func (d *logDir) lstat(name string) (unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	return st, err
}

// fatalErr is a startup failure: the message and its cause.
type fatalErr struct {
	msg string
	err error
}

func (e *fatalErr) Error() string { return e.msg + diag.Str(e.err) }

func fatal(msg string, err error) error { return &fatalErr{msg, err} }

// open creates and locks the directory and recovers it after a crash, as
// 0.76's restart() does.
func (d *logDir) open() error {
	unix.Mkdir(d.path, 0700) // an existing dir is fine; open reports the rest
	fd, err := unix.Open(d.path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fatal("unable to open directory "+d.path+": ", err)
	}
	d.fd = fd
	d.lock, err = d.openat("lock", oAppend, 0600)
	if err == nil {
		err = unix.Flock(d.lock, unix.LOCK_EX|unix.LOCK_NB)
	}
	if err != nil {
		return fatal("unable to lock directory "+d.path+": ", err)
	}

	st, err := d.lstat("current")
	if err != nil && err != unix.ENOENT {
		return fatal("unable to stat "+d.path+"/current: ", err)
	}
	if err == nil && st.Mode&0100 != 0 {
		// Cleanly closed: continue it.
		fd, err := d.openCurrent()
		if err != nil {
			return fatal("unable to append to "+d.path+"/current: ", err)
		}
		d.cur = fd
		if err := unix.Fchmod(fd, 0644); err != nil {
			return fatal("unable to set mode of "+d.path+"/current: ", err)
		}
		if err := unix.Fstat(fd, &st); err != nil {
			return fatal("unable to stat "+d.path+"/current: ", err)
		}
		d.bytes = uint64(st.Size)
		d.kick = d.bytes
		return nil
	}

	// A crash (or the first start): finish what was left.
	unix.Unlinkat(d.fd, "state", 0)
	unix.Unlinkat(d.fd, "newstate", 0)
	processed := false
	st, err = d.lstat("processed")
	if err != nil && err != unix.ENOENT {
		return fatal("unable to stat "+d.path+"/processed: ", err)
	}
	if err == nil && st.Mode&0100 != 0 {
		processed = true
	}
	if processed {
		unix.Unlinkat(d.fd, "previous", 0)
		d.finish("processed", 's')
	} else {
		unix.Unlinkat(d.fd, "processed", 0)
		d.finish("previous", 'u')
	}
	d.finish("current", 'u')

	sfd, err := d.openat("state", oTrunc, 0644)
	if err != nil {
		return fatal("unable to write to "+d.path+"/state: ", err)
	}
	unix.Close(sfd)
	d.cur, err = d.openCurrent()
	if err != nil {
		return fatal("unable to write to "+d.path+"/current: ", err)
	}
	if err := unix.Fchmod(d.cur, 0644); err != nil {
		return fatal("unable to set mode of "+d.path+"/current: ", err)
	}
	d.syncDir()
	d.bytes = 0
	return nil
}

// pause warns "unable to ..., pausing: ERR" and sleeps, as 0.76 does on
// every write, rename and fsync error; the caller retries.
func (d *logDir) pause(msg string, err error) {
	d.m.pause(msg, err)
}

// retry runs op until it succeeds, pausing after each failure.
func (d *logDir) retry(msg string, op func() error) {
	for {
		err := eintr.Do(op)
		if err == nil {
			return
		}
		d.pause(msg, err)
	}
}

// syncDir makes renames and links in the directory durable.
func (d *logDir) syncDir() {
	d.retry("unable to write "+d.path+" to disk, pausing: ", func() error { return unix.Fsync(d.fd) })
}

// syncFile fsyncs a file of the directory by name (without following a
// symlink; a file that cannot be opened is left as it is).
func (d *logDir) syncFile(name string) {
	fd, err := d.openat(name, oRead, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	d.retry("unable to write "+d.path+"/"+name+" to disk, pausing: ", func() error { return unix.Fsync(fd) })
}

// finish archives file as @TAI64N.code: fsync, hard link, unlink, fsync the
// directory, then delete the oldest archives until fewer than num remain.
func (d *logDir) finish(file string, code byte) {
	if trace != nil {
		defer trace("finish %s as %c", file, code)
	}
	var st unix.Stat_t
	for {
		var err error
		st, err = d.lstat(file)
		if err == nil {
			break
		}
		if err == unix.ENOENT {
			return
		}
		d.pause("unable to stat "+d.path+"/"+file+", pausing: ", err)
	}
	if st.Nlink == 1 {
		d.syncFile(file)
		for {
			name := d.m.archiveName(code)
			err := eintr.Do(func() error { return unix.Linkat(d.fd, file, d.fd, name, 0) })
			if err == nil {
				if trace != nil {
					trace("link %s %s (%d bytes)", file, name, st.Size)
				}
				break
			}
			if err == unix.EEXIST {
				continue // archiveName is strictly increasing
			}
			d.pause("unable to link to "+d.path+"/"+name+", pausing: ", err)
		}
	}
	d.retry("unable to remove "+d.path+"/"+file+", pausing: ", func() error { return unix.Unlinkat(d.fd, file, 0) })
	d.syncDir()
	for !d.filesFit() {
	}
}

// filesFit removes the oldest archive if there are num or more, and reports
// whether there are now fewer than num (0.76's filesfit: names starting '@'
// of at least 25 bytes count; the oldest has the smallest first 25 bytes).
func (d *logDir) filesFit() bool {
	var names []string
	for {
		var err error
		names, err = d.readNames()
		if err == nil {
			break
		}
		d.pause("unable to read "+d.path+", pausing: ", err)
	}
	count := uint64(0)
	oldest := "@z"
	for _, n := range names {
		if len(n) >= 25 && n[0] == '@' {
			count++
			if n < oldest {
				oldest = n[:25]
			}
		}
	}
	if count < d.num {
		return true
	}
	for _, n := range names {
		if len(n) >= 25 && n[0] == '@' && n[:len(oldest)] == oldest {
			if err := unix.Unlinkat(d.fd, n, 0); err != nil && err != unix.ENOENT {
				d.pause("unable to remove "+d.path+"/"+n+", pausing: ", err)
			}
			break
		}
	}
	return false
}

func (d *logDir) readNames() ([]string, error) {
	fd, err := d.openat(".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), d.path)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, pe.Err
		}
		return nil, err
	}
	return names, nil
}

// write appends p to current, rotating exactly as 0.76's size rule says:
// the file never exceeds size, and it is rotated at the first line end
// once it holds size-2000 bytes or more. Each piece between rotation
// points is written with one write(2) (more only after a short write). A
// rotation at the very end of p is left due, for the caller to do once the
// input of p is consumed (rotateDue).
func (d *logDir) write(p []byte) {
	th := d.size - 2000
	for len(p) > 0 {
		if d.due || d.bytes >= d.size {
			d.rotate()
		}
		limit := uint64(len(p))
		if room := d.size - d.bytes; limit > room {
			limit = room
		}
		n, rot := limit, false
		start := uint64(0)
		if d.bytes < th {
			start = th - d.bytes - 1
		}
		if start < limit {
			if i := bytes.IndexByte(p[start:limit], '\n'); i >= 0 {
				n, rot = start+uint64(i)+1, true
			}
		}
		d.writeAll(p[:n])
		p = p[n:]
		if rot {
			if len(p) == 0 {
				d.due = true
			} else {
				d.rotate()
			}
		}
	}
}

func (d *logDir) writeAll(p []byte) {
	for len(p) > 0 {
		n, err := d.write1(p)
		if n > 0 {
			p = p[n:]
			d.bytes += uint64(n)
			d.writeback()
			continue
		}
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err == nil {
			err = unix.EIO
		}
		d.pause("unable to write to "+d.path+"/current, pausing: ", err)
	}
}

// writebackEvery is how much is written before writeback to disk is
// started, so that the fsync at rotation has little left to do.
const writebackEvery = 1 << 20

// writeback starts (without waiting for) the disk writes of what was
// appended since the last call, once a MiB has accumulated.
func (d *logDir) writeback() {
	if d.bytes < d.kick {
		d.kick = 0
	}
	if d.bytes-d.kick >= writebackEvery {
		unix.SyncFileRange(d.cur, int64(d.kick), int64(d.bytes-d.kick), unix.SYNC_FILE_RANGE_WRITE)
		d.kick = d.bytes
	}
}

// flush writes what this read selected for the directory.
func (d *logDir) flush() {
	if len(d.pend) > 0 {
		d.write(d.pend)
		d.pend = d.pend[:0]
	}
}

// rotate is 0.76's fullcurrent: current becomes previous, a new current is
// opened, and previous is processed and archived.
func (d *logDir) rotate() {
	d.due = false
	if trace != nil {
		trace("rotate at %d bytes", d.bytes)
	}
	d.retry("unable to write "+d.path+"/current to disk, pausing: ", func() error { return unix.Fsync(d.cur) })
	d.retry("unable to rename current to previous in directory "+d.path+", pausing: ", func() error {
		return unix.Renameat(d.fd, "current", d.fd, "previous")
	})
	d.syncDir()
	old := d.cur
	d.retry("unable to create "+d.path+"/current, pausing: ", func() error {
		fd, err := d.openCurrent()
		if err == nil {
			d.cur = fd
		}
		return err
	})
	d.bytes, d.kick = 0, 0
	d.retry("unable to set mode of "+d.path+"/current, pausing: ", func() error { return unix.Fchmod(d.cur, 0644) })
	d.retry("unable to set mode of "+d.path+"/previous, pausing: ", func() error { return unix.Fchmod(old, 0744) })
	unix.Close(old)
	if !d.hasProc {
		d.finish("previous", 's')
		return
	}
	d.process()
	d.finish("processed", 's')
}

// process runs the processor until it succeeds: stdin previous, stdout
// processed, fd 4 state, fd 5 newstate; then makes the results durable.
func (d *logDir) process() {
	for {
		ok := d.runProcessor()
		if ok {
			break
		}
		diag.Warn(d.m.stderr, prog, "processor failed in ", d.path, ", pausing")
		d.m.sleep()
	}
	finishFile := func(name string, mode uint32) {
		var fd int
		d.retry("unable to create "+d.path+"/"+name+", pausing: ", func() error {
			var err error
			fd, err = d.openat(name, oAppend, 0644)
			return err
		})
		d.retry("unable to write "+d.path+"/"+name+" to disk, pausing: ", func() error { return unix.Fsync(fd) })
		if mode != 0 {
			d.retry("unable to set mode of "+d.path+"/"+name+", pausing: ", func() error { return unix.Fchmod(fd, mode) })
		}
		unix.Close(fd)
	}
	finishFile("processed", 0744)
	finishFile("newstate", 0)
	d.retry("unable to remove "+d.path+"/previous, pausing: ", func() error { return unix.Unlinkat(d.fd, "previous", 0) })
	d.retry("unable to rename newstate to state in directory "+d.path+", pausing: ", func() error {
		return unix.Renameat(d.fd, "newstate", d.fd, "state")
	})
	d.syncDir()
}

// runProcessor runs the processor once and reports whether it exited 0.
func (d *logDir) runProcessor() bool {
	var files [4]*os.File
	defer func() {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}()
	opens := []struct {
		name  string
		flags int
	}{{"previous", oRead}, {"processed", oTrunc}, {"state", oRead}, {"newstate", oTrunc}}
	for i, o := range opens {
		fd, err := d.openat(o.name, o.flags, 0644)
		if err != nil {
			// 0.76's child dies with this message and exit 111.
			diag.Fatal(d.m.stderr, prog, diag.ExitTemp, "unable to run ", d.processor, ": ", diag.Str(err))
			return false
		}
		unix.SetNonblock(fd, false)
		files[i] = os.NewFile(uintptr(fd), o.name)
	}
	cmd := &exec.Cmd{
		Path:       "/bin/sh",
		Args:       []string{"sh", "-c", d.processor},
		Dir:        d.path,
		Stdin:      files[0],
		Stdout:     files[1],
		Stderr:     d.m.stderr,
		ExtraFiles: []*os.File{nil, files[2], files[3]},
	}
	err := cmd.Run()
	if err == nil {
		return true
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if !ee.Exited() {
			// 0.76 warns about the crash, pauses, then also says "failed".
			d.pause("processor crashed in "+d.path+", pausing: ", unix.ENOENT) // the errno 0.76 happens to print
		}
		return false
	}
	diag.Fatal(d.m.stderr, prog, diag.ExitTemp, "unable to run ", d.processor, ": ", diag.Str(err))
	return false
}

// quit flushes current, fsyncs it and marks it cleanly closed (0744).
func (d *logDir) quit() {
	d.flush()
	if d.due {
		d.rotate()
	}
	d.retry("unable to write "+d.path+"/current to disk, pausing: ", func() error { return unix.Fsync(d.cur) })
	d.retry("unable to set mode of "+d.path+"/current, pausing: ", func() error { return unix.Fchmod(d.cur, 0744) })
}

// close releases the descriptors (for in-process use; the program exits).
func (d *logDir) close() {
	for _, fd := range []int{d.cur, d.lock, d.fd} {
		if fd > 0 {
			unix.Close(fd)
		}
	}
}

// archiveName returns "@" + a TAI64N label of now + "." + code, strictly
// later than any name it returned before, so archives sort in the order
// they were made even within one microsecond.
func (m *Logger) archiveName(code byte) string {
	l := tai64.FromTime(m.now())
	if l.Sec < m.lastArchive.Sec || (l.Sec == m.lastArchive.Sec && l.Nano <= m.lastArchive.Nano) {
		l = m.lastArchive
		l.Nano += 1000
		if l.Nano >= 1e9 {
			l.Nano -= 1e9
			l.Sec++
		}
	}
	m.lastArchive = l
	b := make([]byte, 0, 27)
	b = append(b, '@')
	b = l.AppendHex(b)
	b = append(b, '.', code)
	return string(b)
}
