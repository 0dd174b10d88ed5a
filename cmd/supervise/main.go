// Command supervise starts and monitors a service: daemontools' supervise.
//
// supervise sets GOMAXPROCS to 1 itself, so the runtime need not read the
// cgroup CPU limits at start or poll them later.
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"os"
	"runtime"
	"runtime/debug"

	"svkit/internal/supervise"
)

func main() {
	// supervise runs for months in many copies: no heap profiling
	// buckets, which would cost each copy memory for nothing.
	runtime.MemProfileRate = 0
	// One service, one event loop: a second P only adds threads.
	runtime.GOMAXPROCS(1)
	// Its live heap is about 100 KB: collecting at 20% growth (a
	// 0.8 MB floor instead of Go's 4 MB) keeps a flapping service's
	// supervise near 4.5 MB RSS instead of 7, for a GC of well under a
	// millisecond every few hundred restarts.
	debug.SetGCPercent(20)
	os.Exit(supervise.Main(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
