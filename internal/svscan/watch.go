package svscan

import (
	"os"

	"golang.org/x/sys/unix"

	"svkit/internal/inotify"
)

// watchDir reports, on the returned channel, that a name not starting with
// '.' was created in or moved into the current directory, or that events
// were lost. It returns nil when inotify is not available (no kernel
// support, or the per-user limit of instances is reached); the 5-second
// pass then finds new services as 0.76 does. The goroutine lives as long
// as the process and blocks in the runtime's poller, so it costs no wakeups.
func watchDir() <-chan struct{} {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil
	}
	if _, err := unix.InotifyAddWatch(fd, ".", unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_ONLYDIR); err != nil {
		unix.Close(fd)
		return nil
	}
	f := os.NewFile(uintptr(fd), "inotify")
	ch := make(chan struct{}, 1)
	go func() {
		defer f.Close()
		buf := make([]byte, 16*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
		for {
			n, err := f.Read(buf)
			if err != nil {
				return // the poll fallback remains
			}
			if relevant(buf[:n]) {
				select {
				case ch <- struct{}{}:
				default:
				}
			}
		}
	}()
	return ch
}

// relevant reports whether a batch of inotify events names something the
// scan would look at, or says that events were lost.
func relevant(b []byte) bool {
	for _, ev := range inotify.ParseEvents(nil, b) {
		if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
			return true
		}
		if ev.Name != "" && ev.Name[0] != '.' {
			return true
		}
	}
	return false
}
