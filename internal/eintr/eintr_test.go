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
	// Each list of outcomes ends with the first that is not EINTR: the one
	// given back, after as many calls as there are outcomes.
	for name, errs := range map[string][]error{
		"success":                 {nil},
		"other error":             {unix.EBADF},
		"interrupted twice":       {unix.EINTR, unix.EINTR, nil},
		"interrupted then failed": {unix.EINTR, unix.EIO},
	} {
		want, wantCalls := errs[len(errs)-1], len(errs)
		t.Run(name, func(t *testing.T) {
			calls := 0
			v, err := Retry(func() (int, error) {
				calls++
				return calls, errs[calls-1]
			})
			if !errors.Is(err, want) || calls != wantCalls || v != wantCalls {
				t.Errorf("Retry: %d calls, value %d, error %v; want %d calls, error %v", calls, v, err, wantCalls, want)
			}
			calls = 0
			err = Do(func() error {
				calls++
				return errs[calls-1]
			})
			if !errors.Is(err, want) || calls != wantCalls {
				t.Errorf("Do: %d calls, error %v; want %d calls, error %v", calls, err, wantCalls, want)
			}
		})
	}
}
