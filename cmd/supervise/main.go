// Command supervise starts and monitors a service: daemontools' supervise.
package main

import (
	"os"

	"svkit/pkg/supervise"
)

func main() {
	os.Exit(supervise.Main(os.Args[1:], os.Stderr))
}
