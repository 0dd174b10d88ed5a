// Package threads makes a Go supervisor create, at start-up, every OS
// thread it will ever need, so that it survives a task limit that a
// runaway service has exhausted.
//
// A C program that cannot fork gets EAGAIN and carries on. The Go runtime
// creates threads lazily, whenever a goroutine blocks in a system call for
// longer than a scheduler tick while other work waits, and a runtime that
// cannot create a thread dies at once ("fatal error: newosproc"); nothing
// can catch that. Under a task limit (systemd's TasksMax, a container's
// pids.max) that one service has filled by forking, every Go program of the
// tree would die the first time it needed one more thread: supervise with
// the service it watches, svscan with the whole tree's scanner.
//
// The runtime never ends a thread it has created (except one whose
// goroutine exits while locked to it): an idle thread waits for reuse. So
// Spare holds n goroutines locked to n threads at once, which makes the
// runtime create them, and then lets them go: the threads stay, idle, and
// later system calls of the program run on them. A program whose
// goroutines that make system calls number g needs at most about 6+g
// threads: sysmon, the template thread and the signal mask thread of
// os/signal, the thread running Go code, one waiting in the network
// poller, and one per goroutine in a system call.
package threads

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// Spare makes the runtime create k threads more than those busy now and
// leaves them idle for later use. It returns the number of threads the
// process has afterwards (0 if /proc cannot tell).
func Spare(k int) int {
	hold(k)
	return Count()
}

// hold locks k goroutines to k threads at the same time, each waiting until
// all are locked, then unlocks them. A goroutine that blocks while locked
// keeps its thread to itself, so the runtime starts another thread to run
// the next one: k threads, besides those of the runtime and of the
// goroutine that called hold.
func hold(k int) {
	var locked, done sync.WaitGroup
	release := make(chan struct{})
	locked.Add(k)
	done.Add(k)
	for range k {
		go func() {
			defer done.Done()
			runtime.LockOSThread()
			locked.Done()
			<-release
			// Unlocked before the goroutine exits, the thread
			// stays with the runtime for reuse.
			runtime.UnlockOSThread()
		}()
	}
	locked.Wait()
	close(release)
	done.Wait()
}

// Count returns the number of threads of this process, from
// /proc/self/status, or 0 if it cannot be read.
func Count() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return 0
			}
			return n
		}
	}
	return 0
}
