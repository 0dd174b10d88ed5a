package testenv

import (
	"strings"
	"testing"
)

// FuzzArgv fuzzes a program's command-line parsing: check is called with
// argv, the program's name prog followed by arguments that the fuzzer
// handles joined by NUL bytes, as the seeds are given.
func FuzzArgv(f *testing.F, prog string, seeds []string, check func(t *testing.T, argv []string)) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, args string) {
		check(t, append([]string{prog}, strings.Split(args, "\x00")...))
	})
}
