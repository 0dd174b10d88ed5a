// Command tai64n puts a precise TAI64N timestamp on each line of input.
package main

import (
	"os"

	"svkit/internal/tai64n"
)

func main() {
	os.Exit(tai64n.TAI64N(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
