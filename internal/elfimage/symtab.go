package elfimage

import (
	"bytes"
	"debug/elf"
	"strconv"
)

// SymTab is the dynamic symbol table of a parsed object read in place: in
// a mapped image of it, with its string table and DT_VERSYM. Nothing is
// copied or decoded up front; each entry is checked when it is read, with
// the errors Parse gives for the same fault, so a loader can link a large
// library without touching the symbols it does not need.
//
// Its bytes are the image's: a SymTab must not be used once the image is
// unmapped.
type SymTab struct {
	d      *Dynamic
	syms   []byte // Elf64_Sym entries
	strs   []byte // the string table
	versym []byte // one 16-bit index per symbol; nil without DT_VERSYM
	hash   hashView
}

// SymbolsIn returns the symbol table of d in mem, an image of the object
// from image address memVaddr on (elfimage.Image.Mem and Plan.MinVaddr).
func (d *Dynamic) SymbolsIn(mem []byte, memVaddr uint64) (SymTab, error) {
	syms, err := tableIn("DT_SYMTAB", d.SymTab, mem, memVaddr)
	if err != nil {
		return SymTab{}, err
	}
	strs, err := tableIn("DT_STRTAB", d.StrTab, mem, memVaddr)
	if err != nil {
		return SymTab{}, err
	}
	versym, err := tableIn("DT_VERSYM", d.VersymTab, mem, memVaddr)
	if err != nil {
		return SymTab{}, err
	}
	hash, err := d.hashViewOf(func(name string, t Table) ([]byte, error) { return tableIn(name, t, mem, memVaddr) })
	if err != nil {
		return SymTab{}, err
	}
	return SymTab{d: d, syms: syms, strs: strs, versym: versym, hash: hash}, nil
}

// tableIn returns the bytes of t (named name) in mem, an image from
// memVaddr on.
func tableIn(name string, t Table, mem []byte, memVaddr uint64) ([]byte, error) {
	b, ok := t.In(mem, memVaddr)
	if !ok {
		return nil, malformed(int64(t.Off), name, t.Vaddr, "table of %#x bytes is not inside the mapped image", t.Size)
	}
	return b, nil
}

// Len returns the number of symbols, the null symbol included.
func (t SymTab) Len() int { return len(t.syms) / symSize }

// FirstHashed returns the index of the first symbol the hash table can
// find: with a GNU hash, its symoffset (the linker puts the undefined
// symbols, the ones a relocation must look up by name, below it), else
// Len(). It is never above Len(); nothing relies on it for correctness,
// so a loader may size its per-import caches by it and handle any import
// above it the slow way.
func (t SymTab) FirstHashed() int {
	if t.hash.gnu {
		return min(int(t.hash.symoff), t.Len())
	}
	return t.Len()
}

// entry returns the bytes of symbol i, which the caller has bounded.
func (t SymTab) entry(i int) []byte { return t.syms[i*symSize : i*symSize+symSize] }

// fileOff returns the file offset of byte at of symbol i, for errors.
func (t SymTab) fileOff(i, at int) int64 { return int64(t.d.SymTab.Off) + int64(i)*symSize + int64(at) }

// nameAt returns the bytes of the NUL-terminated string at offset off of
// the string table, without the NUL.
func (t SymTab) nameAt(off uint32) ([]byte, bool) {
	if uint64(off) >= uint64(len(t.strs)) {
		return nil, false
	}
	rest := t.strs[off:]
	n := bytes.IndexByte(rest, 0)
	if n < 0 {
		return nil, false
	}
	return rest[:n], true
}

// Name returns the name of symbol i (0 <= i < Len), a copy.
func (t SymTab) Name(i int) (string, error) {
	off := le.Uint32(t.entry(i))
	b, ok := t.nameAt(off)
	if !ok {
		return "", strError("dynsym["+strconv.Itoa(i)+"].st_name", t.fileOff(i, 0), uint64(off), uint64(len(t.strs)))
	}
	return string(b), nil
}

// Value returns st_value, st_size and the type of symbol i (0 <= i < Len)
// and whether it is a named definition with a value in the image (not
// SHN_UNDEF, not SHN_ABS, a valid non-empty name) of a type that names
// code or data (not STT_TLS, STT_SECTION or STT_FILE): what a scan for the
// symbol nearest an address needs, without allocating.
func (t SymTab) Value(i int) (value, size uint64, typ elf.SymType, defined bool) {
	b := t.entry(i)
	shndx := elf.SectionIndex(le.Uint16(b[6:]))
	typ = elf.ST_TYPE(b[4])
	name, ok := t.nameAt(le.Uint32(b))
	defined = ok && len(name) > 0 && shndx != elf.SHN_UNDEF && shndx != elf.SHN_ABS &&
		typ != elf.STT_TLS && typ != elf.STT_SECTION && typ != elf.STT_FILE
	return le.Uint64(b[8:]), le.Uint64(b[16:]), typ, defined
}

// Symbol decodes symbol i (0 <= i < Len): its fields, name and version.
func (t SymTab) Symbol(i int) (Symbol, error) {
	name, err := t.Name(i)
	if err != nil {
		return Symbol{}, err
	}
	s, err := t.Def(i)
	s.Name = name
	return s, err
}

// Def is Symbol without the name (Name is ""), for a caller that found
// symbol i by its name: it allocates nothing.
func (t SymTab) Def(i int) (Symbol, error) {
	b := t.entry(i)
	s := Symbol{
		Bind:  elf.ST_BIND(b[4]),
		Type:  elf.ST_TYPE(b[4]),
		Vis:   elf.ST_VISIBILITY(b[5]),
		Shndx: elf.SectionIndex(le.Uint16(b[6:])),
		Value: le.Uint64(b[8:]),
		Size:  le.Uint64(b[16:]),
	}
	if t.versym == nil {
		return s, nil
	}
	vs, ver, err := t.version(i)
	if err != nil {
		return Symbol{}, err
	}
	switch vs & 0x7fff {
	case verNdxLocal:
		s.Local = true
	case verNdxGlobal:
	default:
		s.Version, s.VersionFile = ver.name, ver.file
	}
	s.Hidden = vs&0x8000 != 0 && s.Shndx != elf.SHN_UNDEF
	return s, nil
}

// version returns symbol i's DT_VERSYM entry and, for an index above 1,
// the version it names (nil otherwise). t.versym is not nil.
func (t SymTab) version(i int) (uint16, *verEntry, error) {
	if 2*i+2 > len(t.versym) {
		return 0, nil, malformed(int64(t.d.VersymTab.Off), "DT_VERSYM", uint64(i), "has no entry for symbol %d", i)
	}
	vs := le.Uint16(t.versym[2*i:])
	ndx := vs & 0x7fff
	if ndx <= verNdxGlobal {
		return vs, nil, nil
	}
	if int(ndx) >= len(t.d.versions) || t.d.versions[ndx] == nil {
		return 0, nil, malformed(int64(t.d.VersymTab.Off)+2*int64(i), "versym["+strconv.Itoa(i)+"]", uint64(vs),
			"version index %d is defined by neither DT_VERDEF nor DT_VERNEED", ndx)
	}
	return vs, t.d.versions[ndx], nil
}

// Lookup is Dynamic.Lookup in place.
func (t SymTab) Lookup(name, version string) (index int, ok bool) {
	if t.d == nil {
		return -1, false
	}
	var gnu, sysv uint32
	if t.d.GNUHash != nil {
		gnu = GNUHashOf(name)
	} else {
		sysv = SysVHashOf(name)
	}
	return t.LookupHashed(name, gnu, sysv, version)
}

// LookupHashed is Dynamic.LookupHashed in place: the same hash walk and
// the same matching rules, on the symbols where they are mapped. A
// symbol whose name or version entry is malformed matches nothing. It
// allocates nothing.
func (t SymTab) LookupHashed(name string, gnu, sysv uint32, version string) (index int, ok bool) {
	if t.d == nil {
		return -1, false
	}
	return t.hash.walk(gnu, sysv, t.Len(), func(i int) matchKind { return t.match(i, name, version) })
}

// match is Dynamic.match in place.
func (t SymTab) match(i int, name, version string) matchKind {
	b := t.entry(i)
	n, ok := t.nameAt(le.Uint32(b))
	if !ok || string(n) != name {
		return matchNo
	}
	shndx := elf.SectionIndex(le.Uint16(b[6:]))
	symVersion, hidden := "", false
	if t.versym != nil {
		vs, ver, err := t.version(i)
		if err != nil || vs&0x7fff == verNdxLocal {
			return matchNo
		}
		if ver != nil {
			symVersion = ver.name
		}
		hidden = vs&0x8000 != 0 && shndx != elf.SHN_UNDEF
	}
	return matchDef(shndx, elf.ST_BIND(b[4]), elf.ST_TYPE(b[4]), hidden, symVersion, version)
}

// Dynamic returns the Dynamic the table belongs to.
func (t SymTab) Dynamic() *Dynamic { return t.d }
