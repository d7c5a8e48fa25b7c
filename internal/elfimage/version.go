package elfimage

import (
	"debug/elf"
	"errors"
	"strconv"
)

// Symbol versioning (the GNU extension documented in the LSB, "Symbol
// Versioning"): DT_VERSYM holds one 16-bit index per dynamic symbol (bit 15
// marks a hidden, non-default definition); DT_VERDEF lists the versions the
// object defines and DT_VERNEED those it needs from each library. Index 0
// is "local", 1 "global" (unversioned); both indexes share one space.

// The reserved version indexes.
const (
	verNdxLocal  = 0
	verNdxGlobal = 1
)

// Sizes of the version structures.
const (
	verdefSize  = 20 // Elf64_Verdef
	verdauxSize = 8  // Elf64_Verdaux
	verneedSize = 16 // Elf64_Verneed
	vernauxSize = 16 // Elf64_Vernaux
	// maxVersions bounds the number of version entries: an index has 15 bits.
	maxVersions = 0x7fff
)

// verEntry is one version index as defined by DT_VERDEF or DT_VERNEED.
type verEntry struct {
	ndx  uint16
	name string
	file string // DT_VERNEED's vn_file; "" for a definition
	// off is the file offset of the field that defined ndx; def, i and
	// j name it in errors (verdef[i].vd_ndx or verneed[i].aux[j].vna_other),
	// built only for one.
	off  int64
	def  bool
	i, j uint16 // below maxVersions
}

// field names the field that defined e's index.
func (e *verEntry) field() string {
	if e.def {
		return verdefName(0, int(e.i)) + ".vd_ndx"
	}
	return vernauxName(int(e.i), int(e.j)) + ".vna_other"
}

// verdefName, verneedName and vernauxName name entries of the version
// lists in errors ("verdef[2]", "verneed[0]", "verneed[0].aux[1]"), as
// verChain.prefix: outer is the index of the list's owner, for an aux
// entry.
func verdefName(_, i int) string  { return "verdef[" + strconv.Itoa(i) + "]" }
func verneedName(_, i int) string { return "verneed[" + strconv.Itoa(i) + "]" }
func vernauxName(outer, j int) string {
	return verneedName(0, outer) + ".aux[" + strconv.Itoa(j) + "]"
}

// dynVersions reads the version tables and gives every symbol its version.
func (p *parser) dynVersions(ds *dynState, d *Dynamic) error {
	ents := p.blk.vers[:0] // grows on the heap past blockVersions
	var err error
	if ds.has(tVerdef) {
		if ents, err = p.verdefs(ds, ents); err != nil {
			return err
		}
	} else if ds.has(tVerdefnum) && ds.val(tVerdefnum) != 0 {
		return ds.errSlot(tVerdefnum, "is non-zero, but DT_VERDEF is missing")
	}
	if ds.has(tVerneed) {
		if ents, err = p.verneeds(ds, ents); err != nil {
			return err
		}
	} else if ds.has(tVerneednum) && ds.val(tVerneednum) != 0 {
		return ds.errSlot(tVerneednum, "is non-zero, but DT_VERNEED is missing")
	}
	if !ds.has(tVersym) {
		return nil
	}
	var top uint16
	for _, e := range ents {
		top = max(top, e.ndx)
	}
	var tab []*verEntry
	if int(top) < len(p.blk.verTab) {
		tab = p.blk.verTab[:top+1]
	} else {
		tab = make([]*verEntry, int(top)+1)
	}
	for i := range ents {
		e := &ents[i]
		if prev := tab[e.ndx]; prev != nil {
			return malformed(e.off, e.field(), uint64(e.ndx), "version index %d is already defined by %s", e.ndx, prev.field())
		}
		tab[e.ndx] = e
	}

	size := ds.nsyms * 2
	off, err := p.table(ds, tVersym, -1, size)
	if err != nil {
		return err
	}
	d.VersymTab = Table{Vaddr: ds.val(tVersym), Off: off, Size: size}
	d.versions = tab
	if p.inPlace {
		d.HasVersioning = true
		return nil
	}
	raw, err := p.readAt("DT_VERSYM", off, size)
	if err != nil {
		return err
	}
	d.HasVersioning = true
	for i := range d.Symbols {
		s := &d.Symbols[i]
		vs := le.Uint16(raw[2*i:])
		switch ndx := vs & 0x7fff; ndx {
		case verNdxLocal:
			s.Local = true
		case verNdxGlobal:
		default:
			if int(ndx) >= len(tab) || tab[ndx] == nil {
				return malformed(int64(off)+2*int64(i), "versym["+strconv.Itoa(i)+"]", uint64(vs),
					"version index %d is defined by neither DT_VERDEF nor DT_VERNEED", ndx)
			}
			s.Version, s.VersionFile = tab[ndx].name, tab[ndx].file
		}
		s.Hidden = vs&0x8000 != 0 && s.Shndx != elf.SHN_UNDEF
	}
	return nil
}

// verChain is one linked list of the version tables: n entries of size
// bytes, the first at vaddr, each holding in its 32-bit field at nextAt the
// distance from itself to the next. prefix(outer, i) names entry i in
// errors ("verdef[2]", "verneed[0].aux[1]"), nextName its next field
// ("vd_next"), countName what set n ("DT_VERDEFNUM"). Names are built only
// for an error: a parse walks these lists in every process that loads a
// library.
type verChain struct {
	vaddr     uint64
	n         int
	size      uint64
	nextAt    int
	outer     int
	prefix    func(outer, i int) string
	nextName  string
	countName string
}

// errFirstOutside is what walkVerChain returns when a list's first entry
// is not inside the file bytes of a PT_LOAD: the caller names the field
// that points to it.
var errFirstOutside = errors.New("first entry outside the file")

// walkVerChain is the one walker of the version lists: it calls visit with
// each of the chain's n entries (n is bounded by the caller): its index,
// address, bytes and file offset, every one read inside the file bytes of
// a PT_LOAD; it refuses a next of 0 before the n-th entry and a next that
// overflows the address, and returns errFirstOutside for a first entry
// outside the file.
func (p *parser) walkVerChain(c verChain, visit func(i int, vaddr uint64, b []byte, off int64) error) error {
	vaddr := c.vaddr
	var prevOff int64
	var prevNext uint32
	for i := 0; i < c.n; i++ {
		b, off, ok, err := p.at(vaddr, c.size)
		if err != nil {
			return err
		}
		if !ok {
			if i == 0 {
				return errFirstOutside
			}
			return malformed(prevOff+int64(c.nextAt), c.prefix(c.outer, i-1)+"."+c.nextName, uint64(prevNext),
				"entry %d at %#x is not inside the file bytes of a PT_LOAD", i, vaddr)
		}
		o := int64(off)
		if err := visit(i, vaddr, b, o); err != nil {
			return err
		}
		if i+1 == c.n {
			break
		}
		next := le.Uint32(b[c.nextAt:])
		if next == 0 {
			return malformed(o+int64(c.nextAt), c.prefix(c.outer, i)+"."+c.nextName, 0, "ends the list before %s %d entries", c.countName, c.n)
		}
		if vaddr, ok = add(vaddr, uint64(next)); !ok {
			return malformed(o+int64(c.nextAt), c.prefix(c.outer, i)+"."+c.nextName, uint64(next), "overflows the address")
		}
		prevOff, prevNext = o, next
	}
	return nil
}

// verdefs walks the DT_VERDEFNUM entries of DT_VERDEF and appends the
// version indexes they define (all but the base entry, which names the
// object itself) to ents.
func (p *parser) verdefs(ds *dynState, ents []verEntry) ([]verEntry, error) {
	if !ds.has(tVerdefnum) {
		return nil, malformed(ds.slotOff(tVerdef), "DT_VERDEFNUM", 0, "missing, but DT_VERDEF is present")
	}
	num := ds.val(tVerdefnum)
	if num == 0 || num > maxVersions {
		return nil, ds.errSlot(tVerdefnum, "the number of version definitions is not in [1, %d]", maxVersions)
	}
	chain := verChain{
		vaddr: ds.val(tVerdef), n: int(num), size: verdefSize, nextAt: 16,
		prefix: verdefName, nextName: "vd_next", countName: "DT_VERDEFNUM",
	}
	err := p.walkVerChain(chain, func(i int, vaddr uint64, b []byte, o int64) error {
		name := func(field string) string { return verdefName(0, i) + "." + field }
		if v := le.Uint16(b); v != 1 {
			return malformed(o, name("vd_version"), uint64(v), "is not 1")
		}
		flags, ndx, cnt, aux := le.Uint16(b[2:]), le.Uint16(b[4:]), le.Uint16(b[6:]), le.Uint32(b[12:])
		if ndx == 0 || ndx > maxVersions {
			return malformed(o+4, name("vd_ndx"), uint64(ndx), "is not a version index in [1, %d]", maxVersions)
		}
		if cnt == 0 {
			return malformed(o+6, name("vd_cnt"), 0, "the definition has no name")
		}
		// The first Elf64_Verdaux names the version (the others name
		// its parents, which a loader does not need).
		av, ok := add(vaddr, uint64(aux))
		var a []byte
		var aoff uint64
		if ok {
			var err error
			if a, aoff, ok, err = p.at(av, verdauxSize); err != nil {
				return err
			}
		}
		if !ok {
			return malformed(o+12, name("vd_aux"), uint64(aux), "the name entry is not inside the file bytes of a PT_LOAD")
		}
		vname, err := p.str(ds, func() string { return name("vda_name") }, int64(aoff), uint64(le.Uint32(a)))
		if err != nil {
			return err
		}
		if flags&uint16(elf.VER_FLG_BASE) == 0 && ndx != verNdxGlobal {
			ents = append(ents, verEntry{ndx: ndx, name: vname, off: o + 4, def: true, i: uint16(i)})
		}
		return nil
	})
	if err == errFirstOutside {
		err = ds.errSlot(tVerdef, "is not inside the file bytes of a PT_LOAD")
	}
	return ents, err
}

// verneeds walks the DT_VERNEEDNUM entries of DT_VERNEED, and the vn_cnt
// auxiliary entries of each, and appends the version indexes they name to
// ents. The total number of auxiliary entries is bounded by maxVersions.
func (p *parser) verneeds(ds *dynState, ents []verEntry) ([]verEntry, error) {
	if !ds.has(tVerneednum) {
		return nil, malformed(ds.slotOff(tVerneed), "DT_VERNEEDNUM", 0, "missing, but DT_VERNEED is present")
	}
	num := ds.val(tVerneednum)
	if num == 0 || num > maxVersions {
		return nil, ds.errSlot(tVerneednum, "the number of needed files is not in [1, %d]", maxVersions)
	}
	budget := maxVersions
	chain := verChain{
		vaddr: ds.val(tVerneed), n: int(num), size: verneedSize, nextAt: 12,
		prefix: verneedName, nextName: "vn_next", countName: "DT_VERNEEDNUM",
	}
	err := p.walkVerChain(chain, func(i int, vaddr uint64, b []byte, o int64) error {
		name := func(field string) string { return verneedName(0, i) + "." + field }
		if v := le.Uint16(b); v != 1 {
			return malformed(o, name("vn_version"), uint64(v), "is not 1")
		}
		cnt, fileOff, aux := le.Uint16(b[2:]), le.Uint32(b[4:]), le.Uint32(b[8:])
		file, err := p.str(ds, func() string { return name("vn_file") }, o+4, uint64(fileOff))
		if err != nil {
			return err
		}
		if budget -= int(cnt); budget < 0 {
			return malformed(o+2, name("vn_cnt"), uint64(cnt), "more than %d needed versions in all", maxVersions)
		}
		av, ok := add(vaddr, uint64(aux))
		if !ok {
			return malformed(o+8, name("vn_aux"), uint64(aux), "overflows the address")
		}
		err = p.walkVerChain(verChain{
			vaddr: av, n: int(cnt), size: vernauxSize, nextAt: 12,
			outer: i, prefix: vernauxName, nextName: "vna_next", countName: "vn_cnt",
		}, func(j int, _ uint64, a []byte, ao int64) error {
			other, nameOff := le.Uint16(a[6:]), le.Uint32(a[8:])
			vname, err := p.str(ds, func() string { return vernauxName(i, j) + ".vna_name" }, ao+8, uint64(nameOff))
			if err != nil {
				return err
			}
			if other&0x7fff < 2 {
				return malformed(ao+6, vernauxName(i, j)+".vna_other", uint64(other), "version indexes 0 and 1 are reserved")
			}
			ents = append(ents, verEntry{ndx: other & 0x7fff, name: vname, file: file, off: ao + 6, i: uint16(i), j: uint16(j)})
			return nil
		})
		if err == errFirstOutside {
			err = malformed(o+8, name("vn_aux"), uint64(aux), "the first version entry is not inside the file bytes of a PT_LOAD")
		}
		return err
	})
	if err == errFirstOutside {
		err = ds.errSlot(tVerneed, "is not inside the file bytes of a PT_LOAD")
	}
	return ents, err
}
