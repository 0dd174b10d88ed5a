// Command svstat prints the status of services monitored by supervise
// (daemontools 0.76).
package main

import (
	"os"

	"svkit/internal/svstat"
)

func main() { os.Exit(svstat.Main(os.Args, os.Stdin, os.Stdout, os.Stderr)) }
