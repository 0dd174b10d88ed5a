// Command svscan starts and monitors a collection of services (daemontools
// 0.76, with inotify, immediate reaping and an ordered shutdown). See
// package svscan.
package main

import (
	"os"

	"svkit/internal/svscan"
)

func main() {
	if len(os.Args) > 0 && os.Args[0] == svscan.KeeperName {
		// The process svscan -i starts to hold its log pipes.
		os.Exit(svscan.Keep(os.Args))
	}
	os.Exit(svscan.Main(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
