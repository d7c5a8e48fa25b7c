package loader

import (
	"encoding/binary"
	"fmt"

	"github.com/runplug/runplug/internal/elfimage"
)

// relocKind is the operation a relocation type asks for, independent of
// the architecture: the per-architecture table (reloc_amd64.go, reloc_arm64.go) maps each
// r_type to one of these, and the one loop below performs them.
type relocKind uint8

const (
	relocUnknown   relocKind = iota // refused, naming the type
	relocNone                       // nothing to do
	relocRelative                   // B + A
	relocAbs                        // S + A
	relocSym                        // S (GOT entry or eagerly bound PLT slot)
	relocIRelative                  // the result of calling the resolver at B + A
	relocDTPMod                     // TLS module id of the symbol's object (of this object for symbol 0)
	relocDTPOff                     // S + A: offset in the module's TLS block
	relocTPOff                      // S + A from the thread pointer (initial-exec), 8 bytes: deferred (tlsLate)
	relocTPOff32                    // the same in 4 bytes, signed: deferred
	relocTLSDesc                    // a TLS descriptor {resolver, argument}, 16 bytes: deferred
	relocTLS                        // another thread-local relocation (link-time only): refused with ErrTLS
)

// span is a half-open range [lo, hi) of virtual addresses of an object.
type span struct{ lo, hi uint64 }

// inSpans reports whether [v, v+n) lies wholly inside one of spans.
func inSpans(spans []span, v, n uint64) bool {
	end := v + n
	if end < v {
		return false
	}
	for _, s := range spans {
		if v >= s.lo && end <= s.hi {
			return true
		}
	}
	return false
}

// symValue is what resolving a relocation's symbol gives.
type symValue struct {
	addr uint64
	// tls reports an STT_TLS symbol: addr is its offset in the TLS block
	// of module mod (the defining object's).
	tls bool
	mod uint64
	// ifunc reports that addr is the resolver of an STT_GNU_IFUNC symbol
	// defined in the object being relocated: the relocation is deferred
	// until every other relocation of the object is done, and then the
	// resolver's result is written.
	ifunc bool
	// own reports a plain definition of the object being relocated,
	// bound by value: reading it again costs less than caching it.
	own bool
}

// relocEnv is everything one relocation pass over one object needs. It
// works on the image's bytes (mem) and never on raw pointers: Go's bounds
// checks back up the explicit checks against the writable segments.
type relocEnv struct {
	name     string
	base     uint64 // load base: address of vaddr 0
	mem      []byte // the image from minVaddr on
	minVaddr uint64
	writable []span // where relocations may write (writable PT_LOADs, RELRO included)
	exec     []span // where an IRELATIVE resolver may be
	nsyms    int
	tlsMod   uint64 // the object's TLS module id (0: no PT_TLS)

	// resolve returns the value of symbol sym (never 0, which is the
	// caller's business, and never out of range).
	resolve func(sym uint32) (symValue, error)
	// callResolver calls an IFUNC resolver at the absolute address addr
	// and returns what it returned.
	callResolver func(addr uint64) (uint64, error)

	// cache holds this pass's resolutions of the symbols below
	// SymTab.FirstHashed (the imports, in a linked file), by index; more
	// those of any other symbol that is not an own plain definition.
	cache    []symSlot
	more     map[uint32]*symSlot
	nCache   int // FirstHashed: the length cache gets
	deferred []deferredReloc
	// tlsLate holds the relocations that need to know where the
	// thread-local storage they name lives (static or dynamic), which is
	// decided once every new object is relocated: see linkTLS.
	tlsLate []tlsReloc
}

// symSlot caches one symbol's resolution during a pass.
type symSlot struct {
	val   uint64
	mod   uint64 // TLS module (state 3)
	state uint8  // 0 unresolved, 1 resolved, 2 an IFUNC resolver of this object not yet called, 3 thread-local
}

// deferredReloc is a relocation that needs a resolver of the object
// itself: applied after all the others.
type deferredReloc struct {
	table string
	index int
	r     elfimage.Rela
	kind  relocKind
}

// relocTables are an object's relocation tables, read where they are
// mapped: each entry is decoded when it is applied, none is copied.
type relocTables struct {
	rela, jmprel elfimage.RelaView
	relr         elfimage.RelrView
}

// tablesIn returns the relocation tables of d in mem, the image from
// image address minVaddr on. Parse checked that each lies in the file
// bytes of a PT_LOAD, so in the image: failing that is a malformed file.
func tablesIn(d *elfimage.Dynamic, mem []byte, minVaddr uint64) (relocTables, error) {
	rela, err := tableIn("DT_RELA", d.RelaTab, mem, minVaddr)
	if err != nil {
		return relocTables{}, err
	}
	jmprel, err := tableIn("DT_JMPREL", d.JmpRelTab, mem, minVaddr)
	if err != nil {
		return relocTables{}, err
	}
	relr, err := tableIn("DT_RELR", d.RelrTab, mem, minVaddr)
	if err != nil {
		return relocTables{}, err
	}
	return relocTables{rela: rela, jmprel: jmprel, relr: relr}, nil
}

// tableIn returns the bytes of table t (named name) in mem.
func tableIn(name string, t elfimage.Table, mem []byte, minVaddr uint64) ([]byte, error) {
	b, ok := t.In(mem, minVaddr)
	if !ok {
		return nil, &elfimage.FormatError{Off: int64(t.Off), Field: name, Value: t.Vaddr,
			Msg: fmt.Sprintf("table of %#x bytes is not inside the mapped image", t.Size), Err: elfimage.ErrMalformed}
	}
	return b, nil
}

// relocate applies every relocation of t: DT_RELR, then DT_RELA, then
// DT_JMPREL (all eagerly), then the deferred IFUNC ones.
func (e *relocEnv) relocate(t relocTables) error {
	if n := min(e.nCache, e.nsyms); n > 0 {
		// Imports only: one slot per symbol was 24 bytes of fresh
		// heap per symbol, 1 MiB for libLLVM, whose page faults cost
		// more than the lookups it saved.
		e.cache = make([]symSlot, n)
	}
	if err := e.relr(t.relr); err != nil {
		return err
	}
	tables := [...]struct {
		name string
		rs   elfimage.RelaView
	}{{"DT_RELA", t.rela}, {"DT_JMPREL", t.jmprel}}
	for _, t := range tables {
		for i, n := 0, t.rs.Len(); i < n; i++ {
			r := t.rs.At(i)
			if err := e.one(t.name, i, &r, false); err != nil {
				return err
			}
		}
	}
	for i := range e.deferred {
		dr := &e.deferred[i]
		if err := e.one(dr.table, dr.index, &dr.r, true); err != nil {
			return err
		}
	}
	return nil
}

// fail returns a *RelocError about r.
func (e *relocEnv) fail(table string, i int, r *elfimage.Rela, err error, format string, args ...any) error {
	return &RelocError{Object: e.name, Table: table, Index: i, Type: r.Type, Off: r.Off, Sym: r.Sym,
		Msg: fmt.Sprintf(format, args...), Err: err}
}

// place returns the index in mem of the 8-byte place at vaddr off, after
// checking that it lies wholly inside writable memory of the image.
func (e *relocEnv) place(off uint64) (int, bool) { return e.placeN(off, 8) }

// placeN is place for an n-byte place.
func (e *relocEnv) placeN(off, n uint64) (int, bool) {
	if !inSpans(e.writable, off, n) || off < e.minVaddr {
		return 0, false
	}
	i := off - e.minVaddr
	if i > uint64(len(e.mem)) || uint64(len(e.mem))-i < n {
		return 0, false
	}
	return int(i), true
}

// one applies one relocation; late is true on the deferred pass.
func (e *relocEnv) one(table string, i int, r *elfimage.Rela, late bool) error {
	kind := archRelocKind(r.Type)
	switch kind {
	case relocNone:
		return nil
	case relocUnknown:
		return e.fail(table, i, r, elfimage.ErrUnsupported, "unsupported relocation type %d", r.Type)
	case relocTLS:
		return e.fail(table, i, r, ErrTLS, "unsupported thread-local relocation (a link-time type)")
	case relocTPOff, relocTPOff32, relocTLSDesc:
		return e.deferTLS(table, i, r, kind)
	}
	if int64(r.Sym) >= int64(e.nsyms) {
		return e.fail(table, i, r, elfimage.ErrMalformed, "symbol index %d is past the symbol table (%d entries)", r.Sym, e.nsyms)
	}
	at, ok := e.place(r.Off)
	if !ok {
		return e.fail(table, i, r, elfimage.ErrMalformed, "place [%#x,%#x) is not inside a writable segment", r.Off, r.Off+8)
	}
	var v uint64
	switch kind {
	case relocRelative:
		v = e.base + uint64(r.Addend)
	case relocIRelative:
		fn := e.base + uint64(r.Addend)
		if !inSpans(e.exec, uint64(r.Addend), 1) {
			return e.fail(table, i, r, elfimage.ErrMalformed, "resolver %#x is not inside an executable segment", uint64(r.Addend))
		}
		if !late {
			e.deferred = append(e.deferred, deferredReloc{table, i, *r, kind})
			return nil
		}
		res, err := e.callResolver(fn)
		if err != nil {
			return e.fail(table, i, r, err, "ifunc resolver at %#x", uint64(r.Addend))
		}
		v = res
	case relocDTPMod, relocDTPOff:
		var sv symValue
		if r.Sym == 0 {
			sv = symValue{tls: true, mod: e.tlsMod}
		} else {
			var err error
			if sv, err = e.symbol(r.Sym); err != nil {
				return err
			}
			if !sv.tls {
				return e.fail(table, i, r, elfimage.ErrMalformed, "symbol is not thread-local")
			}
		}
		if kind == relocDTPOff {
			v = sv.addr + uint64(r.Addend)
			break
		}
		if sv.mod == 0 {
			return e.fail(table, i, r, elfimage.ErrMalformed, "module of an object without a PT_TLS segment")
		}
		v = sv.mod
	case relocAbs, relocSym:
		var s uint64
		if r.Sym != 0 {
			sv, err := e.symbol(r.Sym)
			if err != nil {
				return err
			}
			if sv.tls {
				return e.fail(table, i, r, elfimage.ErrMalformed, "thread-local symbol in a relocation that wants an address")
			}
			if sv.ifunc {
				if !late {
					e.deferred = append(e.deferred, deferredReloc{table, i, *r, kind})
					return nil
				}
				if s, err = e.callIFunc(r.Sym, sv.addr); err != nil {
					return e.fail(table, i, r, err, "ifunc resolver at %#x", sv.addr)
				}
			} else {
				s = sv.addr
			}
		}
		v = s
		if kind == relocAbs {
			v += uint64(r.Addend)
		}
	}
	binary.LittleEndian.PutUint64(e.mem[at:], v)
	return nil
}

// slot returns the cache slot of symbol sym, nil when it has none yet;
// with add, one is made.
func (e *relocEnv) slot(sym uint32, add bool) *symSlot {
	if int(sym) < len(e.cache) {
		return &e.cache[sym]
	}
	c := e.more[sym]
	if c == nil && add {
		if e.more == nil {
			e.more = map[uint32]*symSlot{}
		}
		c = new(symSlot)
		e.more[sym] = c
	}
	return c
}

// symbol resolves symbol index sym once per pass (an own plain definition
// outside the import cache, each time it is named).
func (e *relocEnv) symbol(sym uint32) (symValue, error) {
	c := e.slot(sym, false)
	if c != nil {
		switch c.state {
		case 1:
			return symValue{addr: c.val}, nil
		case 2:
			return symValue{addr: c.val, ifunc: true}, nil
		case 3:
			return symValue{addr: c.val, tls: true, mod: c.mod}, nil
		}
	}
	sv, err := e.resolve(sym)
	if err != nil {
		return symValue{}, err
	}
	if c == nil {
		if sv.own {
			return sv, nil
		}
		c = e.slot(sym, true)
	}
	c.val, c.state = sv.addr, 1
	switch {
	case sv.ifunc:
		c.state = 2
	case sv.tls:
		c.state, c.mod = 3, sv.mod
	}
	return sv, nil
}

// callIFunc calls the object's own IFUNC resolver for symbol sym (once)
// and caches the result.
func (e *relocEnv) callIFunc(sym uint32, resolver uint64) (uint64, error) {
	c := e.slot(sym, true)
	if c.state == 1 {
		return c.val, nil
	}
	v, err := e.callResolver(resolver)
	if err != nil {
		return 0, err
	}
	c.val, c.state = v, 1
	return v, nil
}

// relr applies a DT_RELR table: relative relocations in the compact form
// of the generic ABI: an even entry is the address of a place (and the
// next place is 8 bytes on), an odd entry is a bitmap of the 63 places
// that follow the last address, bit 1 meaning the next place.
func (e *relocEnv) relr(entries elfimage.RelrView) error {
	var where uint64
	have := false
	for i, n := 0, entries.Len(); i < n; i++ {
		ent := entries.At(i)
		if ent&1 == 0 {
			if err := e.relrOne(i, ent); err != nil {
				return err
			}
			where, have = ent+8, true
			continue
		}
		if !have {
			return &RelocError{Object: e.name, Table: "DT_RELR", Index: i, Off: ent,
				Msg: "bitmap entry without a preceding address entry", Err: elfimage.ErrMalformed}
		}
		for bits, j := ent>>1, uint64(0); bits != 0; bits, j = bits>>1, j+1 {
			if bits&1 != 0 {
				if err := e.relrOne(i, where+j*8); err != nil {
					return err
				}
			}
		}
		where += 63 * 8
	}
	return nil
}

// relrOne adds the load base to the 8 bytes at off.
func (e *relocEnv) relrOne(i int, off uint64) error {
	at, ok := e.place(off)
	if !ok {
		return &RelocError{Object: e.name, Table: "DT_RELR", Index: i, Off: off,
			Msg: fmt.Sprintf("place [%#x,%#x) is not inside a writable segment", off, off+8), Err: elfimage.ErrMalformed}
	}
	v := binary.LittleEndian.Uint64(e.mem[at:])
	binary.LittleEndian.PutUint64(e.mem[at:], v+e.base)
	return nil
}
