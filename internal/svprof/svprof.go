// Package svprof is svkit's service profiler: it samples where every
// process and thread of a supervised service spends its CPU time and writes
// a gzipped profile.proto that `go tool pprof` reads.
//
//	svprof [-p] [-F hz] [-d seconds] [-o file] dir
//
// It finds the service's processes through supervise/status and, where
// svkit's supervise gave the service a cgroup v2 of its own, that cgroup.
// Samples come from perf_event_open: a software CPU clock with the user call
// chain (unwound by the kernel through frame pointers), one event per CPU on
// the service's cgroup where the kernel allows it, else one per thread and
// CPU, inherited by new threads and children. Addresses are resolved while
// the processes run, from /proc/PID/maps and the ELF files opened through
// /proc/PID/map_files: symbol tables, Go's pclntab and DWARF line tables.
//
// Run is the library entry point (an HTTP handler can call Profile); Main
// is the command.
package svprof

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"svkit/internal/diag"
	"svkit/internal/sgetopt"
	"svkit/pkg/svdir"
)

const (
	prog     = "svprof"
	synopsis = "svprof [-p] [-F hz] [-d seconds] [-o file] dir"
)

// Main runs svprof with argv; INT and TERM stop sampling early and the
// profile is still written.
func Main(argv []string, _ io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return Command(ctx, argv, stdout, stderr)
}

// Command is svprof with a context that stops sampling when done.
func Command(ctx context.Context, argv []string, stdout, stderr io.Writer) int {
	cfg := Config{Hz: 99, Duration: 10 * time.Second}
	out := ""
	g := sgetopt.New(argv, "pF:d:o:", stderr)
	for c := g.Next(); c != sgetopt.EOF; c = g.Next() {
		switch c {
		case 'p':
			cfg.PerThread = true
		case 'F':
			n, err := strconv.Atoi(g.Arg)
			if err != nil || n < 1 || n > 10000 {
				return diag.Usage(stderr, prog, synopsis+" (hz: 1 to 10000)")
			}
			cfg.Hz = n
		case 'd':
			f, err := strconv.ParseFloat(g.Arg, 64)
			if err != nil || !(f > 0 && f <= 86400) {
				return diag.Usage(stderr, prog, synopsis+" (seconds: above 0, at most 86400)")
			}
			cfg.Duration = time.Duration(f * float64(time.Second))
		case 'o':
			if g.Arg == "" {
				return diag.Usage(stderr, prog, synopsis)
			}
			out = g.Arg
		default:
			return diag.Usage(stderr, prog, synopsis)
		}
	}
	rest := g.Rest()
	if len(rest) != 1 || rest[0] == "" {
		return diag.Usage(stderr, prog, synopsis)
	}
	cfg.Dir = rest[0]
	if out == "" {
		out = serviceName(cfg.Dir) + ".pb.gz"
	}

	// Make sure the profile can be written before sampling.
	w, err := createOutput(out, stdout)
	if err != nil {
		return diag.Fatal(stderr, prog, diag.ExitTemp, "unable to create ", out, ": ", errText(err))
	}
	defer w.abort()

	p, st, err := Run(ctx, cfg)
	if err != nil {
		return diag.Fatal(stderr, prog, diag.ExitTemp, runError(err))
	}
	if err := p.Write(w); err != nil {
		return diag.Fatal(stderr, prog, diag.ExitTemp, "unable to write ", out, ": ", errText(err))
	}
	if err := w.commit(); err != nil {
		return diag.Fatal(stderr, prog, diag.ExitTemp, "unable to write ", out, ": ", errText(err))
	}
	if st.Down {
		diag.Warn(stderr, prog, cfg.Dir, " went down after ", seconds(st.Elapsed), " seconds; profile written")
	}
	if st.Samples > 0 && st.OneFrame*10 >= st.Samples*9 {
		diag.Warn(stderr, prog, strconv.FormatUint(st.OneFrame*100/st.Samples, 10),
			"% of stacks are one frame deep: the service's code seems to lack frame pointers (build it with -fno-omit-frame-pointer)")
	}
	io.WriteString(stderr, summary(st, out))
	return 0
}

// summary is the last line svprof prints.
func summary(st Stats, out string) string {
	mode := "threads"
	if st.Cgroup {
		mode = "cgroup"
	}
	if out == "-" {
		out = "stdout"
	}
	return fmt.Sprintf("%s: %d samples, %d lost, %d processes, %s seconds (%s); wrote %s\n",
		prog, st.Samples, st.Lost, st.Processes, seconds(st.Elapsed), mode, out)
}

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) }

// serviceName is the last element of the service directory's path.
func serviceName(dir string) string {
	n := filepath.Base(filepath.Clean(dir))
	if n == "/" || n == "." || n == ".." {
		if abs, err := filepath.Abs(dir); err == nil {
			n = filepath.Base(abs)
		}
	}
	if n == "/" || n == "" {
		n = "root"
	}
	return n
}

// runError words an error of Run for a fatal message.
func runError(err error) string {
	var perr *os.PathError
	switch {
	case errors.Is(err, errRefused):
		return err.Error() + " (perf_event_paranoid above 1 without root, or a seccomp filter blocking perf_event_open, as in many containers)"
	case errors.Is(err, ErrDown), errors.Is(err, ErrNoSupervise), errors.As(err, new(*svdir.SuperviseError)):
		return err.Error()
	case errors.As(err, &perr):
		return fmt.Sprintf("%s: %s", perr.Path, diag.Str(perr.Err))
	}
	if e := diag.Errno(err); e != 0 {
		// Replace Go's errno text with djb's at the end of the message.
		return trimErrno(err.Error(), e.Error()) + diag.ErrnoStr(e)
	}
	return err.Error()
}

func trimErrno(msg, goText string) string {
	if len(msg) >= len(goText) && msg[len(msg)-len(goText):] == goText {
		return msg[:len(msg)-len(goText)]
	}
	return msg + ": "
}

func errText(err error) string {
	if diag.Errno(err) != 0 {
		return diag.Str(err)
	}
	return err.Error()
}

// output is where the profile goes: a temporary file renamed into place
// when complete (so a reader never sees half a profile), or stdout.
type output struct {
	f      *os.File
	stdout io.Writer
	path   string
	done   bool
}

func createOutput(path string, stdout io.Writer) (*output, error) {
	if path == "-" {
		return &output{stdout: stdout}, nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, err
	}
	return &output{f: f, path: path}, nil
}

func (o *output) Write(b []byte) (int, error) {
	if o.f == nil {
		return o.stdout.Write(b)
	}
	return o.f.Write(b)
}

func (o *output) commit() error {
	if o.f == nil {
		return nil
	}
	if err := o.f.Chmod(0644); err != nil {
		return err
	}
	if err := o.f.Sync(); err != nil {
		return err
	}
	if err := o.f.Close(); err != nil {
		return err
	}
	if err := os.Rename(o.f.Name(), o.path); err != nil {
		return err
	}
	o.done = true
	return nil
}

func (o *output) abort() {
	if o.f != nil && !o.done {
		o.f.Close()
		os.Remove(o.f.Name())
	}
}
