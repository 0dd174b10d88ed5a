package eintr

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRetry: Retry and Do call again only after EINTR, and give back the
// first other outcome.
func TestRetry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		errs  []error
		calls int
		want  error
	}{
		{"success", []error{nil}, 1, nil},
		{"other error", []error{unix.EBADF}, 1, unix.EBADF},
		{"interrupted twice", []error{unix.EINTR, unix.EINTR, nil}, 3, nil},
		{"interrupted then failed", []error{unix.EINTR, unix.EIO}, 2, unix.EIO},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			v, err := Retry(func() (int, error) {
				calls++
				return calls, tc.errs[calls-1]
			})
			if !errors.Is(err, tc.want) || calls != tc.calls || v != tc.calls {
				t.Errorf("Retry: %d calls, value %d, error %v; want %d calls, error %v", calls, v, err, tc.calls, tc.want)
			}
			calls = 0
			err = Do(func() error {
				calls++
				return tc.errs[calls-1]
			})
			if !errors.Is(err, tc.want) || calls != tc.calls {
				t.Errorf("Do: %d calls, error %v; want %d calls, error %v", calls, err, tc.calls, tc.want)
			}
		})
	}
}
