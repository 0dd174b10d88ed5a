//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command svstat prints the status of services monitored by supervise
// (daemontools 0.76).
//
// The go:debug lines spare a one-shot client the runtime's container-aware
// GOMAXPROCS: reading the cgroup files at start and the goroutine that
// keeps watching them cost more than the client's own work.
package main

import (
	"os"

	"svkit/internal/svstat"
)

func main() { os.Exit(svstat.Main(os.Args, os.Stdin, os.Stdout, os.Stderr)) }
