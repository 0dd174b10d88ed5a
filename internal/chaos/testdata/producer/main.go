// Command producer is the chaos test's service: it writes "NAME SEQ" lines
// to stdout, one write(2) each, and keeps two counters in STATE so that what
// it wrote is well defined even when it is killed at any instruction:
//
//	bytes  0-19 attempt: the last SEQ it started to write
//	bytes 20-39 done: the last SEQ whose write returned successfully
//
// A new copy that finds attempt > done appends attempt to STATE.maybe (that
// line may or may not have reached the pipe) and goes on from attempt+1, so
// no SEQ is ever written twice. MARKER only identifies the process in
// /proc. Usage: producer MARKER NAME STATE [interval]
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: producer MARKER NAME STATE [interval]")
		os.Exit(100)
	}
	// svc -h, -a, -i (and the floods of them) must not end the service.
	signal.Ignore(syscall.SIGHUP, syscall.SIGALRM, syscall.SIGINT)
	name, state := os.Args[2], os.Args[3]
	interval := 10 * time.Millisecond
	if len(os.Args) > 4 {
		if d, err := time.ParseDuration(os.Args[4]); err == nil {
			interval = d
		}
	}
	f, err := os.OpenFile(state, os.O_RDWR|os.O_CREATE, 0644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "producer:", err)
		os.Exit(111)
	}
	var b [40]byte
	n, _ := f.ReadAt(b[:], 0)
	attempt, done := field(b[:n], 0), field(b[:n], 20)
	if attempt > done {
		m, err := os.OpenFile(state+".maybe", os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0644)
		if err != nil {
			os.Exit(111)
		}
		fmt.Fprintf(m, "%d\n", attempt)
		m.Close()
	}
	seq := max(attempt, done)
	for {
		seq++
		put(f, 0, seq)
		if _, err := os.Stdout.Write([]byte(name + " " + strconv.FormatInt(seq, 10) + "\n")); err != nil {
			os.Exit(111)
		}
		put(f, 20, seq)
		time.Sleep(interval)
	}
}

func field(b []byte, off int) int64 {
	if len(b) < off+20 {
		return 0
	}
	v, _ := strconv.ParseInt(strings.TrimSpace(string(b[off:off+20])), 10, 64)
	return v
}

// put writes one counter with a single pwrite(2), which a SIGKILL cannot
// tear.
func put(f *os.File, off int64, v int64) {
	if _, err := f.WriteAt(fmt.Appendf(nil, "%19d\n", v), off); err != nil {
		os.Exit(111)
	}
}
