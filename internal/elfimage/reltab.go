package elfimage

import (
	"fmt"
	"io"
)

// Table is where one of the tables the dynamic segment names lies. Parse
// has checked that [Vaddr, Vaddr+Size) is inside the file bytes of one
// PT_LOAD, loaded from [Off, Off+Size) of the file, and that Size is a
// whole number of entries; so the table is inside every image mapped from
// the file, and a loader reads it there, where it is mapped, rather than
// from a copy. The zero Table is an absent one.
type Table struct {
	Vaddr uint64 // address in the image, relative to the load base
	Off   uint64 // file offset
	Size  uint64 // bytes
}

// In returns the table's bytes in mem, the image's memory starting at
// image address memVaddr; ok is false when they are not all in mem.
func (t Table) In(mem []byte, memVaddr uint64) (b []byte, ok bool) {
	if t.Size == 0 {
		return nil, true
	}
	if t.Vaddr < memVaddr {
		return nil, false
	}
	i := t.Vaddr - memVaddr
	if i > uint64(len(mem)) || uint64(len(mem))-i < t.Size {
		return nil, false
	}
	return mem[i : i+t.Size : i+t.Size], true
}

// RelaView is an array of Elf64_Rela read in place: each entry is decoded
// when it is asked for. Its length is a whole number of entries (extra
// bytes are ignored).
type RelaView []byte

// Len returns the number of entries.
func (v RelaView) Len() int { return len(v) / relaSize }

// At decodes entry i (0 <= i < Len).
func (v RelaView) At(i int) Rela {
	b := v[i*relaSize : i*relaSize+relaSize]
	info := le.Uint64(b[8:])
	return Rela{Off: le.Uint64(b), Type: uint32(info), Sym: uint32(info >> 32), Addend: int64(le.Uint64(b[16:]))}
}

// RelrView is a DT_RELR table read in place, one 8-byte entry at a time.
type RelrView []byte

// Len returns the number of entries.
func (v RelrView) Len() int { return len(v) / relrSize }

// At returns entry i (0 <= i < Len).
func (v RelrView) At(i int) uint64 { return le.Uint64(v[i*relrSize:]) }

// Relocs is the decoded model of an object's relocation tables, for tools
// that list them (the loader reads them in place: see Table).
type Relocs struct {
	Rela   []Rela   // DT_RELA
	JmpRel []Rela   // DT_JMPREL
	Relr   []uint64 // DT_RELR, raw entries (addresses and bitmaps)
}

// readTable reads table t (named what) of f from r, the file f was parsed
// from.
func (f *File) readTable(r io.ReaderAt, what string, t Table) ([]byte, error) {
	if t.Size == 0 {
		return nil, nil
	}
	if uint64(f.Size) < t.Size || t.Off > uint64(f.Size)-t.Size {
		return nil, malformed(-1, what, t.Off, "table of %#x bytes ends beyond the file size %#x", t.Size, f.Size)
	}
	b := make([]byte, t.Size)
	if n, err := r.ReadAt(b, int64(t.Off)); n != len(b) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("elfmap: read %s at %#x: %w", what, t.Off, err)
	}
	return b, nil
}

// SymbolsFrom reads the symbol, string and version tables of f from r, the
// file f was parsed from (by Parse or ParseInPlace), and returns a SymTab
// over the copies: for a tool that has the file but no mapped image.
func (f *File) SymbolsFrom(r io.ReaderAt) (SymTab, error) {
	d := f.Dynamic
	if d == nil {
		return SymTab{}, nil
	}
	syms, err := f.readTable(r, "DT_SYMTAB", d.SymTab)
	if err != nil {
		return SymTab{}, err
	}
	strs, err := f.readTable(r, "DT_STRTAB", d.StrTab)
	if err != nil {
		return SymTab{}, err
	}
	versym, err := f.readTable(r, "DT_VERSYM", d.VersymTab)
	if err != nil {
		return SymTab{}, err
	}
	hash, err := d.hashViewOf(func(name string, t Table) ([]byte, error) { return f.readTable(r, name, t) })
	if err != nil {
		return SymTab{}, err
	}
	return SymTab{d: d, syms: syms, strs: strs, versym: versym, hash: hash}, nil
}

// ReadRelocs reads and decodes the relocation tables of f from r, the
// file f was parsed from (their bounds were checked by Parse).
func (f *File) ReadRelocs(r io.ReaderAt) (*Relocs, error) {
	d := f.Dynamic
	rs := &Relocs{}
	if d == nil {
		return rs, nil
	}
	read := func(what string, t Table) ([]byte, error) { return f.readTable(r, what, t) }
	decode := func(b []byte) []Rela {
		v := RelaView(b)
		if v.Len() == 0 {
			return nil
		}
		out := make([]Rela, v.Len())
		for i := range out {
			out[i] = v.At(i)
		}
		return out
	}
	b, err := read("DT_RELA", d.RelaTab)
	if err != nil {
		return nil, err
	}
	rs.Rela = decode(b)
	if b, err = read("DT_JMPREL", d.JmpRelTab); err != nil {
		return nil, err
	}
	rs.JmpRel = decode(b)
	if b, err = read("DT_RELR", d.RelrTab); err != nil {
		return nil, err
	}
	if v := RelrView(b); v.Len() > 0 {
		rs.Relr = make([]uint64, v.Len())
		for i := range rs.Relr {
			rs.Relr[i] = v.At(i)
		}
	}
	return rs, nil
}
