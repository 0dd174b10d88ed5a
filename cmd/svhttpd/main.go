// Command svhttpd serves a scan directory's services over HTTP: status,
// commands checked against the caller's own permissions, events,
// Prometheus metrics and a live web page, on a unix socket and, for
// clients with a token, over TCP with TLS (svkit; not in daemontools 0.76).
package main

import (
	"os"

	"svkit/internal/svhttpd"
)

func main() { os.Exit(svhttpd.Main(os.Args, os.Stdin, os.Stdout, os.Stderr)) }
