package loader

import (
	"debug/elf"
	"os"
	"testing"

	"github.com/runplug/runplug/internal/elfimage"
	"github.com/runplug/runplug/internal/errs"
	"github.com/runplug/runplug/internal/plugintest"
)

// rt are the AArch64 relocation types the architecture-independent
// relocation tests use for each operation.
var rt = relocTestTypes{
	None: uint32(elf.R_AARCH64_NONE), Relative: uint32(elf.R_AARCH64_RELATIVE),
	Abs: uint32(elf.R_AARCH64_ABS64), GlobDat: uint32(elf.R_AARCH64_GLOB_DAT),
	JumpSlot: uint32(elf.R_AARCH64_JUMP_SLOT), IRelative: uint32(elf.R_AARCH64_IRELATIVE),
	DTPMod: uint32(elf.R_AARCH64_TLS_DTPMOD64), DTPOff: uint32(elf.R_AARCH64_TLS_DTPREL64),
	TPOff: uint32(elf.R_AARCH64_TLS_TPREL64), TLSDesc: uint32(elf.R_AARCH64_TLSDESC),
	Copy: uint32(elf.R_AARCH64_COPY), PCRel: uint32(elf.R_AARCH64_PREL32),
	LinkTLS: []uint32{
		uint32(elf.R_AARCH64_TLSGD_ADR_PREL21), uint32(elf.R_AARCH64_TLSIE_ADR_GOTTPREL_PAGE21),
		uint32(elf.R_AARCH64_TLSDESC_CALL), uint32(elf.R_AARCH64_TLSLD_LDST128_DTPREL_LO12_NC),
	},
	SymAddend: true,
}

// TestArchRelocTableCoversFixtures reads every dynamic relocation of
// plugins built by aarch64-linux-gnu-gcc, as the loader does (elfimage),
// and checks that the AArch64 table performs each one: no fixture has a
// type the table refuses, and together they have every type the table
// lists (so the table is checked against what the toolchain emits, not
// only against itself). The types' arithmetic is checked by
// TestRelocArithmetic, TestRelocTLS and TestRelocTLSDeferred.
func TestArchRelocTableCoversFixtures(t *testing.T) {
	seen := map[uint32]bool{}
	for _, name := range []string{
		"reloc_types", // RELATIVE, ABS64, GLOB_DAT, JUMP_SLOT
		"ifunc",       // IRELATIVE
		"tls_basic",   // TLSDESC: -fPIC's default TLS model on AArch64
		"tls_ie_late", // TLS_TPREL64: initial-exec
		"tls_trad",    // TLS_DTPMOD64, TLS_DTPREL64: -mtls-dialect=trad
	} {
		path := plugintest.Build(t, name)
		fh, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := elfimage.ParseFile(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rs, err := f.ReadRelocs(fh)
		fh.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, r := range append(rs.Rela, rs.JmpRel...) {
			seen[r.Type] = true
			if k := archRelocKind(r.Type); k == relocUnknown || k == relocTLS {
				t.Errorf("%s: %s at %#x is refused by the AArch64 table", name, errs.RelocTypeName(r.Type), r.Off)
			}
		}
	}
	for _, typ := range []uint32{rt.Relative, rt.Abs, rt.GlobDat, rt.JumpSlot, rt.IRelative,
		rt.DTPMod, rt.DTPOff, rt.TPOff, rt.TLSDesc} {
		if !seen[typ] {
			t.Errorf("no fixture has %s: the table's entry for it is untested against the toolchain", errs.RelocTypeName(typ))
		}
	}
}
