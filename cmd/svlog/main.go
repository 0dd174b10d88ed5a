// Command svlog shows the logs of services, merged by time and followed.
package main

import (
	"os"

	"svkit/internal/svlog"
)

func main() { os.Exit(svlog.Main(os.Args, os.Stdin, os.Stdout, os.Stderr)) }
