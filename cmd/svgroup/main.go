// Command svgroup starts, stops or restarts a group of services in
// dependency order (svkit).
package main

import (
	"os"

	"svkit/internal/svgroup"
)

func main() { os.Exit(svgroup.Main(os.Args, os.Stdin, os.Stdout, os.Stderr)) }
