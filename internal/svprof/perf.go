package svprof

import (
	"encoding/binary"
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ringPages is the size of each CPU's ring buffer in pages (a power of
// two). 64 pages hold some 250 samples of 127 frames each, more than a
// CPU produces at 999 Hz between two drains.
const ringPages = 64

// Records svprof asks the kernel for (linux/perf_event.h).
const (
	sampleType = unix.PERF_SAMPLE_IP | unix.PERF_SAMPLE_TID | unix.PERF_SAMPLE_CALLCHAIN |
		unix.PERF_SAMPLE_REGS_USER | unix.PERF_SAMPLE_STACK_USER

	// The user registers sampled: bp, sp and ip (x86-64 numbering in
	// asm/perf_regs.h, which stores them in this order), and the top 16
	// bytes of the user stack, enough to find a frameless leaf
	// function's return address.
	regsUser  = 1<<6 | 1<<7 | 1<<8
	stackUser = 16

	contextMax  = ^uint64(0xfff - 1) // (u64)-4095: callchain entries at or above are context markers
	contextUser = ^uint64(0x200 - 1) // (u64)-512: PERF_CONTEXT_USER
)

// errRefused marks a perf_event_open failure that means the kernel does not
// let this process sample at all (permissions, seccomp, no perf support).
var errRefused = errors.New("the kernel refuses perf events")

// refused reports whether a perf_event_open errno means perf events are
// refused altogether rather than a task having gone away.
func refused(err error) bool {
	switch err {
	case unix.EACCES, unix.EPERM, unix.ENOSYS, unix.ENOENT, unix.EOPNOTSUPP:
		return true
	}
	return false
}

// attr returns the event svprof opens: the CPU clock, every period
// nanoseconds, with the user call chain. Kernel call chains are left out;
// a sample taken in the kernel still carries the user stack that led
// there. exclKernel leaves kernel samples out too (for an unprivileged
// user under perf_event_paranoid 2).
func attr(period uint64, inherit, exclKernel bool) *unix.PerfEventAttr {
	a := &unix.PerfEventAttr{
		Type:              unix.PERF_TYPE_SOFTWARE,
		Config:            unix.PERF_COUNT_SW_CPU_CLOCK,
		Size:              uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
		Sample:            period,
		Sample_type:       sampleType,
		Sample_regs_user:  regsUser,
		Sample_stack_user: stackUser,
		Bits: unix.PerfBitExcludeHv | unix.PerfBitExcludeCallchainKernel |
			unix.PerfBitComm | unix.PerfBitCommExec | unix.PerfBitTask,
	}
	if runtime.GOARCH != "amd64" {
		// The register numbers above are x86-64's.
		a.Sample_type &^= unix.PERF_SAMPLE_REGS_USER | unix.PERF_SAMPLE_STACK_USER
		a.Sample_regs_user, a.Sample_stack_user = 0, 0
	}
	if inherit {
		a.Bits |= unix.PerfBitInherit
	}
	if exclKernel {
		a.Bits |= unix.PerfBitExcludeKernel
	}
	return a
}

// onlineCPUs returns the CPUs listed in /sys/devices/system/cpu/online
// ("0-3,6").
func onlineCPUs() ([]int, error) {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return nil, err
	}
	return parseCPUList(strings.TrimSpace(string(b)))
}

func parseCPUList(s string) ([]int, error) {
	var cpus []int
	for _, part := range strings.Split(s, ",") {
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, errors.New("bad CPU list: " + s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a || b-a > 1<<16 {
				return nil, errors.New("bad CPU list: " + s)
			}
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	if len(cpus) == 0 {
		return nil, errors.New("no online CPU")
	}
	return cpus, nil
}

// ring is one CPU's mmap ring buffer: a control page followed by a data
// area the kernel writes records into.
type ring struct {
	fd   int // the event that owns the buffer
	mem  []byte
	meta *unix.PerfEventMmapPage
	data []byte
	buf  []byte // a record that wraps around the end is copied here
}

// newRing maps a ring buffer for the event fd.
func newRing(fd int) (*ring, error) {
	page := os.Getpagesize()
	mem, err := unix.Mmap(fd, 0, (ringPages+1)*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	r := &ring{fd: fd, mem: mem, meta: (*unix.PerfEventMmapPage)(unsafe.Pointer(&mem[0]))}
	off, size := uint64(page), uint64(ringPages*page)
	// Kernels since 4.1 say where the data area is; older ones put it
	// right after the first page.
	if r.meta.Data_offset != 0 && r.meta.Data_size != 0 {
		off, size = r.meta.Data_offset, r.meta.Data_size
	}
	if off+size > uint64(len(mem)) || size&(size-1) != 0 {
		unix.Munmap(mem)
		return nil, errors.New("unexpected perf ring buffer layout")
	}
	r.data = mem[off : off+size]
	return r, nil
}

// drain hands every complete record between the tail and the head to fn
// (type, misc, body without the 8-byte header) and then gives the space
// back to the kernel. The head is loaded atomically (a full barrier in
// Go's memory model, as the kernel's smp_rmb pairing asks) before the
// records are read, and the tail is stored atomically after.
func (r *ring) drain(fn func(typ uint32, misc uint16, body []byte)) {
	head := atomic.LoadUint64(&r.meta.Data_head)
	tail := atomic.LoadUint64(&r.meta.Data_tail)
	size := uint64(len(r.data))
	for tail+8 <= head {
		hdr := r.read(tail, 8)
		typ := binary.NativeEndian.Uint32(hdr[0:4])
		misc := binary.NativeEndian.Uint16(hdr[4:6])
		n := uint64(binary.NativeEndian.Uint16(hdr[6:8]))
		if n < 8 || n > size || tail+n > head {
			// A corrupt header: skip everything written so far.
			tail = head
			break
		}
		fn(typ, misc, r.read(tail+8, n-8))
		tail += n
	}
	atomic.StoreUint64(&r.meta.Data_tail, tail)
}

// read returns n bytes at position pos of the data area, copying them
// when they wrap around its end. The result is valid until the next read.
func (r *ring) read(pos, n uint64) []byte {
	size := uint64(len(r.data))
	start := pos & (size - 1)
	if start+n <= size {
		return r.data[start : start+n]
	}
	if uint64(cap(r.buf)) < n {
		r.buf = make([]byte, n)
	}
	b := r.buf[:n]
	k := copy(b, r.data[start:])
	copy(b[k:], r.data[:n-uint64(k)])
	return b
}

func (r *ring) close() {
	if r.mem != nil {
		unix.Munmap(r.mem)
		r.mem = nil
	}
}

// sample is a decoded PERF_RECORD_SAMPLE.
type sample struct {
	ip       uint64
	pid, tid int
	stack    []uint64 // user frames, leaf first
	sp       uint64   // user stack pointer, 0 if not sampled
	top      [stackUser]byte
	topLen   int // bytes of top that are valid
}

// parseSample decodes a sample record body laid out for sampleType:
// u64 ip; u32 pid, tid; u64 nr; u64 ips[nr]; u64 abi; u64 regs[3] (when
// abi is not 0); u64 size; u8 data[size]; u64 dyn_size (when size is not
// 0).
func parseSample(b []byte) (sample, bool) {
	if len(b) < 24 {
		return sample{}, false
	}
	s := sample{
		ip:  binary.NativeEndian.Uint64(b[0:]),
		pid: int(binary.NativeEndian.Uint32(b[8:])),
		tid: int(binary.NativeEndian.Uint32(b[12:])),
	}
	nr := binary.NativeEndian.Uint64(b[16:])
	if nr > uint64(len(b)-24)/8 {
		return sample{}, false
	}
	user := false
	for i := uint64(0); i < nr; i++ {
		ip := binary.NativeEndian.Uint64(b[24+8*i:])
		if ip >= contextMax {
			user = ip == contextUser
			continue
		}
		if user {
			s.stack = append(s.stack, ip)
		}
	}
	b = b[24+8*nr:]
	if len(b) < 8 {
		return s, true
	}
	abi := binary.NativeEndian.Uint64(b)
	b = b[8:]
	if abi != 0 {
		if len(b) < 24 {
			return s, true
		}
		s.sp = binary.NativeEndian.Uint64(b[8:])
		b = b[24:]
	}
	if len(b) < 8 {
		return s, true
	}
	size := binary.NativeEndian.Uint64(b)
	b = b[8:]
	if size == 0 || size > uint64(len(b)) || len(b)-int(size) < 8 {
		return s, true
	}
	dyn := binary.NativeEndian.Uint64(b[size:])
	n := min(size, dyn, stackUser)
	s.topLen = copy(s.top[:], b[:n])
	return s, true
}

// taskRecord is a decoded PERF_RECORD_FORK or PERF_RECORD_EXIT:
// u32 pid, ppid, tid, ptid; u64 time.
type taskRecord struct{ pid, ppid, tid int }

func parseTask(b []byte) (taskRecord, bool) {
	if len(b) < 16 {
		return taskRecord{}, false
	}
	return taskRecord{
		pid:  int(binary.NativeEndian.Uint32(b[0:])),
		ppid: int(binary.NativeEndian.Uint32(b[4:])),
		tid:  int(binary.NativeEndian.Uint32(b[8:])),
	}, true
}

// parseComm decodes a PERF_RECORD_COMM: u32 pid, tid; char comm[].
func parseComm(b []byte) (pid, tid int, comm string, ok bool) {
	if len(b) < 8 {
		return 0, 0, "", false
	}
	c := b[8:]
	if i := strings.IndexByte(string(c), 0); i >= 0 {
		c = c[:i]
	}
	return int(binary.NativeEndian.Uint32(b[0:])), int(binary.NativeEndian.Uint32(b[4:])), string(c), true
}

// parseLost returns the count of a PERF_RECORD_LOST (u64 id, lost) or
// PERF_RECORD_LOST_SAMPLES (u64 lost).
func parseLost(typ uint32, b []byte) uint64 {
	switch {
	case typ == unix.PERF_RECORD_LOST && len(b) >= 16:
		return binary.NativeEndian.Uint64(b[8:])
	case typ == unix.PERF_RECORD_LOST_SAMPLES && len(b) >= 8:
		return binary.NativeEndian.Uint64(b[0:])
	}
	return 0
}
