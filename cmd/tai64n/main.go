// Command tai64n puts a precise TAI64N timestamp on each line of input.
package main

import (
	"os"

	"svkit/pkg/stamp"
)

func main() {
	os.Exit(stamp.TAI64N(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
