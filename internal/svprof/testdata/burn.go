// burn: a Go test service for svprof. Two goroutines, each locked to a
// thread of its own, burn CPU in two named functions.
package main

import "runtime"

var sinkA, sinkB uint64

//go:noinline
func burnAlpha() {
	for i := uint64(0); i < 1<<22; i++ {
		sinkA += i * 3
	}
}

//go:noinline
func burnBeta() {
	for i := uint64(0); i < 1<<22; i++ {
		sinkB += i * 5
	}
}

func main() {
	go func() {
		runtime.LockOSThread()
		for {
			burnAlpha()
		}
	}()
	runtime.LockOSThread()
	for {
		burnBeta()
	}
}
