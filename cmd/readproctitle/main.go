// Command readproctitle keeps the most recent bytes of its input in its last
// argument, where ps shows them. See package readproctitle.
package main

import (
	"os"

	"svkit/internal/readproctitle"
)

func main() {
	os.Exit(readproctitle.Main(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
