// Command svwait waits until services are up, up and ready, down, or down
// with ./finish done (svkit; not in daemontools 0.76).
package main

import (
	"os"

	"svkit/internal/svwait"
)

func main() { os.Exit(svwait.Main(os.Args, os.Stdin, os.Stdout, os.Stderr)) }
