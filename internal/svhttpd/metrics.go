package svhttpd

// GET /metrics: the Prometheus text format (version 0.0.4), one family per
// fact, each sample labelled with the one label service ("web", "web/log").

import (
	"bufio"
	"bytes"
	"io"
	"runtime"
	"strconv"
	"strings"
	"svkit/pkg/svdir"

	"golang.org/x/sys/unix"
)

// Version is svkit's version, as in package/version (a test keeps them
// the same).
const Version = "0.1.0"

// family is one metric family: how it is described and how a sample is
// taken from a service's entry (ok false: no sample for that service).
type family struct {
	name, typ, help string
	value           func(e *Entry, c *cgroupStats) (float64, bool)
}

func flag(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// families are the per-service metrics, in the order they are written.
var families = []family{
	{"svkit_service_up", "gauge", "Whether the service's process is running (1) or not (0).",
		func(e *Entry, _ *cgroupStats) (float64, bool) { return flag(e.OK != nil && e.OK.Pid != 0), true }},
	{"svkit_service_ready", "gauge", "Whether the service is up and ready (readiness file, or up where it has none).",
		func(e *Entry, _ *cgroupStats) (float64, bool) {
			if e.OK == nil {
				return 0, true
			}
			if e.OK.Ready == nil {
				return flag(e.OK.Pid != 0), true
			}
			return flag(*e.OK.Ready), true
		}},
	{"svkit_service_desired_up", "gauge", "Whether supervise wants the service up (svc -u); 0 for down and once.",
		func(e *Entry, _ *cgroupStats) (float64, bool) {
			if e.OK == nil {
				return 0, false
			}
			return flag(e.OK.Wanted != nil && *e.OK.Wanted == "up"), true
		}},
	{"svkit_service_normally_up", "gauge", "Whether the service directory has no down file.",
		func(e *Entry, _ *cgroupStats) (float64, bool) {
			if e.OK == nil {
				return 0, false
			}
			return flag(e.OK.NormallyUp), true
		}},
	{"svkit_service_paused", "gauge", "Whether the service is up and paused (svc -p).",
		func(e *Entry, _ *cgroupStats) (float64, bool) { return flag(e.OK != nil && e.OK.Paused), true }},
	{"svkit_service_supervised", "gauge", "Whether a supervise process is running for the service (supervise/ok has a reader).",
		func(e *Entry, _ *cgroupStats) (float64, bool) {
			if e.OK != nil {
				return flag(e.OK.Supervised), true
			}
			return flag(e.Err.Supervised), true
		}},
	{"svkit_service_failed", "gauge", "Whether supervise gave up on the service (permafail): it stays down until svc -u.",
		func(e *Entry, _ *cgroupStats) (float64, bool) {
			if e.OK == nil {
				return 0, false
			}
			return flag(e.OK.Failed != nil && *e.OK.Failed), true
		}},
	{"svkit_service_state_change_timestamp_seconds", "gauge", "Unix time of the service's last start or stop.",
		func(e *Entry, _ *cgroupStats) (float64, bool) {
			if e.OK == nil || e.OK.SinceNs == nil {
				return 0, false
			}
			return float64(*e.OK.SinceNs) / 1e9, true
		}},
	{"svkit_service_restarts_total", "counter", "Automatic restarts since the service was last wanted up.",
		func(e *Entry, _ *cgroupStats) (float64, bool) {
			if e.OK == nil || e.OK.Restarts == nil {
				return 0, false
			}
			return float64(*e.OK.Restarts), true
		}},
	{"svkit_service_last_exit_code", "gauge", "Exit code of the service's last run that exited (not killed by a signal).",
		func(e *Entry, _ *cgroupStats) (float64, bool) {
			if e.OK == nil || e.OK.LastExitCode == nil {
				return 0, false
			}
			return float64(*e.OK.LastExitCode), true
		}},
	{"svkit_service_cpu_seconds_total", "counter", "CPU time used by the processes of the service's own cgroup (cpu.stat usage_usec).",
		func(_ *Entry, c *cgroupStats) (float64, bool) {
			if c == nil {
				return 0, false
			}
			return c.cpu, c.hasCPU
		}},
	{"svkit_service_memory_bytes", "gauge", "Memory charged to the service's own cgroup (memory.current).",
		func(_ *Entry, c *cgroupStats) (float64, bool) {
			if c == nil {
				return 0, false
			}
			return c.mem, c.hasMem
		}},
	{"svkit_service_processes", "gauge", "Processes in the service's own cgroup (cgroup.procs).",
		func(_ *Entry, c *cgroupStats) (float64, bool) {
			if c == nil {
				return 0, false
			}
			return c.procs, c.hasProcs
		}},
}

// WriteMetrics writes the metrics of entries (and their loggers) to w.
func WriteMetrics(w io.Writer, entries []*Entry) error {
	type row struct {
		label string
		e     *Entry
		c     *cgroupStats
	}
	var rows []row
	for _, e := range entries {
		rows = append(rows, row{e.Name(), e, cgroupOf(e)})
		if e.Log != nil {
			rows = append(rows, row{e.Log.Name(), e.Log, cgroupOf(e.Log)})
		}
	}
	bw := bufio.NewWriterSize(w, 32*1024)
	for _, f := range families {
		bw.WriteString("# HELP " + f.name + " " + f.help + "\n# TYPE " + f.name + " " + f.typ + "\n")
		for _, r := range rows {
			v, ok := f.value(r.e, r.c)
			if !ok {
				continue
			}
			bw.WriteString(f.name + `{service="` + escapeLabel(r.label) + `"} ` + strconv.FormatFloat(v, 'g', -1, 64) + "\n")
		}
	}
	bw.WriteString("# HELP svkit_build_info svkit's version and the Go version svhttpd was built with.\n# TYPE svkit_build_info gauge\n")
	bw.WriteString(`svkit_build_info{version="` + escapeLabel(Version) + `",goversion="` + escapeLabel(runtime.Version()) + "\"} 1\n")
	return bw.Flush()
}

// escapeLabel escapes a label value for the text format: backslash,
// double quote and line feed.
func escapeLabel(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// cgroupStats is what the service's own cgroup accounts.
type cgroupStats struct {
	cpu, mem, procs          float64
	hasCPU, hasMem, hasProcs bool
}

// cgroupRoots are where the cgroup v2 hierarchy may be mounted.
var cgroupRoots = []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}

// cgroupOf reads the accounting of the cgroup svkit's supervise made for
// the service (svkit-DEV-INO of its directory), found through the
// service's process: nil when the service is down, has no cgroup of its
// own (no-cgroup, 0.76's supervise) or the files are not there.
func cgroupOf(e *Entry) *cgroupStats {
	if e.OK == nil || e.OK.Pid == 0 {
		return nil
	}
	var st unix.Stat_t
	if unix.Stat(e.OK.Dir, &st) != nil {
		return nil
	}
	want := "svkit-" + strconv.FormatUint(st.Dev, 16) + "-" + strconv.FormatUint(st.Ino, 16)
	b, err := readSmall("/proc/"+strconv.FormatUint(uint64(e.OK.Pid), 10)+"/cgroup", 4096)
	if err != nil {
		return nil
	}
	var rel string
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			rel = p
		}
	}
	if !strings.HasSuffix(rel, "/"+want) {
		return nil
	}
	for _, root := range cgroupRoots {
		dir := root + rel
		procs, err := readSmall(dir+"/cgroup.procs", 1<<20)
		if err != nil {
			continue
		}
		c := &cgroupStats{procs: float64(bytes.Count(procs, []byte("\n"))), hasProcs: true}
		if b, err := readSmall(dir+"/cpu.stat", 4096); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
					if n, err := strconv.ParseUint(v, 10, 64); err == nil {
						c.cpu, c.hasCPU = float64(n)/1e6, true
					}
				}
			}
		}
		if b, err := readSmall(dir+"/memory.current", 64); err == nil {
			if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil {
				c.mem, c.hasMem = float64(n), true
			}
		}
		return c
	}
	return nil
}

// readSmall reads at most limit bytes of a kernel file without following a
// symlink, through svdir's bounded reader (raw system calls: os.File would
// also try to register it with the poller).
func readSmall(path string, limit int) ([]byte, error) {
	return svdir.ReadFile(unix.AT_FDCWD, path, limit)
}
