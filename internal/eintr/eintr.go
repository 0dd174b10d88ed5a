// Package eintr retries system calls that a signal interrupted. It is
// svkit's one helper for EINTR, after the standard library's
// ignoringEINTR: svkit calls golang.org/x/sys/unix directly where os would
// hide a descriptor or a retry, and every such call that can block goes
// through Retry or Do.
package eintr

import "golang.org/x/sys/unix"

// Retry calls fn until it returns an error other than EINTR.
func Retry[T any](fn func() (T, error)) (T, error) {
	for {
		v, err := fn()
		if err != unix.EINTR {
			return v, err
		}
	}
}

// Do calls fn until it returns an error other than EINTR.
func Do(fn func() error) error {
	for {
		if err := fn(); err != unix.EINTR {
			return err
		}
	}
}
