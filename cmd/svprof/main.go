// Command svprof samples where a supervised service spends its CPU and
// writes a profile for go tool pprof.
package main

import (
	"os"

	"svkit/internal/svprof"
)

func main() { os.Exit(svprof.Main(os.Args, os.Stdin, os.Stdout, os.Stderr)) }
