package svprof

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fakeRing is a ring over Go memory, written the way the kernel writes
// the real one.
func fakeRing(size int) *ring {
	meta := &unix.PerfEventMmapPage{}
	return &ring{meta: meta, data: make([]byte, size)}
}

// put writes one record at the head, wrapping around the end.
func (r *ring) put(typ uint32, body []byte) {
	rec := make([]byte, 8+len(body))
	binary.NativeEndian.PutUint32(rec[0:], typ)
	binary.NativeEndian.PutUint16(rec[6:], uint16(len(rec)))
	copy(rec[8:], body)
	head := r.meta.Data_head
	for i, c := range rec {
		r.data[(head+uint64(i))&uint64(len(r.data)-1)] = c
	}
	r.meta.Data_head = head + uint64(len(rec))
}

func sampleBody(ip uint64, pid, tid uint32, chain []uint64, sp uint64, top []byte) []byte {
	var b []byte
	b = binary.NativeEndian.AppendUint64(b, ip)
	b = binary.NativeEndian.AppendUint32(b, pid)
	b = binary.NativeEndian.AppendUint32(b, tid)
	b = binary.NativeEndian.AppendUint64(b, uint64(len(chain)))
	for _, c := range chain {
		b = binary.NativeEndian.AppendUint64(b, c)
	}
	b = binary.NativeEndian.AppendUint64(b, 2)      // PERF_SAMPLE_REGS_ABI_64
	b = binary.NativeEndian.AppendUint64(b, 0x7000) // bp
	b = binary.NativeEndian.AppendUint64(b, sp)
	b = binary.NativeEndian.AppendUint64(b, ip)
	b = binary.NativeEndian.AppendUint64(b, uint64(len(top)))
	b = append(b, top...)
	return binary.NativeEndian.AppendUint64(b, uint64(len(top)))
}

// TestRingWrap: records that straddle the end of the data area are read
// whole, the tail follows the head, and a drained ring stays empty.
func TestRingWrap(t *testing.T) {
	t.Parallel()
	r := fakeRing(256)
	var got []sample
	var lost uint64
	fn := func(typ uint32, misc uint16, body []byte) {
		switch typ {
		case unix.PERF_RECORD_SAMPLE:
			s, ok := parseSample(body)
			if !ok {
				t.Fatalf("bad sample %x", body)
			}
			got = append(got, s)
		case unix.PERF_RECORD_LOST:
			lost += parseLost(typ, body)
		}
	}
	top := bytes.Repeat([]byte{0xab}, 16)
	for round := 0; round < 20; round++ {
		got = got[:0]
		r.put(unix.PERF_RECORD_SAMPLE, sampleBody(0x1000, 7, 8, []uint64{contextUser, 0x1000, 0x2000}, 0x7fff0000, top))
		lostBody := binary.NativeEndian.AppendUint64(nil, 1)
		r.put(unix.PERF_RECORD_LOST, binary.NativeEndian.AppendUint64(lostBody, 3))
		r.drain(fn)
		if len(got) != 1 || got[0].pid != 7 || got[0].tid != 8 || !reflect.DeepEqual(got[0].stack, []uint64{0x1000, 0x2000}) ||
			got[0].sp != 0x7fff0000 || got[0].topLen != 16 || got[0].top[15] != 0xab {
			t.Fatalf("round %d: got %+v", round, got)
		}
		if r.meta.Data_tail != r.meta.Data_head {
			t.Fatalf("round %d: tail %d, head %d", round, r.meta.Data_tail, r.meta.Data_head)
		}
	}
	if lost != 60 {
		t.Errorf("lost %d, want 60", lost)
	}
	if r.meta.Data_head < 2*256 {
		t.Errorf("the test did not wrap around (head %d)", r.meta.Data_head)
	}
}

// TestParseSampleKernel: kernel frames and context markers are dropped,
// user frames kept in order.
func TestParseSampleKernel(t *testing.T) {
	t.Parallel()
	kernel := ^uint64(0x80 - 1)
	s, ok := parseSample(sampleBody(0xffffffff81000000, 1, 1,
		[]uint64{kernel, 0xffffffff81000000, contextUser, 0x401000, 0x402000}, 1, nil))
	if !ok || !reflect.DeepEqual(s.stack, []uint64{0x401000, 0x402000}) || s.topLen != 0 {
		t.Fatalf("got %+v %v", s, ok)
	}
	if _, ok := parseSample(make([]byte, 23)); ok {
		t.Errorf("short sample accepted")
	}
	b := sampleBody(1, 1, 1, []uint64{1}, 0, nil)
	binary.NativeEndian.PutUint64(b[16:], 1<<40)
	if _, ok := parseSample(b); ok {
		t.Errorf("sample with a chain longer than the record accepted")
	}
}

func TestParseMapsLine(t *testing.T) {
	cases := []struct {
		line string
		want mapping
		ok   bool
	}{
		{"55d0c0a00000-55d0c0a21000 r-xp 00002000 fd:01 1234   /usr/bin/hot",
			mapping{0x55d0c0a00000, 0x55d0c0a21000, 0x2000, "fd:01", 1234, true, "/usr/bin/hot"}, true},
		{"7f0000000000-7f0000001000 r-xp 00000000 00:00 0      [vdso]",
			mapping{0x7f0000000000, 0x7f0000001000, 0, "00:00", 0, true, "[vdso]"}, true},
		{"400000-401000 r-xp 00001000 08:02 77 /tmp/a b (deleted)",
			mapping{0x400000, 0x401000, 0x1000, "08:02", 77, true, "/tmp/a b (deleted)"}, true},
		{"400000-401000 rw-p 00000000 00:00 0", mapping{0x400000, 0x401000, 0, "00:00", 0, false, ""}, true},
		{"400000 r-xp 0 0 0", mapping{}, false},
		{"401000-400000 r-xp 0 0 0", mapping{}, false},
		{"", mapping{}, false},
	}
	t.Parallel()
	for _, c := range cases {
		got, ok := parseMapsLine(c.line)
		if ok != c.ok || got != c.want {
			t.Errorf("parseMapsLine(%q) = %+v, %v; want %+v, %v", c.line, got, ok, c.want, c.ok)
		}
	}
	ms := parseMaps(strings.NewReader("1000-2000 r-xp 0 00:00 0 /a\n2000-3000 r--p 0 00:00 0 /a\n3000-4000 r-xp 0 00:00 0 /b\n"))
	if len(ms) != 2 {
		t.Fatalf("parseMaps kept %d mappings, want the 2 executable ones", len(ms))
	}
	if m, ok := findMapping(ms, 0x3fff); !ok || m.path != "/b" {
		t.Errorf("findMapping 0x3fff: %+v %v", m, ok)
	}
	if _, ok := findMapping(ms, 0x2000); ok {
		t.Errorf("findMapping found a non-executable address")
	}
}

func TestParseCPUList(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][]int{"0": {0}, "0-3": {0, 1, 2, 3}, "0,2-3,7": {0, 2, 3, 7}} {
		if got, err := parseCPUList(in); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("parseCPUList(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "3-1", "1-"} {
		if _, err := parseCPUList(in); err == nil {
			t.Errorf("parseCPUList(%q) accepted", in)
		}
	}
}

func TestAttrSize(t *testing.T) {
	t.Parallel()
	a := attr(1000, true, false)
	if a.Size != uint32(unsafe.Sizeof(*a)) || a.Sample != 1000 || a.Bits&unix.PerfBitInherit == 0 || a.Bits&unix.PerfBitExcludeKernel != 0 {
		t.Errorf("attr: %+v", a)
	}
}

func FuzzParseSample(f *testing.F) {
	f.Add(sampleBody(0x1000, 7, 8, []uint64{contextUser, 0x1000}, 0x7fff0000, make([]byte, 16)))
	f.Add(sampleBody(0x1000, 7, 8, nil, 0, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, ok := parseSample(b)
		if ok && len(s.stack) > len(b)/8 {
			t.Fatalf("%d frames from %d bytes", len(s.stack), len(b))
		}
		parseTask(b)
		parseComm(b)
		parseLost(unix.PERF_RECORD_LOST, b)
	})
}

func FuzzParseMapsLine(f *testing.F) {
	f.Add("55d0c0a00000-55d0c0a21000 r-xp 00002000 fd:01 1234   /usr/bin/hot")
	f.Add("7f0000000000-7f0000001000 r-xp 00000000 00:00 0      [vdso]")
	f.Fuzz(func(t *testing.T, line string) {
		m, ok := parseMapsLine(line)
		if ok && m.end <= m.start {
			t.Fatalf("empty mapping accepted: %+v", m)
		}
	})
}

// TestRefusedMessage: a refusal of perf_event_open says what refused and
// the usual reasons.
func TestRefusedMessage(t *testing.T) {
	t.Parallel()
	for _, e := range []error{unix.EACCES, unix.EPERM, unix.ENOSYS} {
		if !refused(e) {
			t.Errorf("%v not taken as a refusal", e)
		}
	}
	if refused(unix.ESRCH) {
		t.Errorf("ESRCH (a thread gone) taken as a refusal")
	}
	msg := runError(fmt.Errorf("%w: perf_event_open: %w", errRefused, unix.EPERM))
	for _, want := range []string{"the kernel refuses perf events", "seccomp", "perf_event_paranoid"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
}
