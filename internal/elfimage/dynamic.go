package elfimage

import (
	"debug/elf"
	"fmt"
	"strings"
	"sync"
)

// Slots for the dynamic tags Parse understands (DT_NEEDED, which repeats,
// is collected apart). Each may appear at most once.
const (
	tStrtab = iota
	tStrsz
	tSymtab
	tSyment
	tHash
	tGNUHash
	tRela
	tRelasz
	tRelaent
	tRel
	tRelsz
	tJmprel
	tPltrelsz
	tPltrel
	tRelr
	tRelrsz
	tRelrent
	tInit
	tFini
	tInitArray
	tInitArraysz
	tFiniArray
	tFiniArraysz
	tPreinitArray
	tPreinitArraysz
	tSoname
	tRunpath
	tRpath
	tFlags
	tFlags1
	tVersym
	tVerdef
	tVerdefnum
	tVerneed
	tVerneednum
	tRelacount
	tTextrel
	tBindNow
	nSlots
)

// slotTags maps a slot to its tag (for names in errors).
var slotTags = [nSlots]elf.DynTag{
	tStrtab: elf.DT_STRTAB, tStrsz: elf.DT_STRSZ, tSymtab: elf.DT_SYMTAB, tSyment: elf.DT_SYMENT,
	tHash: elf.DT_HASH, tGNUHash: elf.DT_GNU_HASH,
	tRela: elf.DT_RELA, tRelasz: elf.DT_RELASZ, tRelaent: elf.DT_RELAENT,
	tRel: elf.DT_REL, tRelsz: elf.DT_RELSZ,
	tJmprel: elf.DT_JMPREL, tPltrelsz: elf.DT_PLTRELSZ, tPltrel: elf.DT_PLTREL,
	tRelr: dtRelr, tRelrsz: dtRelrsz, tRelrent: dtRelrent,
	tInit: elf.DT_INIT, tFini: elf.DT_FINI,
	tInitArray: elf.DT_INIT_ARRAY, tInitArraysz: elf.DT_INIT_ARRAYSZ,
	tFiniArray: elf.DT_FINI_ARRAY, tFiniArraysz: elf.DT_FINI_ARRAYSZ,
	tPreinitArray: elf.DT_PREINIT_ARRAY, tPreinitArraysz: elf.DT_PREINIT_ARRAYSZ,
	tSoname: elf.DT_SONAME, tRunpath: elf.DT_RUNPATH, tRpath: elf.DT_RPATH,
	tFlags: elf.DT_FLAGS, tFlags1: elf.DT_FLAGS_1,
	tVersym: elf.DT_VERSYM, tVerdef: elf.DT_VERDEF, tVerdefnum: elf.DT_VERDEFNUM,
	tVerneed: elf.DT_VERNEED, tVerneednum: elf.DT_VERNEEDNUM,
	tRelacount: elf.DT_RELACOUNT, tTextrel: elf.DT_TEXTREL, tBindNow: elf.DT_BIND_NOW,
}

// The DT_RELR tags (gABI 2022), which debug/elf does not name.
const (
	dtRelrsz  elf.DynTag = 35
	dtRelr    elf.DynTag = 36
	dtRelrent elf.DynTag = 37
)

// slotName returns the name of slot s's tag.
func slotName(s int) string {
	switch slotTags[s] {
	case dtRelrsz:
		return "DT_RELRSZ"
	case dtRelr:
		return "DT_RELR"
	case dtRelrent:
		return "DT_RELRENT"
	}
	return slotTags[s].String()
}

// tagSlot returns the slot of tag, or -1 for a tag Parse ignores.
func tagSlot(tag elf.DynTag) int {
	for s, t := range slotTags {
		if t == tag {
			return s
		}
	}
	return -1
}

// dynEntry is one dynamic entry Parse keeps: its value and index.
type dynEntry struct {
	val uint64
	idx int // index in the dynamic array; -1 when the tag is absent
}

// dynState is the dynamic array as read, plus what Parse derives from it.
type dynState struct {
	off    uint64 // file offset of the dynamic array
	slots  [nSlots]dynEntry
	needed []dynEntry
	strtab []byte // the string table's bytes
	strs   string // the same bytes as one string, so names are substrings
	nsyms  uint64
}

func (ds *dynState) has(s int) bool    { return ds.slots[s].idx >= 0 }
func (ds *dynState) val(s int) uint64  { return ds.slots[s].val }
func (ds *dynState) name(s int) string { return slotName(s) }

// valOff returns the file offset of the d_val of dynamic entry idx.
func (ds *dynState) valOff(idx int) int64 { return int64(ds.off) + int64(idx)*dynSize + 8 }

// slotOff returns the file offset of the d_val of slot s, or -1.
func (ds *dynState) slotOff(s int) int64 {
	if !ds.has(s) {
		return -1
	}
	return ds.valOff(ds.slots[s].idx)
}

// errSlot returns a malformed-file error about the entry of slot s.
func (ds *dynState) errSlot(s int, format string, args ...any) *FormatError {
	return malformed(ds.slotOff(s), ds.name(s), ds.val(s), format, args...)
}

// dynamic reads the PT_DYNAMIC segment and everything it names.
func (p *parser) dynamic() error {
	ph := &p.f.Progs[p.dynIdx]
	// Decoded before any other read: the window's bytes do.
	raw, err := p.readWindow("dynamic segment", ph.Off, ph.Filesz)
	if err != nil {
		return err
	}
	ds := &p.ds
	ds.off = ph.Off
	for s := range ds.slots {
		ds.slots[s].idx = -1
	}
	n := len(raw) / dynSize
	terminated := false
	for i := 0; i < n; i++ {
		tag := elf.DynTag(int64(le.Uint64(raw[i*dynSize:])))
		val := le.Uint64(raw[i*dynSize+8:])
		if tag == elf.DT_NULL {
			terminated = true
			break
		}
		if tag == elf.DT_NEEDED {
			ds.needed = append(ds.needed, dynEntry{val: val, idx: i})
			continue
		}
		s := tagSlot(tag)
		if s < 0 {
			continue
		}
		if ds.has(s) {
			return malformed(ds.valOff(i), ds.name(s), val, "appears twice in the dynamic segment (first as entry %d)", ds.slots[s].idx)
		}
		ds.slots[s] = dynEntry{val: val, idx: i}
	}
	if !terminated {
		return malformed(int64(ph.Off), "DT_NULL", uint64(n), "the dynamic segment's %d entries have no DT_NULL terminator", n)
	}

	d := &p.blk.d
	p.f.Dynamic = d
	steps := []func(*dynState, *Dynamic) error{
		p.dynStrings,
		p.dynSymbols,
		p.dynVersions,
		p.dynRelocs,
		p.dynInitFini,
	}
	for _, step := range steps {
		if err := step(ds, d); err != nil {
			return err
		}
	}
	return nil
}

// table returns the file offset of the table that slot addr names with the
// size size (taken from slot sizeSlot, or computed when sizeSlot is -1),
// after checking that it lies inside the file bytes of one PT_LOAD.
func (p *parser) table(ds *dynState, addr, sizeSlot int, size uint64) (uint64, error) {
	vaddr := ds.val(addr)
	if _, ok := p.f.VaddrToOffset(vaddr, 0); !ok {
		return 0, ds.errSlot(addr, "is not inside the file bytes of a PT_LOAD")
	}
	off, ok := p.f.VaddrToOffset(vaddr, size)
	if !ok {
		if sizeSlot >= 0 {
			return 0, ds.errSlot(sizeSlot, "the table at %#x (%s) runs past the file bytes of its PT_LOAD", vaddr, ds.name(addr))
		}
		return 0, ds.errSlot(addr, "the table of %#x bytes runs past the file bytes of its PT_LOAD", size)
	}
	return off, nil
}

// checkTable checks the table that slot addr names, of the size in slot
// sizeSlot, whose entries are entsize bytes, and says where it is.
func (p *parser) checkTable(ds *dynState, addr, sizeSlot int, entsize uint64) (Table, error) {
	if !ds.has(sizeSlot) {
		return Table{}, malformed(ds.slotOff(addr), ds.name(sizeSlot), 0, "missing, but %s is present", ds.name(addr))
	}
	size := ds.val(sizeSlot)
	if size%entsize != 0 {
		return Table{}, ds.errSlot(sizeSlot, "is not a multiple of the entry size %d", entsize)
	}
	off, err := p.table(ds, addr, sizeSlot, size)
	if err != nil {
		return Table{}, err
	}
	if size == 0 {
		return Table{}, nil
	}
	return Table{Vaddr: ds.val(addr), Off: off, Size: size}, nil
}

// readTable checks and reads the table that slot addr names (see
// checkTable).
func (p *parser) readTable(ds *dynState, addr, sizeSlot int, entsize uint64) ([]byte, error) {
	t, err := p.checkTable(ds, addr, sizeSlot, entsize)
	if err != nil || t.Size == 0 {
		return nil, err
	}
	return p.readAt(ds.name(addr), t.Off, t.Size)
}

// dynStrings reads the string table and the strings the dynamic segment
// names by offset.
func (p *parser) dynStrings(ds *dynState, d *Dynamic) error {
	if !ds.has(tStrtab) {
		return malformed(-1, "DT_STRTAB", 0, "missing: the object has no dynamic string table")
	}
	if !ds.has(tStrsz) {
		return malformed(ds.slotOff(tStrtab), "DT_STRSZ", 0, "missing, but DT_STRTAB is present")
	}
	var err error
	if d.StrTab, err = p.checkTable(ds, tStrtab, tStrsz, 1); err != nil {
		return err
	}
	if !p.inPlace {
		if ds.strtab, err = p.readTable(ds, tStrtab, tStrsz, 1); err != nil {
			return err
		}
		ds.strs = string(ds.strtab)
	}
	if len(ds.needed) > 0 {
		d.Needed = make([]string, len(ds.needed))
	}
	for i, e := range ds.needed {
		if d.Needed[i], err = p.str(ds, func() string { return "DT_NEEDED" }, ds.valOff(e.idx), e.val); err != nil {
			return err
		}
	}
	if ds.has(tSoname) {
		if d.Soname, err = p.str(ds, func() string { return "DT_SONAME" }, ds.slotOff(tSoname), ds.val(tSoname)); err != nil {
			return err
		}
	}
	for _, s := range []int{tRunpath, tRpath} {
		if !ds.has(s) {
			continue
		}
		path, err := p.str(ds, func() string { return ds.name(s) }, ds.slotOff(s), ds.val(s))
		if err != nil {
			return err
		}
		list := splitPath(path)
		if s == tRunpath {
			d.Runpath = list
		} else {
			d.Rpath = list
		}
	}
	return nil
}

// splitPath splits a DT_RUNPATH or DT_RPATH at ':'; an empty value gives
// no entries.
func splitPath(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ":")
}

// dynRelocs checks where DT_RELA, DT_JMPREL and DT_RELR are; their
// entries are read where they are mapped, when used (see Table).
func (p *parser) dynRelocs(ds *dynState, d *Dynamic) error {
	if ds.has(tRel) {
		return unsupported(ds.slotOff(tRel), "DT_REL", ds.val(tRel), "REL relocations (without addend) are not used on this architecture")
	}
	var err error
	if ds.has(tRela) {
		if ds.has(tRelaent) && ds.val(tRelaent) != relaSize {
			return ds.errSlot(tRelaent, "is not %d, the size of Elf64_Rela", relaSize)
		}
		if d.RelaTab, err = p.checkTable(ds, tRela, tRelasz, relaSize); err != nil {
			return err
		}
	}
	if ds.has(tJmprel) {
		if !ds.has(tPltrel) {
			return malformed(ds.slotOff(tJmprel), "DT_PLTREL", 0, "missing, but DT_JMPREL is present")
		}
		if ds.val(tPltrel) != uint64(elf.DT_RELA) {
			return unsupported(ds.slotOff(tPltrel), "DT_PLTREL", ds.val(tPltrel), "PLT relocations must be DT_RELA (%d)", elf.DT_RELA)
		}
		if d.JmpRelTab, err = p.checkTable(ds, tJmprel, tPltrelsz, relaSize); err != nil {
			return err
		}
	}
	if ds.has(tRelr) {
		if ds.has(tRelrent) && ds.val(tRelrent) != relrSize {
			return ds.errSlot(tRelrent, "is not %d, the size of an Elf64_Relr", relrSize)
		}
		if d.RelrTab, err = p.checkTable(ds, tRelr, tRelrsz, relrSize); err != nil {
			return err
		}
	}
	if ds.has(tRelacount) {
		d.RelaCount = ds.val(tRelacount)
	}
	return nil
}

// dynInitFini checks the constructors and destructors and reads the flags.
func (p *parser) dynInitFini(ds *dynState, d *Dynamic) error {
	f := p.f
	for _, s := range []int{tInit, tFini} {
		if !ds.has(s) {
			continue
		}
		if !f.inSegment(ds.val(s), 1, true) {
			return ds.errSlot(s, "is not inside an executable PT_LOAD")
		}
	}
	d.Init, d.Fini = ds.val(tInit), ds.val(tFini)
	if ds.has(tPreinitArray) {
		return unsupported(ds.slotOff(tPreinitArray), "DT_PREINIT_ARRAY", ds.val(tPreinitArray),
			"pre-initialisation functions are only run for executables")
	}
	arrays := []struct {
		addr, size int
		vaddr, n   *uint64
	}{
		{tInitArray, tInitArraysz, &d.InitArray, &d.InitArrayLen},
		{tFiniArray, tFiniArraysz, &d.FiniArray, &d.FiniArrayLen},
	}
	for _, a := range arrays {
		if !ds.has(a.addr) {
			if ds.has(a.size) && ds.val(a.size) != 0 {
				return ds.errSlot(a.size, "is non-zero, but %s is missing", ds.name(a.addr))
			}
			continue
		}
		if !ds.has(a.size) {
			return malformed(ds.slotOff(a.addr), ds.name(a.size), 0, "missing, but %s is present", ds.name(a.addr))
		}
		size := ds.val(a.size)
		if size%8 != 0 {
			return ds.errSlot(a.size, "is not a multiple of 8")
		}
		if size == 0 {
			continue
		}
		if !f.inSegment(ds.val(a.addr), 0, false) {
			return ds.errSlot(a.addr, "is not inside a PT_LOAD")
		}
		if !f.inSegment(ds.val(a.addr), size, false) {
			return ds.errSlot(a.size, "the array at %#x runs past the end of its PT_LOAD", ds.val(a.addr))
		}
		*a.vaddr, *a.n = ds.val(a.addr), size/8
	}
	d.Flags = elf.DynFlag(ds.val(tFlags))
	d.Flags1 = elf.DynFlag1(ds.val(tFlags1))
	d.TextRel = ds.has(tTextrel) || d.Flags&elf.DF_TEXTREL != 0
	d.BindNow = ds.has(tBindNow) || d.Flags&elf.DF_BIND_NOW != 0 || d.Flags1&elf.DF_1_NOW != 0
	return nil
}

// window caches file bytes for walking linked structures (hash chains,
// version lists) whose extent is unknown before the walk, so that a walk
// costs a few ReadAt calls rather than one per node.
type window struct {
	off uint64
	buf []byte
}

// windowSize is how much a window refill reads (at most: never beyond the
// file bytes of the segment the request falls in; a larger request reads
// what it asks for). A page: what a walk reads sits together (a hash
// chain's end, a version list, the few names a parse needs), and in a
// fresh process each further page of a buffer read into is a first-touch
// fault, which on a VM costs more than another read (docs/FIRSTLOAD.md,
// branches sqlite2 and firstload4).
const windowSize = 4 << 10

// windowBufs keeps window buffers of windowSize bytes between parses: a
// loader parses a library and then each of its dependencies, and every
// fresh buffer costs its first-touch page faults, which on a VM cost more
// than the reads that fill them (libLLVM-15 and its dependencies: ~100
// faults, 1.2 ms, of a first load). A window's bytes never outlive its
// parse (every value read from them is decoded or copied), so release
// hands them back when the parse ends.
var windowBufs = sync.Pool{New: func() any { return new([windowSize]byte) }}

// release returns the window's buffer to windowBufs.
func (w *window) release() {
	if cap(w.buf) == windowSize {
		windowBufs.Put((*[windowSize]byte)(w.buf[:windowSize]))
	}
	w.buf = nil
}

// readWindow reads the n bytes at file offset off (inside the file) into
// the parser's window when they fit, else into a new slice: a read the
// caller decodes before the window's next refill costs no allocation.
func (p *parser) readWindow(what string, off, n uint64) ([]byte, error) {
	w := &p.win
	if n > windowSize {
		return p.readAt(what, off, n)
	}
	if cap(w.buf) < windowSize {
		w.release()
		w.buf = windowBufs.Get().(*[windowSize]byte)[:]
	}
	w.buf = w.buf[:n]
	if err := p.readInto(what, off, w.buf); err != nil {
		w.buf = w.buf[:0]
		return nil, err
	}
	w.off = off
	return w.buf, nil
}

// at returns the n file bytes at image address vaddr and their file
// offset; ok is false when they are not inside the file bytes of one
// PT_LOAD.
func (p *parser) at(vaddr, n uint64) (b []byte, off uint64, ok bool, err error) {
	return p.atIn(&p.win, vaddr, n)
}

// atIn is at through window w.
func (p *parser) atIn(w *window, vaddr, n uint64) (b []byte, off uint64, ok bool, err error) {
	off, ok = p.f.VaddrToOffset(vaddr, n)
	if !ok || n == 0 {
		return nil, off, ok, nil
	}
	if off >= w.off && off+n <= w.off+uint64(len(w.buf)) {
		return w.buf[off-w.off : off-w.off+n], off, true, nil
	}
	i, _ := p.f.SegmentAt(vaddr) // VaddrToOffset succeeded, so this does too
	ld := &p.f.Loads[i]
	limit := ld.Off + ld.Filesz - off
	want := max(n, windowSize)
	if want > limit {
		want = limit
	}
	if cap(w.buf) < int(want) {
		w.release()
		if want <= windowSize {
			w.buf = windowBufs.Get().(*[windowSize]byte)[:]
		} else {
			w.buf = make([]byte, want)
		}
	}
	w.buf = w.buf[:want]
	if err := p.readInto("dynamic tables", off, w.buf); err != nil {
		w.buf = w.buf[:0]
		return nil, 0, false, err
	}
	w.off = off
	return w.buf[:n], off, true, nil
}

// errField returns the field name "what[i].field".
func errField(what string, i int, field string) string {
	return fmt.Sprintf("%s[%d].%s", what, i, field)
}
