// Command svscanboot starts svscan at boot with its errors shown by
// readproctitle (daemontools 0.76). See package svscanboot.
package main

import (
	"os"

	"svkit/internal/svscanboot"
)

func main() { os.Exit(svscanboot.Main(os.Args, os.Stdin, os.Stdout, os.Stderr)) }
