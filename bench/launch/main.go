// Command launch starts every service of a directory with no supervision
// at all: DIR/NAME/run for each NAME not starting with a dot, in DIR/NAME,
// as its own child. On SIGTERM it sends each TERM and CONT and exits once
// all have ended. bench/svscan.sh runs it as the floor of a bring-up and a
// shut down: what starting and stopping the services themselves costs,
// which every supervisor pays on top of its own work.
//
//	launch DIR
package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: launch DIR")
		os.Exit(100)
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	pids, err := start(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "launch: fatal:", err)
		stop(pids)
		os.Exit(111)
	}
	<-term
	stop(pids)
}

// start forks DIR/NAME/run for every service of dir.
func start(dir string) ([]int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer null.Close()
	fds := []uintptr{null.Fd(), null.Fd(), null.Fd()}
	var pids []int
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		pid, err := syscall.ForkExec("./run", []string{"./run"}, &syscall.ProcAttr{
			Dir: filepath.Join(dir, e.Name()), Env: os.Environ(), Files: fds,
		})
		if err != nil {
			return pids, fmt.Errorf("unable to start %s: %w", e.Name(), err)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// stop sends every service TERM and CONT and reaps them all.
func stop(pids []int) {
	for _, pid := range pids {
		unix.Kill(pid, unix.SIGTERM)
		unix.Kill(pid, unix.SIGCONT)
	}
	for {
		var ws unix.WaitStatus
		if _, err := unix.Wait4(-1, &ws, 0, nil); err == unix.ECHILD {
			return
		}
	}
}
