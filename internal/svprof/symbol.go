package svprof

import (
	"bufio"
	"debug/dwarf"
	"debug/elf"
	"debug/gosym"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// mapping is one line of /proc/PID/maps.
type mapping struct {
	start, end, off uint64
	dev             string // "fd:01"
	ino             uint64
	exec            bool
	path            string // may end in " (deleted)"; "[vdso]" etc. for specials
}

// parseMaps parses /proc/PID/maps text, keeping executable mappings only.
func parseMaps(r io.Reader) []mapping {
	var out []mapping
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if m, ok := parseMapsLine(sc.Text()); ok && m.exec {
			out = append(out, m)
		}
	}
	return out
}

// parseMapsLine parses "start-end perms offset dev inode   path".
func parseMapsLine(line string) (mapping, bool) {
	f := strings.Fields(line)
	if len(f) < 5 {
		return mapping{}, false
	}
	lo, hi, ok := strings.Cut(f[0], "-")
	if !ok {
		return mapping{}, false
	}
	var m mapping
	var err1, err2, err3, err4 error
	m.start, err1 = strconv.ParseUint(lo, 16, 64)
	m.end, err2 = strconv.ParseUint(hi, 16, 64)
	m.off, err3 = strconv.ParseUint(f[2], 16, 64)
	m.ino, err4 = strconv.ParseUint(f[4], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || m.end <= m.start || len(f[1]) < 3 {
		return mapping{}, false
	}
	m.exec = f[1][2] == 'x'
	m.dev = f[3]
	if len(f) > 5 {
		// The path is the rest of the line after the inode, spaces and all.
		i := strings.Index(line, f[5])
		m.path = line[i:]
	}
	return m, true
}

// readMaps reads the executable mappings of pid.
func readMaps(pid int) ([]mapping, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/maps")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseMaps(f), nil
}

// find returns the mapping that holds addr.
func findMapping(ms []mapping, addr uint64) (mapping, bool) {
	i := sort.Search(len(ms), func(i int) bool { return ms[i].end > addr })
	if i < len(ms) && ms[i].start <= addr {
		return ms[i], true
	}
	return mapping{}, false
}

// symbol is one function symbol of an ELF file.
type symbol struct {
	addr, size uint64
	name       string
}

// lineRow is one row of a DWARF line table.
type lineRow struct {
	addr uint64
	file string
	line int
	end  bool // end of a sequence: no code from here
}

// object is an ELF file, read once, that answers address queries in its
// own (link-time) virtual address space.
type object struct {
	path    string // as /proc/PID/maps names it
	buildID string
	loads   []elf.ProgHeader // PT_LOAD segments
	text    elf.ProgHeader   // the executable PT_LOAD segment (first one)
	code    []byte           // its bytes, to look at prologues and calls
	syms    []symbol         // sorted by address
	lines   []lineRow        // sorted by address
	gotab   *gosym.Table     // Go's own table, for Go binaries
}

// errNotELF means the mapped file is not an ELF file svprof can read.
var errNotELF = errors.New("not an ELF file")

// openObject reads what svprof needs from the ELF file open in f.
func openObject(f *os.File, path string) (*object, error) {
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil, errNotELF
	}
	defer ef.Close()
	o := &object{path: path}
	for _, p := range ef.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		o.loads = append(o.loads, p.ProgHeader)
		if p.Flags&elf.PF_X != 0 && o.text.Memsz == 0 {
			o.text = p.ProgHeader
			if p.Filesz <= 1<<30 {
				o.code = make([]byte, p.Filesz)
				if _, err := p.ReadAt(o.code, 0); err != nil {
					o.code = nil
				}
			}
		}
	}
	o.buildID = buildID(ef)
	o.gotab = goTable(ef)
	if o.gotab == nil {
		o.syms = elfSymbols(ef)
		o.lines = dwarfLines(ef)
	}
	return o, nil
}

// buildID returns the GNU build ID as hex, or else the Go build ID.
func buildID(ef *elf.File) string {
	if id := noteDesc(ef, ".note.gnu.build-id", "GNU\x00", 3); id != nil {
		return hex.EncodeToString(id)
	}
	if id := noteDesc(ef, ".note.go.buildid", "Go\x00\x00", 4); id != nil {
		return string(id)
	}
	return ""
}

// noteDesc returns the descriptor of the note of the given name and type
// in section sec.
func noteDesc(ef *elf.File, sec, name string, typ uint32) []byte {
	s := ef.Section(sec)
	if s == nil || s.Type != elf.SHT_NOTE {
		return nil
	}
	b, err := s.Data()
	if err != nil {
		return nil
	}
	bo := ef.ByteOrder
	for len(b) >= 12 {
		nsz, dsz, t := bo.Uint32(b[0:]), bo.Uint32(b[4:]), bo.Uint32(b[8:])
		b = b[12:]
		n4, d4 := align4(nsz), align4(dsz)
		if uint64(len(b)) < n4+d4 {
			return nil
		}
		if t == typ && string(b[:nsz]) == name {
			return b[n4 : n4+uint64(dsz)]
		}
		b = b[n4+d4:]
	}
	return nil
}

func align4(n uint32) uint64 { return (uint64(n) + 3) &^ 3 }

// goTable returns Go's function and line table (pclntab), which every Go
// binary carries even when stripped, or nil for other binaries.
func goTable(ef *elf.File) *gosym.Table {
	pcln := ef.Section(".gopclntab")
	text := ef.Section(".text")
	if pcln == nil || text == nil {
		return nil
	}
	b, err := pcln.Data()
	if err != nil {
		return nil
	}
	t, err := gosym.NewTable(nil, gosym.NewLineTable(b, text.Addr))
	if err != nil {
		return nil
	}
	return t
}

// elfSymbols returns the function symbols of .symtab and .dynsym, sorted,
// one per address.
func elfSymbols(ef *elf.File) []symbol {
	var out []symbol
	add := func(ss []elf.Symbol) {
		for _, s := range ss {
			t := elf.ST_TYPE(s.Info)
			if (t != elf.STT_FUNC && t != elf.STT_GNU_IFUNC) || s.Value == 0 || s.Section == elf.SHN_UNDEF {
				continue
			}
			name := s.Name
			if i := strings.IndexByte(name, '@'); i > 0 {
				name = name[:i] // "memcpy@@GLIBC_2.14"
			}
			out = append(out, symbol{addr: s.Value, size: s.Size, name: name})
		}
	}
	if ss, err := ef.Symbols(); err == nil {
		add(ss)
	}
	if ss, err := ef.DynamicSymbols(); err == nil {
		add(ss)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].addr < out[j].addr })
	// Keep the first name per address (.symtab comes before .dynsym).
	dedup := out[:0]
	for i, s := range out {
		if i > 0 && s.addr == out[i-1].addr {
			continue
		}
		dedup = append(dedup, s)
	}
	return dedup
}

// dwarfLines returns every row of the DWARF line tables, sorted by
// address, or nil when there is no debug information.
func dwarfLines(ef *elf.File) []lineRow {
	if ef.Section(".debug_line") == nil && ef.Section(".zdebug_line") == nil {
		return nil
	}
	d, err := ef.DWARF()
	if err != nil {
		return nil
	}
	var rows []lineRow
	r := d.Reader()
	for {
		cu, err := r.Next()
		if err != nil || cu == nil {
			break
		}
		if cu.Tag != dwarf.TagCompileUnit {
			r.SkipChildren()
			continue
		}
		lr, err := d.LineReader(cu)
		r.SkipChildren()
		if err != nil || lr == nil {
			continue
		}
		var e dwarf.LineEntry
		for lr.Next(&e) == nil {
			name := ""
			if e.File != nil {
				name = e.File.Name
			}
			rows = append(rows, lineRow{addr: e.Address, file: name, line: e.Line, end: e.EndSequence})
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].addr < rows[j].addr })
	return rows
}

// vaddr converts a runtime address inside mapping m to the object's
// link-time virtual address, using the PT_LOAD segment that holds the
// mapping's file offset (this covers PIE load bias and non-PIE alike).
func (o *object) vaddr(m mapping, addr uint64) (uint64, bool) {
	fileOff := addr - m.start + m.off
	for _, p := range o.loads {
		if fileOff >= p.Off && fileOff < p.Off+p.Filesz {
			return fileOff - p.Off + p.Vaddr, true
		}
	}
	return 0, false
}

// frame is what an address resolves to.
type frame struct {
	fn   string
	file string
	line int
}

// lookup resolves a link-time address.
func (o *object) lookup(pc uint64) (frame, bool) {
	if o.gotab != nil {
		file, line, fn := o.gotab.PCToLine(pc)
		if fn == nil {
			return frame{}, false
		}
		return frame{fn: fn.Name, file: file, line: line}, true
	}
	var fr frame
	i := sort.Search(len(o.syms), func(i int) bool { return o.syms[i].addr > pc }) - 1
	if i < 0 {
		return frame{}, false
	}
	s := o.syms[i]
	if s.size != 0 && pc >= s.addr+s.size {
		return frame{}, false
	}
	fr.fn = s.name
	j := sort.Search(len(o.lines), func(j int) bool { return o.lines[j].addr > pc }) - 1
	if j >= 0 && !o.lines[j].end {
		fr.file, fr.line = o.lines[j].file, o.lines[j].line
	}
	return fr, true
}

// funcStart returns the entry of the function holding the link-time
// address pc.
func (o *object) funcStart(pc uint64) (uint64, bool) {
	if o.gotab != nil {
		if fn := o.gotab.PCToFunc(pc); fn != nil {
			return fn.Entry, true
		}
		return 0, false
	}
	i := sort.Search(len(o.syms), func(i int) bool { return o.syms[i].addr > pc }) - 1
	if i < 0 || (o.syms[i].size != 0 && pc >= o.syms[i].addr+o.syms[i].size) {
		return 0, false
	}
	return o.syms[i].addr, true
}

// codeAt returns up to n bytes of code at link-time address va.
func (o *object) codeAt(va uint64, n int) []byte {
	if va < o.text.Vaddr || va-o.text.Vaddr >= uint64(len(o.code)) {
		return nil
	}
	c := o.code[va-o.text.Vaddr:]
	return c[:min(n, len(c))]
}

// String names the object for messages.
func (o *object) String() string { return fmt.Sprintf("%s (build ID %s)", o.path, o.buildID) }
