package svscan

import (
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// TestStopNotLostInChildStorm: a SIGTERM that comes while svscan is busy
// and many SIGCHLDs wait undelivered still starts the ordered shutdown.
// (With one buffered channel for every signal, the runtime dropped the
// TERM once the channel was full of SIGCHLD.)
func TestStopNotLostInChildStorm(t *testing.T) {
	sigs := notifySignals(true)
	defer signal.Reset(syscall.SIGCHLD, syscall.SIGALRM, syscall.SIGTERM, syscall.SIGINT)
	me := syscall.Getpid()
	for i := 0; i < 200; i++ {
		syscall.Kill(me, syscall.SIGCHLD)
		syscall.Kill(me, syscall.SIGALRM)
		if i%10 == 0 {
			time.Sleep(time.Millisecond) // let the runtime deliver some
		}
	}
	syscall.Kill(me, syscall.SIGTERM)
	select {
	case <-sigs.stop:
	case <-time.After(5 * time.Second):
		t.Fatal("SIGTERM not delivered after a storm of SIGCHLD and SIGALRM")
	}
	select {
	case <-sigs.chld:
	default:
		t.Error("no SIGCHLD delivered")
	}
}
