package loader

import (
	"fmt"

	"github.com/runplug/runplug/internal/elfimage"
	"github.com/runplug/runplug/internal/tlsrt"
)

// tlsReloc is a relocation that needs to know where the thread-local
// storage it names lives: R_X86_64_TPOFF64 and TPOFF32 (an offset from
// the thread pointer, so static TLS) and R_X86_64_TLSDESC (a descriptor
// whose resolver depends on it). The pass over an object checks and
// resolves them and keeps them for applyTLS, which runs once every new
// object is relocated and the modules that initial-exec code addresses
// have their static TLS (see linkTLS).
type tlsReloc struct {
	table string
	index int
	r     elfimage.Rela
	kind  relocKind
	sv    symValue // the thread-local symbol: its module and offset
}

// tlsPlaceSize is the size of the place a deferred TLS relocation writes.
func tlsPlaceSize(k relocKind) uint64 {
	switch k {
	case relocTPOff32:
		return 4
	case relocTLSDesc:
		return 16
	}
	return 8
}

// deferTLS checks a TPOFF or TLSDESC relocation, resolves its symbol (the
// object's own module for symbol 0) and keeps it for applyTLS.
func (e *relocEnv) deferTLS(table string, i int, r *elfimage.Rela, kind relocKind) error {
	if int64(r.Sym) >= int64(e.nsyms) {
		return e.fail(table, i, r, elfimage.ErrMalformed, "symbol index %d is past the symbol table (%d entries)", r.Sym, e.nsyms)
	}
	n := tlsPlaceSize(kind)
	if _, ok := e.placeN(r.Off, n); !ok {
		return e.fail(table, i, r, elfimage.ErrMalformed, "place [%#x,%#x) is not inside a writable segment", r.Off, r.Off+n)
	}
	sv := symValue{tls: true, mod: e.tlsMod}
	if r.Sym != 0 {
		var err error
		if sv, err = e.symbol(r.Sym); err != nil {
			return err
		}
		if !sv.tls {
			return e.fail(table, i, r, elfimage.ErrMalformed, "symbol is not thread-local")
		}
	}
	if sv.mod == 0 {
		return e.fail(table, i, r, elfimage.ErrMalformed, "module of an object without a PT_TLS segment")
	}
	e.tlsLate = append(e.tlsLate, tlsReloc{table, i, *r, kind, sv})
	return nil
}

// applyTLS writes the deferred TLS relocations. static returns the
// static TLS offset (from the thread pointer) of a module that has one.
// A TPOFF relocation writes that offset plus S + A; a TLSDESC relocation
// writes a descriptor that returns it (static) or that asks runplug's
// __tls_get_addr for the module's block (dynamic: the module and S + A
// packed in the argument).
func (e *relocEnv) applyTLS(static func(mod uint64) (int64, bool)) error {
	for k := range e.tlsLate {
		t := &e.tlsLate[k]
		r := &t.r
		off := t.sv.addr + uint64(r.Addend) // in the module's block
		tpoff, isStatic := static(t.sv.mod)
		at, _ := e.placeN(r.Off, tlsPlaceSize(t.kind)) // checked by deferTLS
		switch t.kind {
		case relocTPOff, relocTPOff32:
			if !isStatic {
				return e.fail(t.table, t.index, r, ErrTLS, "module %d has no static TLS", t.sv.mod)
			}
			v := tpoff + int64(off)
			if t.kind == relocTPOff {
				e.put(at, 8, uint64(v))
				break
			}
			if v != int64(int32(v)) {
				return e.fail(t.table, t.index, r, ErrTLS, "offset %d from the thread pointer does not fit in 32 bits", v)
			}
			e.put(at, 4, uint64(uint32(v)))
		case relocTLSDesc:
			var entry, arg uint64
			if isStatic {
				entry, arg = uint64(tlsrt.TLSDescStatic()), uint64(tpoff+int64(off))
			} else {
				a, ok := tlsrt.TLSDescDynamicArg(t.sv.mod, off)
				if !ok {
					return e.fail(t.table, t.index, r, ErrTLS, "TLS descriptor for offset %#x in module %d: does not fit the resolver's argument", off, t.sv.mod)
				}
				entry, arg = uint64(tlsrt.TLSDescDynamic()), a
			}
			e.put(at, 8, entry)
			e.put(at+8, 8, arg)
		default:
			return e.fail(t.table, t.index, r, ErrTLS, "%s", fmt.Sprintf("unexpected deferred kind %d", t.kind))
		}
	}
	e.tlsLate = nil
	return nil
}
