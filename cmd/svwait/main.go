// Command svwait waits until services are up, up and ready, down, or down
// with ./finish done (svkit; not in daemontools 0.76).
package main

import (
	"os"

	"svkit/pkg/svwait"
)

func main() { os.Exit(svwait.Main(os.Args, os.Stdout, os.Stderr)) }
