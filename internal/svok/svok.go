// Package svok is daemontools' svok: it exits 0 when a supervise is running
// for a service directory, 100 when none is (or on a usage error), 111 on
// any other failure.
//
//	svok dir
package svok

import (
	"io"

	"svkit/internal/diag"
	"svkit/pkg/svdir"
)

const prog = "svok"

// Main runs svok with argv (argv[0] is the program name). Like 0.76 it takes
// no options and looks only at its first argument.
func Main(argv []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(argv) < 2 {
		return diag.Usage(stderr, prog, "svok dir")
	}
	ok, err := svdir.Supervised(argv[1])
	if err != nil {
		return diag.Fatal(stderr, prog, diag.ExitTemp, err.Error())
	}
	if !ok {
		return diag.ExitUsage
	}
	return 0
}
