// Command multilog reads a sequence of lines from stdin and appends
// selected lines to any number of automatically rotated logs.
package main

import (
	"os"

	"svkit/internal/multilog"
)

func main() {
	os.Exit(multilog.Main(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
