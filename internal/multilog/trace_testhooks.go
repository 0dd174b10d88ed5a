//go:build svkit_testhooks

package multilog

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// In a test build, SVKIT_TEST_MLTRACE=DIR makes multilog append what it does
// with its input (peeks, writes, splices, consumes, rotations) to DIR/PID,
// one line each, for the chaos test's post-mortem of a lost line.
func init() {
	dir := os.Getenv("SVKIT_TEST_MLTRACE")
	if dir == "" {
		return
	}
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(os.Getpid())), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0644)
	if err != nil {
		return
	}
	trace = func(format string, args ...any) {
		fmt.Fprintf(f, "%s %s\n", time.Now().Format("15:04:05.000000"), fmt.Sprintf(format, args...))
	}
}
