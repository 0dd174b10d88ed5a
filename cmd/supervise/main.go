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

	"svkit/pkg/supervise"
)

func main() {
	// supervise runs for months in many copies: no heap profiling
	// buckets, which would cost each copy memory for nothing.
	runtime.MemProfileRate = 0
	// One service, one event loop: a second P only adds threads.
	runtime.GOMAXPROCS(1)
	os.Exit(supervise.Main(os.Args[1:], os.Stderr))
}
