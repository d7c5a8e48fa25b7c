package loader

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/runplug/runplug/internal/elfimage"
	"github.com/runplug/runplug/internal/fileinfo"
)

func init() { fileinfo.ReadStateLayout = readStateLayout }

// readStateLayout returns the state region f (parsed from r) declares,
// nil when it declares none (fileinfo.ReadStateLayout, for the command).
// A region the loader would refuse is an error wrapping ErrStateLayout.
func readStateLayout(f *elfimage.File, r io.ReaderAt) (*fileinfo.StateLayout, error) {
	if f.Dynamic == nil {
		return nil, nil
	}
	var writable, readable []span
	for _, ld := range f.Loads {
		s := span{ld.Vaddr, ld.Vaddr + ld.Memsz}
		if ld.Flags&elf.PF_W != 0 {
			writable = append(writable, s)
		}
		if ld.Flags&elf.PF_R != 0 {
			readable = append(readable, s)
		}
	}
	syms, err := f.SymbolsFrom(r)
	if err != nil {
		return nil, err
	}
	reg, err := findStateRegion(f, syms, writable, readable)
	if err != nil || reg == nil {
		return nil, err
	}
	var tabs [3][]byte
	for i, t := range [...]elfimage.Table{f.Dynamic.RelaTab, f.Dynamic.JmpRelTab, f.Dynamic.RelrTab} {
		if t.Size == 0 {
			continue
		}
		if uint64(f.Size) < t.Size || t.Off > uint64(f.Size)-t.Size {
			return nil, fmt.Errorf("relocation table [%#x,+%#x) beyond the file: %w", t.Off, t.Size, elfimage.ErrMalformed)
		}
		tabs[i] = make([]byte, t.Size)
		if _, err := r.ReadAt(tabs[i], int64(t.Off)); err != nil {
			return nil, fmt.Errorf("read a relocation table: %w", err)
		}
	}
	if err := reg.checkRelocs(relocTables{rela: tabs[0], jmprel: tabs[1], relr: tabs[2]}); err != nil {
		return nil, err
	}
	// The descriptor's bytes in the file: inside one PT_LOAD's file part.
	var b [stateDescSize]byte
	found := false
	for _, ld := range f.Loads {
		if reg.desc >= ld.Vaddr && reg.desc-ld.Vaddr <= ld.Filesz && ld.Filesz-(reg.desc-ld.Vaddr) >= stateDescSize {
			if _, err := r.ReadAt(b[:], int64(ld.Off+(reg.desc-ld.Vaddr))); err != nil {
				return nil, fmt.Errorf("%s: read: %w", stateDescSym, err)
			}
			found = true
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("%s: not in the file's bytes: %w", stateDescSym, ErrStateLayout)
	}
	if m := binary.LittleEndian.Uint32(b[:]); m != stateDescMagic {
		return nil, fmt.Errorf("%s: magic %#x, want %#x: %w", stateDescSym, m, stateDescMagic, ErrStateLayout)
	}
	sl := &fileinfo.StateLayout{Vaddr: reg.vaddr, Size: reg.size, Version: binary.LittleEndian.Uint32(b[4:]), TypeSize: binary.LittleEndian.Uint64(b[8:])}
	if sl.TypeSize == 0 || sl.TypeSize > sl.Size {
		return nil, fmt.Errorf("%s: type size %d does not fit the %d-byte region: %w", stateDescSym, sl.TypeSize, sl.Size, ErrStateLayout)
	}
	_, sl.Migrates = definedSymbol(syms, stateMigrate)
	return sl, nil
}
