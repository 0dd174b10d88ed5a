package svprof

import (
	"bytes"
	"encoding/binary"
)

// Frame-pointer unwinding starts from the frame the sampled function set
// up. A leaf function built without a frame pointer (gcc omits it in leaf
// functions even with -fno-omit-frame-pointer; Go in small leaves) has
// none, so the kernel's chain goes from the leaf straight to its caller's
// caller. On x86-64 svprof recovers the missing caller from the top of the
// user stack, where the return address is until the function pushes
// something, and only when the bytes before that address are a call
// instruction.

var pushMovRBP = []byte{0x55, 0x48, 0x89, 0xe5} // push %rbp; mov %rsp,%rbp

// prologueScan is how far into a function svprof looks for the frame
// pointer set-up (Go puts its stack check before it).
const prologueScan = 40

// leafCaller returns the return address of the sampled (leaf) function
// when the kernel's chain lacks it, else 0.
func (b *builder) leafCaller(pid int, p *procState, s sample) uint64 {
	if s.sp == 0 || s.topLen < 16 || len(s.stack) == 0 || s.ip >= kernelSpace {
		return 0
	}
	ip := s.stack[0]
	o, _, va, ok := b.objectAt(pid, p, ip)
	if !ok {
		return 0
	}
	entry, ok := o.funcStart(va)
	if !ok {
		return 0
	}
	code := o.codeAt(entry, prologueScan)
	if code == nil {
		return 0
	}
	off := va - entry
	slot := 0 // where the return address is: top[0:8] or top[8:16]
	if k := bytes.Index(code, pushMovRBP); k >= 0 {
		switch {
		case off <= uint64(k):
			slot = 0 // before push %rbp
		case off == uint64(k)+1:
			slot = 8 // after push %rbp, before mov
		default:
			return 0 // the frame is set up: the chain is right
		}
	}
	// A function without the set-up may have pushed other registers;
	// then the top of the stack is no return address, which the check
	// for a call instruction before it weeds out.
	ret := binary.NativeEndian.Uint64(s.top[slot : slot+8])
	if len(s.stack) > 1 && s.stack[1] == ret {
		return 0
	}
	if !b.afterCall(pid, p, ret) {
		return 0
	}
	return ret
}

// afterCall reports whether addr follows a call instruction in an
// executable file mapping of pid: e8 rel32, or ff /2 through a register or
// memory operand.
func (b *builder) afterCall(pid int, p *procState, addr uint64) bool {
	o, _, va, ok := b.objectAt(pid, p, addr)
	if !ok || va < o.text.Vaddr+7 {
		return false
	}
	c := o.codeAt(va-7, 7)
	if len(c) != 7 {
		return false
	}
	if c[2] == 0xe8 { // call rel32
		return true
	}
	if c[5] == 0xff && c[6]&0xf8 == 0xd0 { // call *%reg
		return true
	}
	if c[4] == 0x41 && c[5] == 0xff && c[6]&0xf8 == 0xd0 { // call *%r8-15
		return true
	}
	if c[1] == 0xff && c[2] == 0x15 { // call *rel32(%rip)
		return true
	}
	return false
}

// objectAt finds the object and link-time address of a user address.
func (b *builder) objectAt(pid int, p *procState, addr uint64) (*object, mapping, uint64, bool) {
	m, ok := b.mappingOf(pid, p, addr)
	if !ok || m.path == "" || m.path[0] == '[' {
		return nil, mapping{}, 0, false
	}
	o := b.object(pid, m)
	if o == nil {
		return nil, mapping{}, 0, false
	}
	va, ok := o.vaddr(m, addr)
	return o, m, va, ok
}
