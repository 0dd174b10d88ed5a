package svprof

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/pprof/profile"
	"golang.org/x/sys/unix"
)

// Config says what to profile and how.
type Config struct {
	Dir       string        // the service directory
	Hz        int           // samples per second of CPU time, per thread
	Duration  time.Duration // how long to sample; the context may stop it earlier
	PerThread bool          // never use the service's cgroup, only its threads
}

// Stats describes a profiling run.
type Stats struct {
	Samples   uint64        // samples in the profile
	Lost      uint64        // samples the kernel dropped (ring buffer full)
	OneFrame  uint64        // samples whose user stack is a single frame
	Processes int           // distinct processes that were sampled
	Elapsed   time.Duration // how long sampling ran
	Cgroup    bool          // sampled the service's cgroup (else its threads)
	Down      bool          // the service went down before the end
	Kernel    bool          // samples taken in the kernel are kept
}

// Profile samples the service in dir at hz for d (or until ctx is done) and
// returns the profile. It is what an HTTP endpoint calls.
func Profile(ctx context.Context, dir string, hz int, d time.Duration) (*profile.Profile, error) {
	p, _, err := Run(ctx, Config{Dir: dir, Hz: hz, Duration: d})
	return p, err
}

// Run samples a service as cfg says and returns the profile and figures
// about the run. The profile passes profile.CheckValid.
func Run(ctx context.Context, cfg Config) (*profile.Profile, Stats, error) {
	if cfg.Hz <= 0 || cfg.Duration <= 0 {
		return nil, Stats{}, errors.New("rate and duration must be positive")
	}
	svc, _, err := openService(cfg.Dir)
	if err != nil {
		return nil, Stats{}, err
	}
	cpus, err := onlineCPUs()
	if err != nil {
		return nil, Stats{}, fmt.Errorf("unable to list CPUs: %w", err)
	}
	s := &sampler{
		svc:     svc,
		cpus:    cpus,
		period:  uint64(time.Second) / uint64(cfg.Hz),
		rings:   map[int]*ring{},
		covered: map[int]bool{},
		b:       newBuilder(),
	}
	defer s.close()
	start := time.Now()
	if err := s.attach(!cfg.PerThread); err != nil {
		return nil, Stats{}, err
	}
	s.stats.Cgroup = s.cgroupMode
	s.stats.Kernel = !s.exclKernel
	s.loop(ctx, cfg.Duration)
	s.stats.Elapsed = time.Since(start)
	p := s.b.profile(s.period, start, s.stats.Elapsed)
	s.stats.Samples = s.b.samples
	s.stats.OneFrame = s.b.oneFrame
	s.stats.Processes = len(s.b.pids)
	if err := p.CheckValid(); err != nil {
		return nil, s.stats, fmt.Errorf("invalid profile: %w", err)
	}
	return p, s.stats, nil
}

// sampler holds the perf events of one run.
type sampler struct {
	svc        *service
	cpus       []int
	period     uint64
	cgroupMode bool
	exclKernel bool
	fds        []int
	rings      map[int]*ring // per CPU
	covered    map[int]bool  // tids sampled by an event of their own or inherited
	b          *builder
	stats      Stats
}

// attach opens the events: one per CPU on the service's cgroup when it
// has one and the kernel takes it, else one per thread and CPU.
func (s *sampler) attach(tryCgroup bool) error {
	if tryCgroup && s.svc.group != "" {
		if s.attachCgroup() == nil {
			s.cgroupMode = true
			return nil
		}
		// perf_event on a cgroup v1 hierarchy (systemd's hybrid
		// layout), or an older kernel: sample the threads instead.
		s.close()
		s.rings = map[int]*ring{}
	}
	return s.rescan(true)
}

func (s *sampler) attachCgroup() error {
	gfd, err := unix.Open(s.svc.group, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(gfd)
	for _, cpu := range s.cpus {
		if err := s.open(gfd, cpu, unix.PERF_FLAG_PID_CGROUP, false); err != nil {
			return err
		}
	}
	return nil
}

// open opens one event and connects it to its CPU's ring buffer.
func (s *sampler) open(pid, cpu, flags int, inherit bool) error {
	fd, err := unix.PerfEventOpen(attr(s.period, inherit, s.exclKernel), pid, cpu, -1, flags|unix.PERF_FLAG_FD_CLOEXEC)
	if (err == unix.EACCES || err == unix.EPERM) && !s.exclKernel {
		// Not allowed to see the kernel: sample user space only.
		s.exclKernel = true
		fd, err = unix.PerfEventOpen(attr(s.period, inherit, true), pid, cpu, -1, flags|unix.PERF_FLAG_FD_CLOEXEC)
	}
	if err != nil {
		return err
	}
	s.fds = append(s.fds, fd)
	if r := s.rings[cpu]; r != nil {
		if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_SET_OUTPUT, r.fd); err != nil {
			return fmt.Errorf("PERF_EVENT_IOC_SET_OUTPUT: %w", err)
		}
		return nil
	}
	r, err := newRing(fd)
	if err != nil {
		return fmt.Errorf("unable to map perf ring buffer: %w", err)
	}
	s.rings[cpu] = r
	return nil
}

// rescan attaches to every thread of the service not yet sampled. The
// first time, a refusal of the kernel is an error.
func (s *sampler) rescan(first bool) error {
	for _, pid := range s.svc.procs() {
		for _, tid := range tasks(pid) {
			if s.covered[tid] {
				continue
			}
			if err := s.attachTask(tid); err != nil {
				if first && refused(err) {
					return fmt.Errorf("%w: perf_event_open: %w", errRefused, err)
				}
				if first && err != unix.ESRCH {
					return fmt.Errorf("unable to sample thread %d: %w", tid, err)
				}
				continue
			}
			s.covered[tid] = true
		}
	}
	return nil
}

// attachTask opens an inherited event on each CPU for one thread, so its
// later threads and children are sampled too.
func (s *sampler) attachTask(tid int) error {
	for _, cpu := range s.cpus {
		if err := s.open(tid, cpu, 0, true); err != nil {
			return err
		}
	}
	return nil
}

// loop drains the ring buffers every 100 ms and every 500 ms checks that
// the service is still there and, in thread mode, looks for processes that
// inheritance did not bring in (a restarted run, a daemon that joined the
// cgroup), until d has passed, ctx is done or the service is down.
func (s *sampler) loop(ctx context.Context, d time.Duration) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			s.drain()
			return
		case <-deadline.C:
			s.drain()
			return
		case <-tick.C:
		}
		s.drain()
		if n%5 != 0 {
			continue
		}
		if !s.svc.alive() {
			s.stats.Down = true
			s.drain()
			return
		}
		if !s.cgroupMode {
			s.rescan(false)
		}
	}
}

// drain reads every ring buffer.
func (s *sampler) drain() {
	for _, cpu := range s.cpus {
		if r := s.rings[cpu]; r != nil {
			r.drain(s.record)
		}
	}
	s.b.endDrain()
}

// record handles one record from a ring buffer.
func (s *sampler) record(typ uint32, misc uint16, body []byte) {
	switch typ {
	case unix.PERF_RECORD_SAMPLE:
		if smp, ok := parseSample(body); ok {
			s.b.add(smp)
		}
	case unix.PERF_RECORD_LOST, unix.PERF_RECORD_LOST_SAMPLES:
		s.stats.Lost += parseLost(typ, body)
	case unix.PERF_RECORD_FORK:
		if t, ok := parseTask(body); ok {
			s.covered[t.tid] = true
		}
	case unix.PERF_RECORD_EXIT:
		if t, ok := parseTask(body); ok {
			delete(s.covered, t.tid)
		}
	case unix.PERF_RECORD_COMM:
		if pid, tid, c, ok := parseComm(body); ok {
			s.b.setComm(pid, tid, c, misc&unix.PERF_RECORD_MISC_COMM_EXEC != 0)
		}
	}
}

// close unmaps the buffers and closes the events.
func (s *sampler) close() {
	for _, r := range s.rings {
		r.close()
	}
	for _, fd := range s.fds {
		unix.Close(fd)
	}
	s.fds = nil
}
