package elfimage

import (
	"bytes"
	"debug/elf"
	"strconv"
	"strings"
)

// stbGNUUnique is STB_GNU_UNIQUE (STB_LOOS): a global symbol the dynamic
// linker keeps unique in the process; for lookup it is a global.
const stbGNUUnique = elf.SymBind(10)

// dynSymbols sizes the dynamic symbol table from the hash tables, reads it
// and resolves the names.
func (p *parser) dynSymbols(ds *dynState, d *Dynamic) error {
	if !ds.has(tSymtab) {
		return malformed(-1, "DT_SYMTAB", 0, "missing: the object has no dynamic symbol table")
	}
	if ds.has(tSyment) && ds.val(tSyment) != symSize {
		return ds.errSlot(tSyment, "is not %d, the size of Elf64_Sym", symSize)
	}
	var err error
	var sysvRaw, gnuRaw []byte
	if ds.has(tHash) {
		if d.Hash, sysvRaw, err = p.sysvHash(ds); err != nil {
			return err
		}
		ds.nsyms = uint64(d.Hash.NChain)
	}
	if ds.has(tGNUHash) {
		var n uint64
		if d.GNUHash, n, gnuRaw, err = p.gnuHash(ds, ds.nsyms); err != nil {
			return err
		}
		if d.Hash == nil {
			ds.nsyms = n
		}
	}
	if !p.inPlace {
		// Lookup walks the copy Parse read and checked.
		d.hash, _ = d.hashViewOf(func(name string, _ Table) ([]byte, error) {
			if name == "DT_GNU_HASH" {
				return gnuRaw, nil
			}
			return sysvRaw, nil
		})
	}
	if d.Hash == nil && d.GNUHash != nil && gnuHashEmpty(d.GNUHash) {
		// No symbol is hashed, so the table does not tell where the
		// symbols end: GNU ld writes symoffset 1 even when the object
		// imports symbols (a constructor-only object), and those lie at
		// indexes 1 and up. The table then extends to the next table
		// the dynamic segment names, or to the end of its PT_LOAD's
		// file bytes, which is where every linker leaves .dynsym.
		if n := p.symtabExtent(ds); n > ds.nsyms {
			ds.nsyms = n
		}
	}
	if d.Hash == nil && d.GNUHash == nil {
		return malformed(ds.slotOff(tSymtab), "DT_GNU_HASH", 0,
			"missing, and so is DT_HASH: without a hash table the size of the symbol table is unknown")
	}
	if ds.nsyms == 0 {
		return ds.errSlot(tSymtab, "the hash table implies an empty symbol table (not even the null symbol)")
	}
	size := ds.nsyms * symSize // nsyms <= MaxSymbols: no overflow
	off, err := p.table(ds, tSymtab, -1, size)
	if err != nil {
		return err
	}
	d.SymTab = Table{Vaddr: ds.val(tSymtab), Off: off, Size: size}
	if p.inPlace {
		return nil
	}
	raw, err := p.readAt("DT_SYMTAB", off, size)
	if err != nil {
		return err
	}
	d.Symbols = make([]Symbol, ds.nsyms)
	for i := range d.Symbols {
		b := raw[i*symSize:]
		nameOff := le.Uint32(b)
		name, ok := ds.cstr(uint64(nameOff))
		if !ok {
			return ds.strErr("dynsym["+strconv.Itoa(i)+"].st_name", int64(off)+int64(i)*symSize, uint64(nameOff))
		}
		info, other := b[4], b[5]
		d.Symbols[i] = Symbol{
			Name:  name,
			Bind:  elf.ST_BIND(info),
			Type:  elf.ST_TYPE(info),
			Vis:   elf.ST_VISIBILITY(other),
			Shndx: elf.SectionIndex(le.Uint16(b[6:])),
			Value: le.Uint64(b[8:]),
			Size:  le.Uint64(b[16:]),
		}
	}
	return nil
}

// gnuHashEmpty reports whether no bucket of g starts a chain, for a table
// whose buckets Parse scanned (the object has no DT_HASH): its chain then
// ends at the highest bucket's end marker, so it is empty exactly when no
// bucket is used.
func gnuHashEmpty(g *GNUHash) bool { return g.NChain == 0 }

// symtabSuccessors are the slots of tables that may follow DT_SYMTAB.
var symtabSuccessors = []int{tStrtab, tHash, tGNUHash, tVersym, tVerdef, tVerneed, tRela, tJmprel, tRelr,
	tInitArray, tFiniArray, tPreinitArray}

// symtabExtent returns how many symbols fit between DT_SYMTAB and the
// nearest table above it that the dynamic segment names, or the end of
// the file bytes of DT_SYMTAB's PT_LOAD; at most MaxSymbols.
func (p *parser) symtabExtent(ds *dynState) uint64 {
	start := ds.val(tSymtab)
	i, ok := p.f.SegmentAt(start)
	if !ok {
		return 0 // reading the table reports it
	}
	ld := &p.f.Loads[i]
	end := ld.Vaddr + ld.Filesz // checked by Parse: no overflow
	for _, s := range symtabSuccessors {
		if v := ds.val(s); ds.has(s) && v > start && v < end {
			end = v
		}
	}
	return min((end-start)/symSize, MaxSymbols)
}

// cstr returns the NUL-terminated string at offset off of the string
// table, as a substring of it (no allocation).
func (ds *dynState) cstr(off uint64) (string, bool) {
	if off >= uint64(len(ds.strs)) {
		return "", false
	}
	n := strings.IndexByte(ds.strs[off:], 0)
	if n < 0 {
		return "", false
	}
	return ds.strs[off : off+uint64(n)], true
}

// strErr is the error for a string offset cstr refused.
func (ds *dynState) strErr(field string, fieldOff int64, off uint64) error {
	return strError(field, fieldOff, off, ds.val(tStrsz))
}

// strError is the error for a string at offset off that is not inside a
// string table of strsz bytes or not NUL-terminated in it.
func strError(field string, fieldOff int64, off, strsz uint64) error {
	if off >= strsz {
		return malformed(fieldOff, field, off, "string offset is beyond DT_STRSZ %#x", strsz)
	}
	return malformed(fieldOff, field, off, "string is not NUL-terminated before the end of the string table")
}

// str returns the string at offset off of the string table, named by
// field() (at fieldOff) in errors, which builds the name only for one:
// from the table read whole, or, parsing in place, read alone (a copy).
func (p *parser) str(ds *dynState, field func() string, fieldOff int64, off uint64) (string, error) {
	if !p.inPlace {
		s, ok := ds.cstr(off)
		if !ok {
			return "", ds.strErr(field(), fieldOff, off)
		}
		return s, nil
	}
	strsz := ds.val(tStrsz)
	if off >= strsz {
		return "", ds.strErr(field(), fieldOff, off)
	}
	// Most strings are short: read a little, then the rest of the table.
	for n := min(strsz-off, 256); ; n = strsz - off {
		b, _, ok, err := p.atIn(&p.strWin, ds.val(tStrtab)+off, n) // inside the table, checked
		if err != nil {
			return "", err
		}
		if !ok {
			return "", ds.strErr(field(), fieldOff, off)
		}
		if i := bytes.IndexByte(b, 0); i >= 0 {
			return string(b[:i]), nil
		}
		if n == strsz-off {
			return "", ds.strErr(field(), fieldOff, off)
		}
	}
}

// Lookup returns the index in d.Symbols of the definition of name that an
// import of name at version (or unversioned, when version is "") binds to.
// It hashes name and calls LookupHashed.
func (d *Dynamic) Lookup(name, version string) (index int, ok bool) {
	var gnu, sysv uint32
	if d.GNUHash != nil {
		gnu = GNUHashOf(name)
	} else {
		sysv = SysVHashOf(name)
	}
	return d.LookupHashed(name, gnu, sysv, version)
}

// LookupHashed is Lookup with the name's hashes computed by the caller
// (GNUHashOf and SysVHashOf), so that a loader searching many objects for
// one import hashes its name once. Only the hash of the table d has is
// used: the GNU one when d.GNUHash is set, else the System V one.
//
// The rules are those of the dynamic linker (glibc's check_match): the
// symbol must be defined (not SHN_UNDEF, not versym-local), global, weak or
// GNU-unique, and neither a section nor a file symbol. With version == ""
// only a default definition matches (unversioned or name@@VER, never the
// hidden name@VER). With a version, a definition of exactly that version
// matches, hidden or not; failing that, an unversioned default definition
// does. Lookup allocates nothing.
func (d *Dynamic) LookupHashed(name string, gnu, sysv uint32, version string) (index int, ok bool) {
	return d.hash.walk(gnu, sysv, len(d.Symbols), func(i int) matchKind { return d.match(i, name, version) })
}

// matchKind is what a symbol is to a lookup.
type matchKind uint8

const (
	matchNo       matchKind = iota
	matchYes                // a definition of the name at the version
	matchFallback           // an unversioned default definition: taken when no exact one is found
)

// match tells what symbol i is to a lookup of name at version.
func (d *Dynamic) match(i int, name, version string) matchKind {
	s := &d.Symbols[i]
	if s.Local || s.Name != name {
		return matchNo
	}
	return matchDef(s.Shndx, s.Bind, s.Type, s.Hidden, s.Version, version)
}

// matchDef is match on a symbol whose name matched and that is not
// versym-local: glibc's check_match on the rest of its fields.
func matchDef(shndx elf.SectionIndex, bind elf.SymBind, typ elf.SymType, hidden bool, symVersion, version string) matchKind {
	if shndx == elf.SHN_UNDEF {
		return matchNo
	}
	switch bind {
	case elf.STB_GLOBAL, elf.STB_WEAK, stbGNUUnique:
	default:
		return matchNo
	}
	if typ == elf.STT_SECTION || typ == elf.STT_FILE {
		return matchNo
	}
	switch {
	case version == "" && !hidden, version != "" && symVersion == version:
		return matchYes
	case version != "" && symVersion == "" && !hidden:
		return matchFallback
	}
	return matchNo
}
