package inotify

import (
	"encoding/binary"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// event packs one inotify event as the kernel does (name NUL-padded).
func event(wd int32, mask uint32, name string, pad int) []byte {
	b := make([]byte, unix.SizeofInotifyEvent)
	binary.NativeEndian.PutUint32(b[0:4], uint32(wd))
	binary.NativeEndian.PutUint32(b[4:8], mask)
	n := len(name)
	if name != "" {
		n += pad
	}
	binary.NativeEndian.PutUint32(b[12:16], uint32(n))
	b = append(b, name...)
	if name != "" {
		b = append(b, make([]byte, pad)...)
	}
	return b
}

func TestParseEvents(t *testing.T) {
	var b []byte
	b = append(b, event(1, unix.IN_MOVED_TO, "status", 10)...)
	b = append(b, event(2, unix.IN_DELETE_SELF, "", 0)...)
	b = append(b, event(3, unix.IN_CREATE|unix.IN_ISDIR, "supervise", 7)...)
	evs := ParseEvents(nil, b)
	want := []Event{{1, unix.IN_MOVED_TO, "status"}, {2, unix.IN_DELETE_SELF, ""}, {3, unix.IN_CREATE | unix.IN_ISDIR, "supervise"}}
	if len(evs) != len(want) {
		t.Fatalf("%d events: %+v", len(evs), evs)
	}
	for i := range want {
		if evs[i] != want[i] {
			t.Errorf("event %d: %+v, want %+v", i, evs[i], want[i])
		}
	}
	// A truncated event is dropped, the ones before it kept.
	if evs := ParseEvents(nil, b[:len(b)-3]); len(evs) != 2 {
		t.Errorf("truncated: %+v", evs)
	}
	if evs := ParseEvents(nil, b[:5]); len(evs) != 0 {
		t.Errorf("short: %+v", evs)
	}
}

// FuzzParseEvents: any buffer parses without a panic into events whose
// names have no NUL and whose packed size fits the buffer.
func FuzzParseEvents(f *testing.F) {
	f.Add(append(event(1, unix.IN_MOVED_TO, "status", 10), event(2, unix.IN_IGNORED, "", 0)...))
	f.Add(event(1, unix.IN_Q_OVERFLOW, "", 0))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		evs := ParseEvents(nil, b)
		size := 0
		for _, ev := range evs {
			if strings.IndexByte(ev.Name, 0) >= 0 {
				t.Fatalf("NUL in name %q", ev.Name)
			}
			size += unix.SizeofInotifyEvent + len(ev.Name)
		}
		if size > len(b) {
			t.Fatalf("events of %d bytes from %d", size, len(b))
		}
	})
}
