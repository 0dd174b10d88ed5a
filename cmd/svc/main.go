// Command svc controls services monitored by supervise (daemontools 0.76).
package main

import (
	"os"

	"svkit/internal/svc"
)

func main() { os.Exit(svc.Main(os.Args, os.Stdin, os.Stdout, os.Stderr)) }
