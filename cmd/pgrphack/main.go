//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command pgrphack is daemontools 0.76's pgrphack; the logic is in svkit/internal/chain.
//
// The go:debug lines stop the runtime's container-aware GOMAXPROCS from
// keeping cgroup files open for the life of the process: a chain-loader
// must not hold descriptors that shift the numbers the programs it runs
// get (setlock's lock, fghack's pipe copies).
package main

import (
	"os"

	"svkit/internal/chain"
)

func main() {
	os.Exit(chain.Pgrphack(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
