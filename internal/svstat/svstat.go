// Package svstat is daemontools' svstat: one status line per service
// directory, computed from DIR/down, DIR/supervise/ok and the 18-byte
// DIR/supervise/status.
//
//	svstat dirs...
//	svstat -j dirs...
//	svstat -l dirs...
//
// With -j (svkit's extension, only as the first argument) it prints one JSON
// object per directory instead, with svkit's extended state from
// supervise/info (see Object); with -l (likewise) 0.76's line followed by
// indented lines saying what is wrong with a service (see Long).
//
// Line formats the line for a decoded record; Status produces the whole
// text after "DIR: " for a directory, including its error variants.
package svstat

import (
	"bufio"
	"io"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"svkit/internal/diag"
	"svkit/pkg/svdir"
	"svkit/pkg/tai64"
)

const prog = "svstat"

// Seconds is the "S seconds" figure of svstat: now minus the record's TAI64
// seconds (nanoseconds ignored), 0 when the stamp is in the future. Like
// 0.76 it goes through a double (tai_approx), so differences beyond 2^53
// round the same way.
func Seconds(r svdir.Status, now time.Time) uint64 {
	n := tai64.FromTime(now).Sec
	when := r.When.Sec
	if n < when {
		when = n
	}
	return uint64(float64(n - when))
}

// Line is the text svstat prints after "DIR: " for a running supervise whose
// status record is r; normallyUp is true when DIR/down does not exist.
func Line(r svdir.Status, normallyUp bool, now time.Time) string {
	b := make([]byte, 0, 80)
	if r.Pid != 0 {
		b = append(b, "up (pid "...)
		b = strconv.AppendUint(b, uint64(uint32(r.Pid)), 10)
		b = append(b, ") "...)
	} else {
		b = append(b, "down "...)
	}
	b = strconv.AppendUint(b, Seconds(r, now), 10)
	b = append(b, " seconds"...)
	if r.Pid != 0 && !normallyUp {
		b = append(b, ", normally down"...)
	}
	if r.Pid == 0 && normallyUp {
		b = append(b, ", normally up"...)
	}
	if r.Pid != 0 && r.Paused {
		b = append(b, ", paused"...)
	}
	if r.Pid == 0 && r.Want == svdir.WantUp {
		b = append(b, ", want up"...)
	}
	if r.Pid != 0 && r.Want == svdir.WantDown {
		b = append(b, ", want down"...)
	}
	return string(b)
}

// Status returns the text svstat prints after "DIR: " for dir at time now:
// the status line, or one of 0.76's error variants.
func Status(dir string, now time.Time) string {
	l := look(dir)
	defer l.close()
	if l.err != "" {
		return l.err
	}
	r, err := svdir.ReadStatus(l.dfd)
	if err != nil {
		return err.Error()
	}
	return Line(r, l.normallyUp, now)
}

// looked is what svstat checks before it reads the status record: the
// directory (an O_PATH descriptor), DIR/down and supervise/ok. err is the
// text of svstat's error line when one of them failed.
type looked struct {
	dfd        int
	normallyUp bool
	err        string
}

func (l *looked) close() {
	if l.dfd >= 0 {
		unix.Close(l.dfd)
		l.dfd = -1
	}
}

// look performs svstat's checks in 0.76's order: chdir, stat down, open
// supervise/ok.
func look(dir string) looked {
	dfd, err := svdir.OpenDir(dir)
	if err != nil {
		return looked{dfd: -1, err: "unable to chdir: " + diag.Str(err)}
	}
	l := looked{dfd: dfd}
	var st unix.Stat_t
	if err := unix.Fstatat(dfd, svdir.DownFile, &st, 0); err != nil {
		if err != unix.ENOENT {
			l.err = "unable to stat down: " + diag.Str(err)
			return l
		}
		l.normallyUp = true
	}
	if err := svdir.OpenOKAt(dfd); err != nil {
		if err == unix.ENXIO {
			l.err = "supervise not running"
		} else {
			l.err = "unable to open supervise/ok: " + svdir.ErrText(err)
		}
	}
	return l
}

// Main runs svstat with argv (argv[0] is the program name). Like 0.76 it
// takes no options: every argument, "-z" or "--" included, is a directory.
// The exceptions are svkit's two modes: when the first argument is exactly
// "-j", every directory gets one JSON object per line instead (see JSON),
// and when it is exactly "-l", 0.76's line followed by svkit's long
// description (see Long). A "--" right after "-j" or "-l" is skipped, so
// "svstat -j -- -j" reports on a directory named "-j".
func Main(argv []string, _ io.Reader, stdout, stderr io.Writer) int {
	fd, err := unix.Open(".", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return diag.Fatal(stderr, prog, diag.ExitTemp, "unable to open current directory: ", diag.Str(err))
	}
	unix.Close(fd)
	args := argv[min(1, len(argv)):]
	if len(args) > 0 && (args[0] == "-j" || args[0] == "-l") {
		mode := args[0]
		args = args[1:]
		if len(args) > 0 && args[0] == "--" {
			args = args[1:]
		}
		if mode == "-l" {
			return mainLong(args, stdout)
		}
		return mainJSON(args, stdout)
	}
	w := bufio.NewWriterSize(stdout, 1024)
	for _, dir := range args {
		w.WriteString(dir)
		w.WriteString(": ")
		w.WriteString(Status(dir, time.Now()))
		w.WriteString("\n")
	}
	w.Flush()
	return 0
}
