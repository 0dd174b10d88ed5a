package svscan

import (
	"io"
	"os"
	"os/signal"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"svkit/internal/diag"
	"svkit/internal/eintr"
	"svkit/internal/pathexec"
	"svkit/internal/threads"
)

// Interval is the time between two passes, as in 0.76.
const Interval = 5 * time.Second

// settle is how long svscan waits after an inotify event before it scans,
// so that a burst of creations costs one pass and a service directory made
// in place (mkdir, then run and log/) is seen whole.
const settle = 50 * time.Millisecond

// spareThreads is how many idle OS threads svscan makes at start-up
// besides those busy then (sysmon, os/signal's two, the running one): one
// per goroutine of it that may be in a system call at once (the scan loop,
// the inotify and timerfd readers) and the runtime's own (one running Go
// code, one waiting in the poller), with room for one more.
const spareThreads = 6

// Exit codes of svscan. It runs forever unless an ordered shutdown ends it;
// with a main service, it exits with that service's code instead (main.go).
const (
	ExitShutdown = 0   // ordered shutdown: every supervise exited in time
	ExitKilled   = 111 // ordered shutdown: the timeout passed and SIGKILL was used
)

// Main is svscan: args is the full argv.
func Main(argv []string, _ io.Reader, _, stderr io.Writer) int {
	opt, ok := ParseArgs(argv[1:])
	if !ok {
		return diag.Usage(stderr, prog, Synopsis)
	}
	if opt.Dir != "" {
		if err := chdir(opt.Dir); err != nil {
			return diag.Fatal(stderr, prog, diag.ExitTemp, "unable to chdir to ", opt.Dir, ": ", diag.Str(err))
		}
	}
	// svscan's work is sequential. Setting GOMAXPROCS also stops the
	// runtime from re-reading the cgroup CPU limit every second, so an
	// idle svscan stays asleep between passes.
	// Under -i too: the supervisors spend their time in system calls, and
	// every P more is threads more (one made whenever a system call
	// blocks), for no measurable gain in a shutdown.
	runtime.GOMAXPROCS(1)
	s := NewScanner(stderr, pathexec.Environ())
	if opt.InProcess {
		if err := s.hostInProcess(); err != nil {
			return diag.Fatal(stderr, prog, diag.ExitTemp, "unable to host supervisors in svscan (-i): ", diag.Str(err))
		}
	}
	return s.Run(opt.Ordered || os.Getpid() == 1, opt.KillAfter)
}

func chdir(dir string) error {
	return eintr.Do(func() error { return unix.Chdir(dir) })
}

// Run scans forever. With ordered set, SIGTERM and SIGINT start an ordered
// shutdown bounded by killAfter, and Run returns its exit code; otherwise
// those signals keep their default action (svscan dies, the supervise
// processes live on), as in 0.76. With ordered set, the end of the main
// service (main.go) also ends the tree, and Run returns its exit code.
func (s *Scanner) Run(ordered bool, killAfter time.Duration) int {
	sigs := notifySignals(ordered)
	created := watchDir()
	clk := newClock()
	// Every thread svscan will need, made before a service can fill a
	// task limit: see package threads.
	threads.Spare(spareThreads)
	due := time.Now()
	reset := func(d time.Duration) {
		clk.arm(d)
		due = time.Now().Add(d)
	}
	pass := func() {
		s.Pass()
		if ordered {
			s.findMain()
		}
		reset(Interval)
	}
	pass()
	for {
		if code, ended := s.mainEnded(); ended {
			s.Shutdown(sigs, killAfter)
			s.keeper.kill()
			return code
		}
		select {
		case <-sigs.chld:
			s.Reap()
		case <-sigs.alrm:
			pass()
		case <-sigs.stop:
			code := s.Shutdown(sigs, killAfter)
			s.keeper.kill()
			return s.stoppedCode(code)
		case <-created:
			if time.Until(due) > settle {
				reset(settle)
			}
		case <-clk.C:
			pass()
		case <-s.endedC():
			s.Reap()
		case <-s.main.C:
		}
	}
}

// signals delivers the signals svscan acts on, one channel each. A
// channel of one is enough: a signal that arrives while one of its kind
// is still waiting asks for nothing more. With one channel for all of
// them, a burst of SIGCHLD while svscan was busy could fill it and the
// runtime would drop a SIGTERM that came meanwhile, and the ordered
// shutdown it asked for would never start.
type signals struct {
	chld, alrm, stop chan os.Signal
}

// notifySignals starts the delivery of SIGCHLD and SIGALRM, and of
// SIGTERM and SIGINT (stop) when ordered is set.
func notifySignals(ordered bool) signals {
	s := signals{chld: make(chan os.Signal, 1), alrm: make(chan os.Signal, 1), stop: make(chan os.Signal, 1)}
	signal.Notify(s.chld, unix.SIGCHLD)
	signal.Notify(s.alrm, unix.SIGALRM)
	if ordered {
		signal.Notify(s.stop, unix.SIGTERM, unix.SIGINT)
	}
	return s
}
