// Command tai64nlocal converts TAI64N timestamps at the start of lines to
// human-readable local times.
package main

import (
	"os"

	"svkit/internal/tai64n"
)

func main() {
	os.Exit(tai64n.TAI64NLocal(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
