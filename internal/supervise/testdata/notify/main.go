// Command notify sends its arguments, one per line, as an sd_notify
// datagram to $NOTIFY_SOCKET (or to the socket named by -to), then stays
// alive a moment, as a daemon calling sd_notify does, so that the receiver
// can check who sent it. It stands in for systemd-notify in supervise's
// tests.
//
// With -bind NAME it is the squatter of supervise's tests instead: it binds
// the datagram socket NAME ("@..." for an abstract name), says "bound" on
// standard output and then writes each datagram it receives there, one
// line each, until it is killed.
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
	if len(args) == 2 && args[0] == "-bind" {
		squat(args[1])
		return
	}
	addr := os.Getenv("NOTIFY_SOCKET")
	if len(args) > 1 && args[0] == "-to" {
		addr, args = args[1], args[2:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: sockName(addr), Net: "unixgram"})
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

// sockName turns sd_notify's "@name" into Go's abstract address.
func sockName(addr string) string {
	if strings.HasPrefix(addr, "@") {
		return "\x00" + addr[1:]
	}
	return addr
}

// squat holds the socket name and reports what arrives on it.
func squat(name string) {
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockName(name), Net: "unixgram"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "notify:", err)
		os.Exit(111)
	}
	fmt.Println("bound")
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if err != nil {
			fmt.Fprintln(os.Stderr, "notify:", err)
			os.Exit(111)
		}
		fmt.Println(strings.ReplaceAll(strings.TrimSpace(string(buf[:n])), "\n", " "))
	}
}
