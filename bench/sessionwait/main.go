// Command sessionwait waits until no process of a session is left alive
// (a zombie counts as gone), without polling: it opens a pidfd on every
// member and sleeps in poll(2) until each has exited, then looks again for
// members started meanwhile. The benchmarks time a supervision tree's shut
// down with it; a loop of ps(1) would take a core of a 2-core machine from
// what it measures.
//
//	sessionwait [-timeout 60s] SID
//
// Exit status 0 once the session is empty, 111 on timeout or error, 100 on
// a usage error.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"svkit/internal/proc"
)

func main() {
	timeout := flag.Duration("timeout", 60*time.Second, "give up after this long")
	flag.Usage = func() { fmt.Fprintln(os.Stderr, "usage: sessionwait [-timeout 60s] SID") }
	flag.Parse()
	sid, err := strconv.Atoi(flag.Arg(0))
	if flag.NArg() != 1 || err != nil || sid <= 0 {
		flag.Usage()
		os.Exit(100)
	}
	if err := wait(sid, time.Now().Add(*timeout)); err != nil {
		fmt.Fprintln(os.Stderr, "sessionwait: fatal:", err)
		os.Exit(111)
	}
}

// wait returns once no live process is in session sid.
func wait(sid int, deadline time.Time) error {
	for {
		fds := members(sid)
		if len(fds) == 0 {
			return nil
		}
		err := waitAll(fds, deadline)
		for _, p := range fds {
			unix.Close(int(p.Fd))
		}
		if err != nil {
			return err
		}
	}
}

// members returns a pidfd, to poll, for every live process of session sid.
func members(sid int) []unix.PollFd {
	var fds []unix.PollFd
	for _, in := range proc.All() {
		if in.Session != sid || !in.Live() {
			continue
		}
		fd, err := unix.PidfdOpen(in.Pid, 0)
		if err != nil {
			continue // gone already
		}
		fds = append(fds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
	}
	return fds
}

// waitAll sleeps until every pidfd in fds is readable (its process ended).
func waitAll(fds []unix.PollFd, deadline time.Time) error {
	for live := fds; len(live) > 0; {
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("timed out with %d processes left", len(live))
		}
		n, err := unix.Poll(live, int(left/time.Millisecond)+1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			continue
		}
		var rest []unix.PollFd
		for _, p := range live {
			if p.Revents == 0 {
				rest = append(rest, p)
			}
		}
		live = rest
	}
	return nil
}
