// Package inotify parses what read(2) returns from an inotify descriptor:
// svkit's one parser of inotify events, used by svscan (new service
// directories) and svwait (changes of supervise/).
package inotify

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// Event is one inotify event.
type Event struct {
	WD   int32
	Mask uint32
	Name string // without the NUL padding
}

// ParseEvents appends the events in b (a buffer as read(2) returns them
// from an inotify descriptor) to evs. A truncated last event is dropped.
func ParseEvents(evs []Event, b []byte) []Event {
	for len(b) >= unix.SizeofInotifyEvent {
		wd := int32(binary.NativeEndian.Uint32(b[0:4]))
		mask := binary.NativeEndian.Uint32(b[4:8])
		nlen := uint64(binary.NativeEndian.Uint32(b[12:16]))
		if nlen > uint64(len(b)-unix.SizeofInotifyEvent) {
			break
		}
		end := unix.SizeofInotifyEvent + int(nlen)
		name := b[unix.SizeofInotifyEvent:end]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		evs = append(evs, Event{WD: wd, Mask: mask, Name: string(name)})
		b = b[end:]
	}
	return evs
}
