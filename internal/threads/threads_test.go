package threads

import (
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// blockInSyscalls keeps k goroutines in a blocking system call (nanosleep)
// at the same time, long enough for the scheduler to give each a thread.
func blockInSyscalls(k int) {
	var wg sync.WaitGroup
	for range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ts := syscall.Timespec{Nsec: int64(50 * time.Millisecond)}
			syscall.Syscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), 0, 0)
		}()
	}
	wg.Wait()
}

// TestSpare checks that Spare creates the threads at once and that later
// blocking system calls run on them instead of on new threads.
func TestSpare(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	before := Count()
	if before == 0 {
		t.Fatal("Count: /proc/self/status has no Threads line")
	}
	// More than the test binary has, idle or not.
	k := before + 4
	after := Spare(k)
	if after < k {
		t.Fatalf("Spare(%d): %d threads before, %d after", k, before, after)
	}
	// k-3 goroutines in system calls, and the runtime's own threads
	// (sysmon, the one running Go code, the poller's), fit in them.
	for range 3 {
		blockInSyscalls(k - 3)
	}
	if n := Count(); n != after {
		t.Errorf("%d goroutines blocked in system calls made threads: %d after Spare, %d now", k-3, after, n)
	}
}
