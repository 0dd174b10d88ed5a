// Command readproctitle keeps the most recent bytes of its input in its last
// argument, where ps shows them. See package proctitle.
package main

import (
	"os"

	"svkit/pkg/proctitle"
)

func main() {
	os.Exit(proctitle.Run(os.Args, os.Stdin, proctitle.ArgvArea))
}
