// Command tai64nlocal converts TAI64N timestamps at the start of lines to
// human-readable local times.
package main

import (
	"os"

	"svkit/pkg/stamp"
)

func main() {
	os.Exit(stamp.TAI64NLocal(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
