// Command notify sends its arguments, one per line, as an sd_notify
// datagram to $NOTIFY_SOCKET (or to the socket named by -to), then stays
// alive a moment, as a daemon calling sd_notify does, so that the receiver
// can check who sent it. It stands in for systemd-notify in supervise's
// tests.
package main

import (
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

func main() {
	args := os.Args[1:]
	addr := os.Getenv("NOTIFY_SOCKET")
	if len(args) > 1 && args[0] == "-to" {
		addr, args = args[1], args[2:]
	}
	if strings.HasPrefix(addr, "@") {
		addr = "\x00" + addr[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "notify:", err)
		os.Exit(111)
	}
	if _, err := c.Write([]byte(strings.Join(args, "\n") + "\n")); err != nil {
		fmt.Fprintln(os.Stderr, "notify:", err)
		os.Exit(111)
	}
	time.Sleep(200 * time.Millisecond)
}
