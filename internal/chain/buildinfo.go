package chain

import (
	"bytes"
	"encoding/binary"
	"io"
)

// This is a small reader for the Go build information of a static ELF
// executable, enough to learn its main package path. debug/buildinfo does
// the same in general, but it brings in debug/elf, debug/dwarf and the
// decompressors, which make every chain-loader start about 0.4 ms slower
// (bigger binary, more runtime start-up work); the chain-loaders exist to be
// cheap. Anything unexpected (not ELF, not 64-bit little-endian, no
// .go.buildinfo section, an old pointer-based layout) answers "".

const (
	buildInfoMagic  = "\xff Go buildinf:"
	buildInfoHeader = 32
	maxSections     = 4096
	maxModInfo      = 1 << 20
)

// mainPackagePath returns the main package path recorded in the Go build
// information of the ELF file r, or "".
func mainPackagePath(r io.ReaderAt) string {
	var eh [64]byte
	if _, err := r.ReadAt(eh[:], 0); err != nil {
		return ""
	}
	// ELF, 64-bit, little-endian.
	if string(eh[:4]) != "\x7fELF" || eh[4] != 2 || eh[5] != 1 {
		return ""
	}
	le := binary.LittleEndian
	shoff := le.Uint64(eh[0x28:])
	shentsize := uint64(le.Uint16(eh[0x3a:]))
	shnum := uint64(le.Uint16(eh[0x3c:]))
	shstrndx := uint64(le.Uint16(eh[0x3e:]))
	if shentsize < 64 || shnum == 0 || shnum > maxSections || shstrndx >= shnum || shoff > 1<<40 {
		return ""
	}
	sh := make([]byte, shnum*shentsize)
	if _, err := r.ReadAt(sh, int64(shoff)); err != nil {
		return ""
	}
	section := func(i uint64) (name uint32, off, size uint64) {
		s := sh[i*shentsize:]
		return le.Uint32(s), le.Uint64(s[0x18:]), le.Uint64(s[0x20:])
	}
	_, stroff, strsize := section(shstrndx)
	if strsize > 1<<20 || stroff > 1<<40 {
		return ""
	}
	strtab := make([]byte, strsize)
	if _, err := r.ReadAt(strtab, int64(stroff)); err != nil {
		return ""
	}
	for i := uint64(0); i < shnum; i++ {
		name, off, size := section(i)
		if uint64(name) >= strsize || off > 1<<40 {
			continue
		}
		n := strtab[name:]
		if j := bytes.IndexByte(n, 0); j >= 0 {
			n = n[:j]
		}
		if string(n) == ".go.buildinfo" {
			return parseBuildInfo(r, int64(off), size)
		}
	}
	return ""
}

// parseBuildInfo reads the .go.buildinfo section at off: a 32-byte header
// (magic, pointer size, flags; flag 2 means the strings follow inline),
// then the Go version and the module information as varint-prefixed
// strings. The module information is framed by 16-byte sentinels and its
// first line is "path\t<main package path>".
func parseBuildInfo(r io.ReaderAt, off int64, size uint64) string {
	if size < buildInfoHeader {
		return ""
	}
	n := size
	if n > buildInfoHeader+2*maxModInfo {
		n = buildInfoHeader + 2*maxModInfo
	}
	// Read a first chunk; most build information fits.
	chunk := n
	if chunk > 4096 {
		chunk = 4096
	}
	buf := make([]byte, chunk)
	if _, err := r.ReadAt(buf, off); err != nil {
		return ""
	}
	if string(buf[:len(buildInfoMagic)]) != buildInfoMagic || buf[15]&2 == 0 {
		return ""
	}
	data := buf[buildInfoHeader:]
	vlen, k := binary.Uvarint(data)
	if k <= 0 || vlen > maxModInfo {
		return ""
	}
	data = data[k:]
	pos := uint64(buildInfoHeader + k)
	if vlen > uint64(len(data)) {
		return readModInfoAt(r, off, pos+vlen, n)
	}
	data = data[vlen:]
	pos += vlen
	mlen, k := binary.Uvarint(data)
	if k <= 0 || mlen > maxModInfo {
		if k == 0 && chunk < n {
			return readModInfoAt(r, off, pos, n)
		}
		return ""
	}
	data = data[k:]
	if mlen > uint64(len(data)) {
		return readModInfoAt(r, off, pos, n)
	}
	return pathFromModInfo(data[:mlen])
}

// readModInfoAt reads the varint-prefixed module information at pos when
// it did not fit the first chunk.
func readModInfoAt(r io.ReaderAt, off int64, pos, limit uint64) string {
	if pos+binary.MaxVarintLen64 > limit {
		return ""
	}
	var v [binary.MaxVarintLen64]byte
	if _, err := r.ReadAt(v[:], off+int64(pos)); err != nil {
		return ""
	}
	mlen, k := binary.Uvarint(v[:])
	if k <= 0 || mlen > maxModInfo || pos+uint64(k)+mlen > limit {
		return ""
	}
	m := make([]byte, mlen)
	if _, err := r.ReadAt(m, off+int64(pos)+int64(k)); err != nil {
		return ""
	}
	return pathFromModInfo(m)
}

// pathFromModInfo extracts the main package path from module information.
func pathFromModInfo(m []byte) string {
	if len(m) < 33 || m[len(m)-17] != '\n' {
		return ""
	}
	m = m[16 : len(m)-16]
	line, _, _ := bytes.Cut(m, []byte("\n"))
	p, ok := bytes.CutPrefix(line, []byte("path\t"))
	if !ok {
		return ""
	}
	return string(p)
}
