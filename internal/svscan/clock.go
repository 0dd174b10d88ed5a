package svscan

import (
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// clock is a one-shot timer, on a timerfd (a Go timer when timerfd is not
// available): C receives a value when it expires.
type clock struct {
	fd int
	t  *time.Timer
	ch chan struct{}
	C  <-chan struct{}
}

func (c *clock) fire() {
	select {
	case c.ch <- struct{}{}:
	default:
	}
}

// newClock returns a disarmed clock.
func newClock() *clock {
	c := &clock{fd: -1, ch: make(chan struct{}, 1)}
	c.C = c.ch
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_CLOEXEC|unix.TFD_NONBLOCK)
	if err != nil {
		return c
	}
	f := os.NewFile(uintptr(fd), "timerfd")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return c
	}
	c.fd = fd
	go func() {
		b := make([]byte, 8)
		for {
			if _, err := pollRead(rc, b); err != nil {
				return
			}
			c.fire()
		}
	}()
	return c
}

// arm makes the clock expire after d (at least 1 ns), replacing any earlier
// setting, and drops an expiry not yet received.
func (c *clock) arm(d time.Duration) {
	if d < 1 {
		d = 1
	}
	if c.fd >= 0 {
		spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
		_, _, e := unix.RawSyscall6(unix.SYS_TIMERFD_SETTIME, uintptr(c.fd), 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0)
		if e == 0 {
			c.drain()
			return
		}
		c.fd = -1 // use a Go timer from now on
	}
	if c.t == nil {
		c.t = time.AfterFunc(d, c.fire)
	} else {
		c.t.Stop()
		c.t.Reset(d)
	}
	c.drain()
}

func (c *clock) drain() {
	select {
	case <-c.ch:
	default:
	}
}
