// Command svok checks whether supervise is running for a service directory
// (daemontools 0.76).
package main

import (
	"os"

	"svkit/internal/svok"
)

func main() { os.Exit(svok.Main(os.Args, os.Stdin, os.Stdout, os.Stderr)) }
