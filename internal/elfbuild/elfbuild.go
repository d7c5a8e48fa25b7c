// Package elfbuild builds small, valid ELF64 little-endian shared objects
// (ET_DYN, for the running architecture's e_machine: x86-64 or AArch64)
// in memory, for elfimage's negative tests and fuzz seeds.
//
// Build lays out an object the way GNU ld does without separate code
// pages: three PT_LOADs (read-only tables, code, data) that share file
// pages but not virtual pages, a PT_DYNAMIC, a dynamic string and symbol
// table, a GNU hash table (and optionally a System V one), symbol
// versions, relocations, constructors and TLS as the Spec asks. It writes
// no section headers: a loader must not need them.
//
// The Object it returns records where every structure lives, so that a
// test can change exactly one field (SetPhdr, SetDyn, Put32, ...) and check
// that the parser refuses that field. The code is a `ret` per function and
// constructors are not relocated: the objects are made to be parsed and
// mapped, not run.
package elfbuild

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"sort"
)

// Machine is the e_machine Build writes: the running architecture's, the
// one elfimage accepts. Reloc types stay R_X86_64 values; only amd64 tests
// relocate what they build.
var Machine = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[runtime.GOARCH]

// Sym is one dynamic symbol of a Spec.
type Sym struct {
	Name string
	// Type is elf.STT_FUNC (the default, placed in the code segment) or
	// elf.STT_OBJECT (8 bytes in the data segment). Any other type is
	// given a function's place.
	Type elf.SymType
	// Bind defaults to elf.STB_GLOBAL (whose value is not 0); Local asks
	// for elf.STB_LOCAL.
	Bind  elf.SymBind
	Local bool
	// Undef makes the symbol an import (SHN_UNDEF, value 0).
	Undef bool
	// Version is, for a definition, a version this object defines
	// (name@@Version, or name@Version when Hidden); for an import, the
	// version needed from the file From.
	Version string
	Hidden  bool
	// From is the library an import's version is needed from; it
	// defaults to the first Needed entry (or "libc.so.6").
	From string
}

// Reloc is one relocation of a Spec; it relocates an 8-byte slot of its
// own in the data segment.
type Reloc struct {
	Type   elf.R_X86_64
	Sym    string // the symbol's name; "" for none (index 0)
	Addend int64
}

// Spec describes the object Build makes. The zero Spec is a valid object
// with no symbols but the null one.
type Spec struct {
	Soname  string
	Needed  []string
	Runpath string
	Rpath   string
	Syms    []Sym
	Rela    []Reloc // DT_RELA
	JmpRel  []Reloc // DT_JMPREL
	// Relr is the number of relative relocations packed into DT_RELR
	// (one address entry and, for more than one, a bitmap; at most 64).
	Relr int

	NoGNUHash bool // omit DT_GNU_HASH
	SysVHash  bool // add DT_HASH

	Init, Fini           bool // DT_INIT / DT_FINI
	InitArray, FiniArray int  // entries of DT_INIT_ARRAY / DT_FINI_ARRAY
	TLS                  bool // a PT_TLS with a 16-byte template and 16 more zero bytes
	RELRO                bool // a PT_GNU_RELRO over the dynamic segment and arrays
	Interp               string
	BSS                  uint64 // zero bytes past the data segment's file bytes
	TextRel              bool   // DT_TEXTREL
	Flags                elf.DynFlag
	Flags1               elf.DynFlag1

	// PageSize is the page size the layout is congruent to; 0 means the
	// system's.
	PageSize uint64
}

// Table is where one structure lives.
type Table struct {
	Off   int64  // file offset
	Vaddr uint64 // virtual address (relative to the load base)
	Size  uint64
}

// Object is a built shared object and its layout.
type Object struct {
	Data []byte
	// Tables maps a structure's name to where it lives: "phdrs",
	// "interp", "hash", "gnu.hash", "dynsym", "dynstr", "versym",
	// "verdef", "verneed", "rela", "jmprel", "relr", "text", "dynamic",
	// "init_array", "fini_array", "tdata", "data".
	Tables map[string]Table
	// Syms lists the dynamic symbols in table order (index 0 is the null
	// symbol, "").
	Syms []string
	// Vaddrs of the symbols (0 for imports).
	Values []uint64

	phTypes []elf.ProgType
	dynTags []elf.DynTag
}

// Offsets of the fields of an Elf64_Phdr, for SetPhdr.
const (
	PType   = 0
	PFlags  = 4
	POffset = 8
	PVaddr  = 16
	PPaddr  = 24
	PFilesz = 32
	PMemsz  = 40
	PAlign  = 48
)

// Offsets of fields of the ELF header, for Put16 and friends.
const (
	EType      = 16
	EMachine   = 18
	EVersion   = 20
	EPhoff     = 32
	EShoff     = 40
	EPhentsize = 54
	EPhnum     = 56
	EShentsize = 58
	EShnum     = 60
	EShstrndx  = 62
)

var le = binary.LittleEndian

// Clone returns a deep copy of o, to patch without touching o.
func (o *Object) Clone() *Object {
	c := *o
	c.Data = append([]byte(nil), o.Data...)
	return &c
}

// Put16, Put32 and Put64 write a little-endian value at file offset off.
func (o *Object) Put16(off int64, v uint16) { le.PutUint16(o.Data[off:], v) }

// Put32 writes a 32-bit value at off.
func (o *Object) Put32(off int64, v uint32) { le.PutUint32(o.Data[off:], v) }

// Put64 writes a 64-bit value at off.
func (o *Object) Put64(off int64, v uint64) { le.PutUint64(o.Data[off:], v) }

// U16 reads a 16-bit value at off.
func (o *Object) U16(off int64) uint16 { return le.Uint16(o.Data[off:]) }

// U32 reads a 32-bit value at off.
func (o *Object) U32(off int64) uint32 { return le.Uint32(o.Data[off:]) }

// U64 reads a 64-bit value at off.
func (o *Object) U64(off int64) uint64 { return le.Uint64(o.Data[off:]) }

// Phdr returns the index of the n-th (from 0) program header of type t,
// or -1.
func (o *Object) Phdr(t elf.ProgType, n int) int {
	for i, pt := range o.phTypes {
		if pt == t {
			if n == 0 {
				return i
			}
			n--
		}
	}
	return -1
}

// PhdrOff returns the file offset of field (PType, PVaddr, ...) of program
// header i.
func (o *Object) PhdrOff(i, field int) int64 {
	return o.Tables["phdrs"].Off + int64(i)*56 + int64(field)
}

// SetPhdr sets field (PType and PFlags are 32-bit, the others 64-bit) of
// program header i.
func (o *Object) SetPhdr(i, field int, v uint64) {
	if field == PType || field == PFlags {
		o.Put32(o.PhdrOff(i, field), uint32(v))
		return
	}
	o.Put64(o.PhdrOff(i, field), v)
}

// PhdrVal returns field of program header i.
func (o *Object) PhdrVal(i, field int) uint64 {
	if field == PType || field == PFlags {
		return uint64(o.U32(o.PhdrOff(i, field)))
	}
	return o.U64(o.PhdrOff(i, field))
}

// Dyn returns the index of the first dynamic entry with tag, or -1.
func (o *Object) Dyn(tag elf.DynTag) int {
	for i, t := range o.dynTags {
		if t == tag {
			return i
		}
	}
	return -1
}

// DynOff returns the file offset of dynamic entry i (its d_tag; d_val is 8
// bytes further).
func (o *Object) DynOff(i int) int64 { return o.Tables["dynamic"].Off + int64(i)*16 }

// SetDyn sets the value of the first entry with tag. It panics when the
// object has no such entry: the test asked for something Build did not
// make.
func (o *Object) SetDyn(tag elf.DynTag, v uint64) {
	i := o.Dyn(tag)
	if i < 0 {
		panic(fmt.Sprintf("elfbuild: no %v entry", tag))
	}
	o.Put64(o.DynOff(i)+8, v)
}

// DynVal returns the value of the first entry with tag.
func (o *Object) DynVal(tag elf.DynTag) uint64 {
	i := o.Dyn(tag)
	if i < 0 {
		panic(fmt.Sprintf("elfbuild: no %v entry", tag))
	}
	return o.U64(o.DynOff(i) + 8)
}

// SetDynTag replaces the tag of the first entry with tag old by new.
func (o *Object) SetDynTag(old, new elf.DynTag) {
	i := o.Dyn(old)
	if i < 0 {
		panic(fmt.Sprintf("elfbuild: no %v entry", old))
	}
	o.Put64(o.DynOff(i), uint64(new))
	o.dynTags = append([]elf.DynTag(nil), o.dynTags...)
	o.dynTags[i] = new
}

// SymOff returns the file offset of dynamic symbol i (its st_name).
func (o *Object) SymOff(i int) int64 { return o.Tables["dynsym"].Off + int64(i)*24 }

// SymIndex returns the index of the dynamic symbol named name, or -1.
func (o *Object) SymIndex(name string) int {
	for i, s := range o.Syms {
		if s == name && i > 0 {
			return i
		}
	}
	return -1
}

// WriteFile writes the object to path.
func (o *Object) WriteFile(path string) error { return os.WriteFile(path, o.Data, 0o644) }

// GNUHash and SysVHash are the two ELF symbol hash functions (kept here,
// apart from elfimage's, so that the builder checks the parser rather than
// sharing its bugs).
func GNUHash(s string) uint32 {
	h := uint32(5381)
	for _, c := range []byte(s) {
		h = h*33 + uint32(c)
	}
	return h
}

// SysVHash is the System V ABI's elf_hash.
func SysVHash(s string) uint32 {
	var h uint32
	for _, c := range []byte(s) {
		h = h<<4 + uint32(c)
		if g := h & 0xf0000000; g != 0 {
			h ^= g >> 24
		}
		h &= 0x0fffffff
	}
	return h
}

// strtab builds a string table, deduplicating.
type strtab struct {
	b   []byte
	off map[string]uint32
}

func newStrtab() *strtab { return &strtab{b: []byte{0}, off: map[string]uint32{"": 0}} }

func (t *strtab) add(s string) uint32 {
	if o, ok := t.off[s]; ok {
		return o
	}
	o := uint32(len(t.b))
	t.b = append(append(t.b, s...), 0)
	t.off[s] = o
	return o
}

// symEnt is a symbol in table order.
type symEnt struct {
	Sym
	name  uint32
	value uint64
	size  uint64
	shndx uint16
	ver   uint16 // versym
}

// Build makes the object s describes.
func Build(s Spec) (*Object, error) {
	ps := s.PageSize
	if ps == 0 {
		ps = uint64(os.Getpagesize())
	}
	if s.Relr > 64 {
		return nil, fmt.Errorf("elfbuild: Relr %d exceeds 64", s.Relr)
	}
	str := newStrtab()
	soname := s.Soname
	var needed []uint32
	for _, n := range s.Needed {
		needed = append(needed, str.add(n))
	}
	defaultFrom := "libc.so.6"
	if len(s.Needed) > 0 {
		defaultFrom = s.Needed[0]
	}

	// Symbols: null, imports, then definitions grouped by GNU bucket.
	var undef, def []symEnt
	for _, sy := range s.Syms {
		if sy.Local {
			sy.Bind = elf.STB_LOCAL
		} else if sy.Bind == elf.STB_LOCAL {
			sy.Bind = elf.STB_GLOBAL
		}
		if sy.Type == elf.STT_NOTYPE && !sy.Undef {
			sy.Type = elf.STT_FUNC
		}
		if sy.Undef && sy.Version != "" && sy.From == "" {
			sy.From = defaultFrom
		}
		e := symEnt{Sym: sy, name: str.add(sy.Name)}
		if sy.Undef {
			undef = append(undef, e)
		} else {
			def = append(def, e)
		}
	}
	nbuckets := uint32(len(def)/4 + 1)
	sort.SliceStable(def, func(i, j int) bool {
		return GNUHash(def[i].Name)%nbuckets < GNUHash(def[j].Name)%nbuckets
	})
	syms := append(append([]symEnt{{}}, undef...), def...)
	symoff := uint32(1 + len(undef))

	// Versions: definitions get indexes from 2, then needs per file.
	type need struct {
		file  string
		names []string
		ndx   []uint16
	}
	verNdx := map[string]uint16{} // "V" for a definition, "file\x00V" for a need
	var defVers []string
	var needs []*need
	next := uint16(2)
	anyVer := false
	for _, e := range syms[1:] {
		if e.Version == "" {
			continue
		}
		anyVer = true
		if !e.Undef {
			if _, ok := verNdx[e.Version]; !ok {
				verNdx[e.Version] = next
				defVers = append(defVers, e.Version)
				next++
			}
		}
	}
	for _, e := range syms[1:] {
		if e.Version == "" || !e.Undef {
			continue
		}
		key := e.From + "\x00" + e.Version
		if _, ok := verNdx[key]; ok {
			continue
		}
		var n *need
		for _, x := range needs {
			if x.file == e.From {
				n = x
			}
		}
		if n == nil {
			n = &need{file: e.From}
			needs = append(needs, n)
		}
		verNdx[key] = next
		n.names = append(n.names, e.Version)
		n.ndx = append(n.ndx, next)
		next++
	}
	for i := range syms[1:] {
		e := &syms[i+1]
		switch {
		case e.Version == "":
			e.ver = 1
		case e.Undef:
			e.ver = verNdx[e.From+"\x00"+e.Version]
		default:
			e.ver = verNdx[e.Version]
			if e.Hidden {
				e.ver |= 0x8000
			}
		}
	}
	if len(defVers) > 0 && soname == "" {
		soname = "elfbuild.so"
	}
	var sonameOff, runpathOff, rpathOff uint32
	if soname != "" {
		sonameOff = str.add(soname)
	}
	if s.Runpath != "" {
		runpathOff = str.add(s.Runpath)
	}
	if s.Rpath != "" {
		rpathOff = str.add(s.Rpath)
	}
	for _, n := range needs {
		str.add(n.file)
		for _, v := range n.names {
			str.add(v)
		}
	}
	for _, v := range defVers {
		str.add(v)
	}
	// Program headers.
	var ph []elf.ProgType
	if s.Interp != "" {
		ph = append(ph, elf.PT_INTERP)
	}
	ph = append(ph, elf.PT_LOAD, elf.PT_LOAD, elf.PT_LOAD, elf.PT_DYNAMIC)
	if s.TLS {
		ph = append(ph, elf.PT_TLS)
	}
	if s.RELRO {
		ph = append(ph, elf.PT_GNU_RELRO)
	}
	ph = append(ph, elf.PT_GNU_STACK)

	// Dynamic tags, in the order they are written.
	var tags []elf.DynTag
	for range needed {
		tags = append(tags, elf.DT_NEEDED)
	}
	if soname != "" {
		tags = append(tags, elf.DT_SONAME)
	}
	if s.Runpath != "" {
		tags = append(tags, elf.DT_RUNPATH)
	}
	if s.Rpath != "" {
		tags = append(tags, elf.DT_RPATH)
	}
	if s.SysVHash {
		tags = append(tags, elf.DT_HASH)
	}
	if !s.NoGNUHash {
		tags = append(tags, elf.DT_GNU_HASH)
	}
	tags = append(tags, elf.DT_STRTAB, elf.DT_SYMTAB, elf.DT_STRSZ, elf.DT_SYMENT)
	if s.Init {
		tags = append(tags, elf.DT_INIT)
	}
	if s.Fini {
		tags = append(tags, elf.DT_FINI)
	}
	if s.InitArray > 0 {
		tags = append(tags, elf.DT_INIT_ARRAY, elf.DT_INIT_ARRAYSZ)
	}
	if s.FiniArray > 0 {
		tags = append(tags, elf.DT_FINI_ARRAY, elf.DT_FINI_ARRAYSZ)
	}
	if len(s.Rela) > 0 {
		tags = append(tags, elf.DT_RELA, elf.DT_RELASZ, elf.DT_RELAENT)
	}
	if len(s.JmpRel) > 0 {
		tags = append(tags, elf.DT_JMPREL, elf.DT_PLTRELSZ, elf.DT_PLTREL)
	}
	if s.Relr > 0 {
		tags = append(tags, 36, 35, 37) // DT_RELR, DT_RELRSZ, DT_RELRENT
	}
	if anyVer {
		tags = append(tags, elf.DT_VERSYM)
	}
	if len(defVers) > 0 {
		tags = append(tags, elf.DT_VERDEF, elf.DT_VERDEFNUM)
	}
	if len(needs) > 0 {
		tags = append(tags, elf.DT_VERNEED, elf.DT_VERNEEDNUM)
	}
	if s.TextRel {
		tags = append(tags, elf.DT_TEXTREL)
	}
	if s.Flags != 0 {
		tags = append(tags, elf.DT_FLAGS)
	}
	if s.Flags1 != 0 {
		tags = append(tags, elf.DT_FLAGS_1)
	}
	tags = append(tags, elf.DT_NULL)

	// Segment 0: headers and read-only tables.
	o := &Object{Tables: map[string]Table{}, phTypes: ph, dynTags: tags}
	var off uint64
	place := func(name string, size, align uint64) uint64 {
		off = (off + align - 1) &^ (align - 1)
		at := off
		o.Tables[name] = Table{Off: int64(at), Vaddr: at, Size: size} // vaddr fixed below for later segments
		off += size
		return at
	}
	place("ehdr", 64, 8)
	place("phdrs", uint64(len(ph))*56, 8)
	if s.Interp != "" {
		place("interp", uint64(len(s.Interp))+1, 1)
	}
	nsyms := uint64(len(syms))
	if s.SysVHash {
		nb := uint64(len(syms)/2 + 1)
		place("hash", 8+4*(nb+nsyms), 8)
	}
	const nbloom = 2
	if !s.NoGNUHash {
		place("gnu.hash", 16+8*nbloom+4*uint64(nbuckets)+4*uint64(len(def)), 8)
	}
	place("dynsym", 24*nsyms, 8)
	place("dynstr", uint64(len(str.b)), 1) // every string was added above
	if anyVer {
		place("versym", 2*nsyms, 2)
	}
	if len(defVers) > 0 {
		place("verdef", uint64(1+len(defVers))*28, 4)
	}
	if len(needs) > 0 {
		var n uint64
		for _, x := range needs {
			n += 16 + 16*uint64(len(x.names))
		}
		place("verneed", n, 4)
	}
	if len(s.Rela) > 0 {
		place("rela", 24*uint64(len(s.Rela)), 8)
	}
	if len(s.JmpRel) > 0 {
		place("jmprel", 24*uint64(len(s.JmpRel)), 8)
	}
	if s.Relr > 0 {
		n := uint64(1)
		if s.Relr > 1 {
			n = 2
		}
		place("relr", 8*n, 8)
	}
	seg0End := off

	// Segment 1: code.
	nfunc := 0
	for _, e := range def {
		if e.Type != elf.STT_OBJECT {
			nfunc++
		}
	}
	if s.Init {
		nfunc++
	}
	if s.Fini {
		nfunc++
	}
	if nfunc == 0 {
		nfunc = 1
	}
	seg1Off := (off + 15) &^ 15
	off = seg1Off
	place("text", 16*uint64(nfunc), 16)
	seg1End := off
	seg1Vaddr := pageCeil(seg0End, ps) + seg1Off%ps
	shift1 := seg1Vaddr - seg1Off

	// Segment 2: data.
	seg2Off := (off + 15) &^ 15
	off = seg2Off
	place("dynamic", 16*uint64(len(tags)), 8)
	if s.InitArray > 0 {
		place("init_array", 8*uint64(s.InitArray), 8)
	}
	if s.FiniArray > 0 {
		place("fini_array", 8*uint64(s.FiniArray), 8)
	}
	relroEnd := off
	if s.TLS {
		place("tdata", 16, 16)
	}
	nobj := 0
	for _, e := range def {
		if e.Type == elf.STT_OBJECT {
			nobj++
		}
	}
	place("data", 8*uint64(nobj+len(s.Rela)+len(s.JmpRel)+s.Relr)+8, 8)
	seg2End := off
	seg1VEnd := seg1Vaddr + (seg1End - seg1Off)
	seg2Vaddr := pageCeil(seg1VEnd, ps) + seg2Off%ps
	shift2 := seg2Vaddr - seg2Off
	for name, t := range o.Tables {
		switch {
		case uint64(t.Off) >= seg2Off:
			t.Vaddr += shift2
		case uint64(t.Off) >= seg1Off:
			t.Vaddr += shift1
		}
		o.Tables[name] = t
	}
	o.Data = make([]byte, seg2End)
	tab := func(name string) Table { return o.Tables[name] }

	// Symbol values.
	text, data := tab("text").Vaddr, tab("data").Vaddr
	var initAddr, finiAddr uint64
	for i := range syms[1:] {
		e := &syms[i+1]
		if e.Undef {
			continue
		}
		if e.Type == elf.STT_OBJECT {
			e.value, e.size, e.shndx = data, 8, 3
			data += 8
		} else {
			e.value, e.size, e.shndx = text, 1, 2
			text += 16
		}
	}
	if s.Init {
		initAddr = text
		text += 16
	}
	if s.Fini {
		finiAddr = text
	}
	relocSlot := data

	// ELF header.
	b := o.Data
	copy(b, elf.ELFMAG)
	b[elf.EI_CLASS], b[elf.EI_DATA], b[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	le.PutUint16(b[EType:], uint16(elf.ET_DYN))
	le.PutUint16(b[EMachine:], uint16(Machine))
	le.PutUint32(b[EVersion:], uint32(elf.EV_CURRENT))
	le.PutUint64(b[EPhoff:], uint64(tab("phdrs").Off))
	le.PutUint16(b[52:], 64) // e_ehsize
	le.PutUint16(b[EPhentsize:], 56)
	le.PutUint16(b[EPhnum:], uint16(len(ph)))
	le.PutUint16(b[EShentsize:], 64)

	// Program headers.
	loads := []struct {
		off, vaddr, filesz, memsz uint64
		flags                     elf.ProgFlag
	}{
		{0, 0, seg0End, seg0End, elf.PF_R},
		{seg1Off, seg1Vaddr, seg1End - seg1Off, seg1End - seg1Off, elf.PF_R | elf.PF_X},
		{seg2Off, seg2Vaddr, seg2End - seg2Off, seg2End - seg2Off + s.BSS, elf.PF_R | elf.PF_W},
	}
	nload := 0
	for i, t := range ph {
		var off, vaddr, filesz, memsz, align uint64
		var flags elf.ProgFlag
		switch t {
		case elf.PT_INTERP:
			x := tab("interp")
			off, vaddr, filesz, memsz, align, flags = uint64(x.Off), x.Vaddr, x.Size, x.Size, 1, elf.PF_R
		case elf.PT_LOAD:
			l := loads[nload]
			nload++
			off, vaddr, filesz, memsz, align, flags = l.off, l.vaddr, l.filesz, l.memsz, ps, l.flags
		case elf.PT_DYNAMIC:
			x := tab("dynamic")
			off, vaddr, filesz, memsz, align, flags = uint64(x.Off), x.Vaddr, x.Size, x.Size, 8, elf.PF_R|elf.PF_W
		case elf.PT_TLS:
			x := tab("tdata")
			off, vaddr, filesz, memsz, align, flags = uint64(x.Off), x.Vaddr, 16, 32, 16, elf.PF_R
		case elf.PT_GNU_RELRO:
			off, vaddr, filesz, memsz, align, flags = seg2Off, seg2Vaddr, relroEnd-seg2Off, relroEnd-seg2Off, 1, elf.PF_R
		case elf.PT_GNU_STACK:
			align, flags = 16, elf.PF_R|elf.PF_W
		}
		p := b[tab("phdrs").Off+int64(i)*56:]
		le.PutUint32(p[PType:], uint32(t))
		le.PutUint32(p[PFlags:], uint32(flags))
		le.PutUint64(p[POffset:], off)
		le.PutUint64(p[PVaddr:], vaddr)
		le.PutUint64(p[PPaddr:], vaddr)
		le.PutUint64(p[PFilesz:], filesz)
		le.PutUint64(p[PMemsz:], memsz)
		le.PutUint64(p[PAlign:], align)
	}
	if s.Interp != "" {
		copy(b[tab("interp").Off:], s.Interp)
	}

	// Hash tables.
	if s.SysVHash {
		x := tab("hash")
		nb := uint32(len(syms)/2 + 1)
		h := b[x.Off:]
		le.PutUint32(h, nb)
		le.PutUint32(h[4:], uint32(nsyms))
		bucket := h[8:]
		chain := h[8+4*nb:]
		for i := 1; i < len(syms); i++ {
			k := SysVHash(syms[i].Name) % nb
			le.PutUint32(chain[4*i:], le.Uint32(bucket[4*k:]))
			le.PutUint32(bucket[4*k:], uint32(i))
		}
	}
	if !s.NoGNUHash {
		x := tab("gnu.hash")
		h := b[x.Off:]
		const shift = 6
		le.PutUint32(h, nbuckets)
		le.PutUint32(h[4:], symoff)
		le.PutUint32(h[8:], nbloom)
		le.PutUint32(h[12:], shift)
		bloom := h[16:]
		buckets := h[16+8*nbloom:]
		chain := buckets[4*nbuckets:]
		for i := int(symoff); i < len(syms); i++ {
			hv := GNUHash(syms[i].Name)
			w := (hv / 64) % nbloom
			word := le.Uint64(bloom[8*w:]) | 1<<(hv%64) | 1<<((hv>>shift)%64)
			le.PutUint64(bloom[8*w:], word)
			k := hv % nbuckets
			if le.Uint32(buckets[4*k:]) == 0 {
				le.PutUint32(buckets[4*k:], uint32(i))
			}
			last := i+1 == len(syms) || GNUHash(syms[i+1].Name)%nbuckets != k
			c := hv &^ 1
			if last {
				c |= 1
			}
			le.PutUint32(chain[4*(i-int(symoff)):], c)
		}
	}

	// Symbols and strings.
	for i, e := range syms {
		p := b[tab("dynsym").Off+int64(i)*24:]
		if i == 0 {
			continue
		}
		le.PutUint32(p, e.name)
		p[4] = byte(e.Bind)<<4 | byte(e.Type)&0xf
		le.PutUint16(p[6:], e.shndx)
		le.PutUint64(p[8:], e.value)
		le.PutUint64(p[16:], e.size)
	}
	copy(b[tab("dynstr").Off:], str.b)
	for _, e := range syms {
		o.Syms = append(o.Syms, e.Name)
		o.Values = append(o.Values, e.value)
	}
	if anyVer {
		v := b[tab("versym").Off:]
		for i, e := range syms {
			le.PutUint16(v[2*i:], e.ver)
		}
	}
	if len(defVers) > 0 {
		v := b[tab("verdef").Off:]
		names := append([]string{soname}, defVers...)
		for i, n := range names {
			e := v[28*i:]
			flags, ndx := uint16(0), uint16(i+1)
			if i == 0 {
				flags = uint16(elf.VER_FLG_BASE)
			}
			le.PutUint16(e, 1)
			le.PutUint16(e[2:], flags)
			le.PutUint16(e[4:], ndx)
			le.PutUint16(e[6:], 1)
			le.PutUint32(e[8:], SysVHash(n))
			le.PutUint32(e[12:], 20)
			if i+1 < len(names) {
				le.PutUint32(e[16:], 28)
			}
			le.PutUint32(e[20:], str.add(n))
		}
	}
	if len(needs) > 0 {
		v := b[tab("verneed").Off:]
		for i, n := range needs {
			le.PutUint16(v, 1)
			le.PutUint16(v[2:], uint16(len(n.names)))
			le.PutUint32(v[4:], str.add(n.file))
			le.PutUint32(v[8:], 16)
			size := 16 + 16*len(n.names)
			if i+1 < len(needs) {
				le.PutUint32(v[12:], uint32(size))
			}
			for j, name := range n.names {
				a := v[16+16*j:]
				le.PutUint32(a, SysVHash(name))
				le.PutUint16(a[6:], n.ndx[j])
				le.PutUint32(a[8:], str.add(name))
				if j+1 < len(n.names) {
					le.PutUint32(a[12:], 16)
				}
			}
			v = v[size:]
		}
	}

	// Relocations.
	symIndex := func(name string) (uint64, error) {
		if name == "" {
			return 0, nil
		}
		for i := 1; i < len(syms); i++ {
			if syms[i].Name == name {
				return uint64(i), nil
			}
		}
		return 0, fmt.Errorf("elfbuild: relocation against unknown symbol %q", name)
	}
	for _, rt := range []struct {
		name string
		rs   []Reloc
	}{{"rela", s.Rela}, {"jmprel", s.JmpRel}} {
		for i, r := range rt.rs {
			si, err := symIndex(r.Sym)
			if err != nil {
				return nil, err
			}
			p := b[tab(rt.name).Off+int64(i)*24:]
			le.PutUint64(p, relocSlot)
			le.PutUint64(p[8:], si<<32|uint64(r.Type))
			le.PutUint64(p[16:], uint64(r.Addend))
			relocSlot += 8
		}
	}
	if s.Relr > 0 {
		p := b[tab("relr").Off:]
		le.PutUint64(p, relocSlot)
		if s.Relr > 1 {
			bits := uint64(1)<<(s.Relr-1) - 1
			le.PutUint64(p[8:], bits<<1|1)
		}
	}

	// Constructors.
	if s.InitArray > 0 {
		for i := 0; i < s.InitArray; i++ {
			le.PutUint64(b[tab("init_array").Off+8*int64(i):], tab("text").Vaddr)
		}
	}
	if s.FiniArray > 0 {
		for i := 0; i < s.FiniArray; i++ {
			le.PutUint64(b[tab("fini_array").Off+8*int64(i):], tab("text").Vaddr)
		}
	}
	x := tab("text")
	for i := int64(0); i < int64(x.Size); i++ {
		c := byte(0xcc) // int3
		if i%16 == 0 {
			c = 0xc3 // ret
		}
		b[x.Off+i] = c
	}

	// Dynamic segment.
	vals := map[elf.DynTag]uint64{
		elf.DT_SONAME: uint64(sonameOff), elf.DT_RUNPATH: uint64(runpathOff), elf.DT_RPATH: uint64(rpathOff),
		elf.DT_HASH: tab("hash").Vaddr, elf.DT_GNU_HASH: tab("gnu.hash").Vaddr,
		elf.DT_STRTAB: tab("dynstr").Vaddr, elf.DT_SYMTAB: tab("dynsym").Vaddr,
		elf.DT_STRSZ: tab("dynstr").Size, elf.DT_SYMENT: 24,
		elf.DT_INIT: initAddr, elf.DT_FINI: finiAddr,
		elf.DT_INIT_ARRAY: tab("init_array").Vaddr, elf.DT_INIT_ARRAYSZ: tab("init_array").Size,
		elf.DT_FINI_ARRAY: tab("fini_array").Vaddr, elf.DT_FINI_ARRAYSZ: tab("fini_array").Size,
		elf.DT_RELA: tab("rela").Vaddr, elf.DT_RELASZ: tab("rela").Size, elf.DT_RELAENT: 24,
		elf.DT_JMPREL: tab("jmprel").Vaddr, elf.DT_PLTRELSZ: tab("jmprel").Size, elf.DT_PLTREL: uint64(elf.DT_RELA),
		36: tab("relr").Vaddr, 35: tab("relr").Size, 37: 8,
		elf.DT_VERSYM: tab("versym").Vaddr, elf.DT_VERDEF: tab("verdef").Vaddr,
		elf.DT_VERDEFNUM: uint64(1 + len(defVers)), elf.DT_VERNEED: tab("verneed").Vaddr,
		elf.DT_VERNEEDNUM: uint64(len(needs)), elf.DT_FLAGS: uint64(s.Flags), elf.DT_FLAGS_1: uint64(s.Flags1),
	}
	nNeeded := 0
	for i, t := range tags {
		p := b[o.DynOff(i):]
		v := vals[t]
		if t == elf.DT_NEEDED {
			v = uint64(needed[nNeeded])
			nNeeded++
		}
		le.PutUint64(p, uint64(t))
		le.PutUint64(p[8:], v)
	}
	return o, nil
}

func pageCeil(v, ps uint64) uint64 { return (v + ps - 1) &^ (ps - 1) }
