package svprof

import (
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/pprof/profile"
)

// builder turns samples into a profile as they come, while the sampled
// processes still exist: their maps are read from /proc/PID/maps and their
// binaries opened through /proc/PID/map_files, so that a binary replaced
// or deleted on disk still resolves.
type builder struct {
	procs     map[int]*procState
	objects   map[objKey]*object
	failed    map[objKey]bool
	mappings  map[*object]*profile.Mapping
	locs      map[locKey]*profile.Location
	funcs     map[funcKey]*profile.Function
	byKey     map[string]*profile.Sample
	order     []*profile.Sample
	hits      map[*profile.Mapping]int64
	pids      map[int]bool
	samples   uint64
	oneFrame  uint64
	recovered uint64 // leaf callers recovered from the stack top
	keyBuf    []byte
}

type procState struct {
	maps     []mapping
	read     bool // maps read during this drain
	comms    map[int]string
	unmapped map[uint64]*profile.Location
}

type objKey struct {
	dev string
	ino uint64
}

type locKey struct {
	obj  *object
	addr uint64
}

type funcKey struct{ name, file string }

func newBuilder() *builder {
	return &builder{
		procs:    map[int]*procState{},
		objects:  map[objKey]*object{},
		failed:   map[objKey]bool{},
		mappings: map[*object]*profile.Mapping{},
		locs:     map[locKey]*profile.Location{},
		funcs:    map[funcKey]*profile.Function{},
		byKey:    map[string]*profile.Sample{},
		hits:     map[*profile.Mapping]int64{},
		pids:     map[int]bool{},
	}
}

// kernelSpace is where kernel addresses start on 64-bit Linux.
const kernelSpace = 1 << 63

func (b *builder) proc(pid int) *procState {
	p := b.procs[pid]
	if p == nil {
		p = &procState{comms: map[int]string{}, unmapped: map[uint64]*profile.Location{}}
		b.procs[pid] = p
	}
	return p
}

// setComm records a thread's command name; on exec the process's maps are
// forgotten, to be read again.
func (b *builder) setComm(pid, tid int, comm string, exec bool) {
	p := b.proc(pid)
	p.comms[tid] = comm
	if exec {
		p.maps, p.read = nil, false
		p.unmapped = map[uint64]*profile.Location{}
		b.procs[pid] = p
	}
}

// endDrain lets the next drain read maps again for addresses not found.
func (b *builder) endDrain() {
	for _, p := range b.procs {
		p.read = false
	}
}

// add adds one sample.
func (b *builder) add(s sample) {
	p := b.proc(s.pid)
	// Counted on the kernel's chain: a recovered leaf caller does not
	// make up for missing frame pointers further up.
	if len(s.stack) <= 1 {
		b.oneFrame++
	}
	if ret := b.leafCaller(s.pid, p, s); ret != 0 {
		s.stack = append([]uint64{s.stack[0], ret}, s.stack[1:]...)
		b.recovered++
	}
	var locs []*profile.Location
	if s.ip >= kernelSpace {
		locs = append(locs, b.special("[kernel]"))
	}
	for i, addr := range s.stack {
		if addr >= kernelSpace {
			continue
		}
		pc := addr
		if i > 0 {
			pc-- // a return address: look up the call instruction
		}
		locs = append(locs, b.resolve(s.pid, p, pc))
	}
	if len(locs) == 0 {
		locs = append(locs, b.special("[unknown]"))
	}
	c, ok := p.comms[s.tid]
	if !ok {
		c = comm(s.pid, s.tid)
		p.comms[s.tid] = c
	}
	b.samples++
	b.pids[s.pid] = true
	key := b.key(locs, s.pid, s.tid, c)
	if sm := b.byKey[key]; sm != nil {
		sm.Value[0]++
		return
	}
	sm := &profile.Sample{
		Location: locs,
		Value:    []int64{1, 0},
		Label:    map[string][]string{"comm": {c}},
		NumLabel: map[string][]int64{"pid": {int64(s.pid)}, "tid": {int64(s.tid)}},
	}
	b.byKey[key] = sm
	b.order = append(b.order, sm)
}

func (b *builder) key(locs []*profile.Location, pid, tid int, comm string) string {
	k := b.keyBuf[:0]
	k = strconv.AppendInt(k, int64(pid), 10)
	k = append(k, '/')
	k = strconv.AppendInt(k, int64(tid), 10)
	k = append(k, '/')
	k = append(k, comm...)
	for _, l := range locs {
		k = append(k, ' ')
		k = strconv.AppendUint(k, l.ID, 16)
	}
	b.keyBuf = k
	return string(k)
}

// resolve returns the location of a user address of pid.
func (b *builder) resolve(pid int, p *procState, pc uint64) *profile.Location {
	m, ok := b.mappingOf(pid, p, pc)
	if !ok || m.path == "" {
		return b.unmapped(p, pc)
	}
	if strings.HasPrefix(m.path, "[") {
		return b.special(m.path) // [vdso], [vsyscall]
	}
	o := b.object(pid, m)
	if o == nil {
		return b.special(strings.TrimSuffix(m.path, " (deleted)"))
	}
	va, ok := o.vaddr(m, pc)
	if !ok {
		return b.unmapped(p, pc)
	}
	if l := b.locs[locKey{o, va}]; l != nil {
		b.hits[l.Mapping]++
		return l
	}
	mp := b.mapping(o)
	l := &profile.Location{ID: uint64(len(b.locs) + 1), Mapping: mp, Address: va}
	if fr, ok := o.lookup(va); ok {
		l.Line = []profile.Line{{Function: b.function(fr.fn, fr.file), Line: int64(fr.line)}}
	}
	b.locs[locKey{o, va}] = l
	b.hits[mp]++
	return l
}

// mappingOf finds the executable mapping of pid that holds addr, reading
// /proc/PID/maps again (once per drain) when it is not known.
func (b *builder) mappingOf(pid int, p *procState, addr uint64) (mapping, bool) {
	m, ok := findMapping(p.maps, addr)
	if !ok && !p.read {
		p.read = true
		if ms, err := readMaps(pid); err == nil {
			p.maps = ms
		}
		m, ok = findMapping(p.maps, addr)
	}
	return m, ok
}

// unmapped is an address outside any file mapping (JIT code, say).
func (b *builder) unmapped(p *procState, pc uint64) *profile.Location {
	if l := p.unmapped[pc]; l != nil {
		return l
	}
	l := &profile.Location{ID: uint64(len(b.locs) + 1), Address: pc}
	b.locs[locKey{nil, uint64(len(b.locs) + 1)}] = l
	p.unmapped[pc] = l
	return l
}

// special is a location standing for a whole region: [kernel], [vdso].
func (b *builder) special(name string) *profile.Location {
	f := b.function(name, "")
	k := locKey{nil, ^uint64(0) - f.ID}
	if l := b.locs[k]; l != nil {
		return l
	}
	l := &profile.Location{ID: uint64(len(b.locs) + 1), Line: []profile.Line{{Function: f}}}
	b.locs[k] = l
	return l
}

func (b *builder) function(name, file string) *profile.Function {
	k := funcKey{name, file}
	if f := b.funcs[k]; f != nil {
		return f
	}
	f := &profile.Function{ID: uint64(len(b.funcs) + 1), Name: name, SystemName: name, Filename: file}
	b.funcs[k] = f
	return f
}

// object returns the ELF file of mapping m of pid, opened through
// /proc/PID/map_files (the file mapped, even if replaced on disk), else by
// path; nil when it cannot be read.
func (b *builder) object(pid int, m mapping) *object {
	k := objKey{m.dev, m.ino}
	if o := b.objects[k]; o != nil {
		return o
	}
	if b.failed[k] {
		return nil
	}
	path := strings.TrimSuffix(m.path, " (deleted)")
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/map_files/" +
		strconv.FormatUint(m.start, 16) + "-" + strconv.FormatUint(m.end, 16))
	if err != nil {
		f, err = os.Open(path)
	}
	if err != nil {
		b.failed[k] = true
		return nil
	}
	defer f.Close()
	o, err := openObject(f, path)
	if err != nil {
		b.failed[k] = true
		return nil
	}
	b.objects[k] = o
	return o
}

// mapping returns the profile mapping of an object: one per binary, in the
// binary's own addresses (the text segment as linked), so that processes
// that load it at different places share it.
func (b *builder) mapping(o *object) *profile.Mapping {
	if mp := b.mappings[o]; mp != nil {
		return mp
	}
	named := o.gotab != nil || len(o.syms) > 0
	mp := &profile.Mapping{
		ID:              uint64(len(b.mappings) + 1),
		Start:           o.text.Vaddr,
		Limit:           o.text.Vaddr + o.text.Memsz,
		Offset:          o.text.Off,
		File:            o.path,
		BuildID:         o.buildID,
		HasFunctions:    named,
		HasFilenames:    o.gotab != nil || len(o.lines) > 0,
		HasLineNumbers:  o.gotab != nil || len(o.lines) > 0,
		HasInlineFrames: false,
	}
	b.mappings[o] = mp
	return mp
}

// profile assembles the profile: mappings with the most samples first (the
// first is what pprof calls the main binary).
func (b *builder) profile(period uint64, start time.Time, elapsed time.Duration) *profile.Profile {
	p := &profile.Profile{
		SampleType: []*profile.ValueType{
			{Type: "samples", Unit: "count"},
			{Type: "cpu", Unit: "nanoseconds"},
		},
		DefaultSampleType: "cpu",
		PeriodType:        &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:            int64(period),
		TimeNanos:         start.UnixNano(),
		DurationNanos:     int64(elapsed),
	}
	for _, sm := range b.order {
		sm.Value[1] = sm.Value[0] * int64(period)
		p.Sample = append(p.Sample, sm)
	}
	for _, mp := range b.mappings {
		p.Mapping = append(p.Mapping, mp)
	}
	sort.Slice(p.Mapping, func(i, j int) bool {
		a, c := p.Mapping[i], p.Mapping[j]
		if b.hits[a] != b.hits[c] {
			return b.hits[a] > b.hits[c]
		}
		return a.ID < c.ID
	})
	for i, mp := range p.Mapping {
		mp.ID = uint64(i + 1)
	}
	for _, l := range b.locs {
		p.Location = append(p.Location, l)
	}
	sort.Slice(p.Location, func(i, j int) bool { return p.Location[i].ID < p.Location[j].ID })
	for _, f := range b.funcs {
		p.Function = append(p.Function, f)
	}
	sort.Slice(p.Function, func(i, j int) bool { return p.Function[i].ID < p.Function[j].ID })
	return p
}
