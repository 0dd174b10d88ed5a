// Command svprof samples where a supervised service spends its CPU and
// writes a profile for go tool pprof.
package main

import (
	"os"

	"svkit/pkg/svprof"
)

func main() { os.Exit(svprof.Main(os.Args, os.Stdout, os.Stderr)) }
