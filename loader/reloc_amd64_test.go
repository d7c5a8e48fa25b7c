package loader

import (
	"debug/elf"
	"errors"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/elfimage"
)

// rt are the x86-64 relocation types the architecture-independent
// relocation tests use for each operation.
var rt = relocTestTypes{
	None: uint32(elf.R_X86_64_NONE), Relative: uint32(elf.R_X86_64_RELATIVE),
	Abs: uint32(elf.R_X86_64_64), GlobDat: uint32(elf.R_X86_64_GLOB_DAT),
	JumpSlot: uint32(elf.R_X86_64_JMP_SLOT), IRelative: uint32(elf.R_X86_64_IRELATIVE),
	DTPMod: uint32(elf.R_X86_64_DTPMOD64), DTPOff: uint32(elf.R_X86_64_DTPOFF64),
	TPOff: uint32(elf.R_X86_64_TPOFF64), TLSDesc: uint32(elf.R_X86_64_TLSDESC),
	Copy: uint32(elf.R_X86_64_COPY), PCRel: uint32(elf.R_X86_64_PC32),
	LinkTLS:   []uint32{uint32(elf.R_X86_64_DTPOFF32), uint32(elf.R_X86_64_GOTTPOFF)},
	SymAddend: false,
}

// R_X86_64_TPOFF32 (no AArch64 counterpart in LP64) waits for applyTLS
// like TPOFF64, writes 4 bytes, and is refused where the offset does not
// fit in them or the object has no PT_TLS.
func TestRelocTPOff32(t *testing.T) {
	syms := map[uint32]symValue{1: {addr: 0x40, tls: true, mod: 9}}
	static := func(mod uint64) (int64, bool) { return -0x100, mod == 9 }
	fi := newFake(syms, 2)
	fi.setWord(0x2008, 0xffff_ffff_0000_0000)
	if err := fi.env.relocate(testTables{Rela: []elfimage.Rela{rela(0x2008, uint32(elf.R_X86_64_TPOFF32), 1, 0)}}.views()); err != nil {
		t.Fatal(err)
	}
	if err := fi.env.applyTLS(static); err != nil {
		t.Fatal(err)
	}
	off := int32(-0x100 + 0x40)
	if got, want := fi.word(0x2008), 0xffff_ffff_0000_0000|uint64(uint32(off)); got != want {
		t.Errorf("TPOFF32: %#x, want %#x (and the next 4 bytes untouched)", got, want)
	}
	checkTLSRefusals(t, syms, []tlsRefusal{
		{"TPOFF32 out of range", rela(0x2000, uint32(elf.R_X86_64_TPOFF32), 1, 0), func(uint64) (int64, bool) { return -1 << 40, true }, "32 bits"},
	})
	fi = newFake(syms, 2)
	err := fi.env.relocate(testTables{Rela: []elfimage.Rela{rela(0x2000, uint32(elf.R_X86_64_TPOFF32), 0, 0)}}.views())
	if !errors.Is(err, elfimage.ErrMalformed) || !strings.Contains(err.Error(), "without a PT_TLS") {
		t.Errorf("TPOFF32 of an object without PT_TLS: %v", err)
	}
}
