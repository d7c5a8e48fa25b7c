//go:build linux && (amd64 || arm64)

package tlsrt

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
)

// The names of the two symbols a static TLS stand-in exports (see
// staticTLSObject). They are long and runplug's own so that no other
// object defines them.
const (
	// staticTLSBlockSym is the STT_TLS symbol at offset 0 of the block.
	staticTLSBlockSym = "__runplug_static_tls_block"
	// staticTLSSlotSym is the 8-byte data slot glibc's TPOFF64 relocation
	// (standIn.tpoff) against staticTLSBlockSym fills with the block's offset
	// from the thread pointer.
	staticTLSSlotSym = "__runplug_static_tls_slot"
)

// standInArch is what a stand-in says of its architecture
// (statictls_amd64.go, statictls_arm64.go).
type standInArch struct {
	machine   elf.Machine
	tpoff     uint32 // the relocation that writes a symbol's offset from the thread pointer
	pageAlign uint64 // the PT_LOAD's p_align: the largest page size of the architecture
}

// maxStaticTLSAlign bounds the alignment a stand-in is made for: glibc
// refuses anything above its static TLS alignment (64 on x86-64) anyway,
// and the bound keeps the file's padding small.
const maxStaticTLSAlign = 4096

// staticTLSObject returns a minimal ELF64 shared object of this
// architecture (standIn) that asks glibc's dlopen for static TLS: a PT_TLS
// of memsz bytes aligned to align whose template is the given bytes,
// DT_FLAGS DF_STATIC_TLS, and one TPOFF64 relocation (R_X86_64_TPOFF64,
// R_AARCH64_TLS_TPREL64) against its own exported STT_TLS symbol
// (glibc allocates static TLS when it applies such a relocation, not for
// the flag: elf/dl-reloc.c CHECK_STATIC_TLS). Layout, all in one
// read-write PT_LOAD whose vaddrs equal its file offsets:
//
//	ELF header, 4 program headers (PT_LOAD, PT_DYNAMIC, PT_TLS, PT_GNU_STACK),
//	.dynsym (null, block, slot), .dynstr, DT_HASH, one Elf64_Rela,
//	.dynamic, the 8-byte slot, the template (aligned to align).
//
// PT_GNU_STACK (RW) keeps glibc from making every thread's stack
// executable for it. There is no code: nothing of it ever runs.
func staticTLSObject(template []byte, memsz, align uint64) ([]byte, error) {
	if align == 0 {
		align = 1
	}
	if align&(align-1) != 0 || align > maxStaticTLSAlign {
		return nil, fmt.Errorf("alignment %#x: not a power of two up to %#x", align, maxStaticTLSAlign)
	}
	if uint64(len(template)) > memsz || memsz > 1<<32 {
		return nil, fmt.Errorf("template of %#x bytes for a block of %#x", len(template), memsz)
	}
	const (
		ehsize  = 64
		phsize  = 56
		nphdr   = 4
		symsize = 24
		nsym    = 3
		relsize = 24
		dynsize = 16
	)
	le := binary.LittleEndian
	strtab := []byte("\x00" + staticTLSBlockSym + "\x00" + staticTLSSlotSym + "\x00")
	nameBlock, nameSlot := uint32(1), uint32(1+len(staticTLSBlockSym)+1)

	symOff := uint64(ehsize + nphdr*phsize)
	strOff := symOff + nsym*symsize
	hashOff := alignUp(strOff+uint64(len(strtab)), 8)
	const hashWords = 2 + 1 + nsym // nbucket, nchain, one bucket, a chain entry per symbol
	relOff := alignUp(hashOff+hashWords*4, 8)
	dyn := []struct {
		tag elf.DynTag
		val uint64
	}{
		{elf.DT_HASH, hashOff},
		{elf.DT_STRTAB, strOff},
		{elf.DT_SYMTAB, symOff},
		{elf.DT_STRSZ, uint64(len(strtab))},
		{elf.DT_SYMENT, symsize},
		{elf.DT_RELA, relOff},
		{elf.DT_RELASZ, relsize},
		{elf.DT_RELAENT, relsize},
		{elf.DT_FLAGS, uint64(elf.DF_STATIC_TLS)},
		{elf.DT_NULL, 0},
	}
	dynOff := relOff + relsize
	slotOff := dynOff + uint64(len(dyn))*dynsize
	tdataOff := alignUp(slotOff+8, align)
	end := tdataOff + uint64(len(template))
	b := make([]byte, end)

	// ELF header.
	copy(b, elf.ELFMAG)
	b[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	b[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	b[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	b[elf.EI_OSABI] = byte(elf.ELFOSABI_NONE)
	le.PutUint16(b[16:], uint16(elf.ET_DYN))
	le.PutUint16(b[18:], uint16(standIn.machine))
	le.PutUint32(b[20:], uint32(elf.EV_CURRENT))
	le.PutUint64(b[32:], ehsize) // e_phoff
	le.PutUint16(b[52:], ehsize)
	le.PutUint16(b[54:], phsize)
	le.PutUint16(b[56:], nphdr)
	le.PutUint16(b[58:], 64) // e_shentsize; no sections

	phdr := func(i int, typ elf.ProgType, flags elf.ProgFlag, off, filesz, memsz, al uint64) {
		p := b[ehsize+i*phsize:]
		le.PutUint32(p[0:], uint32(typ))
		le.PutUint32(p[4:], uint32(flags))
		le.PutUint64(p[8:], off)  // p_offset
		le.PutUint64(p[16:], off) // p_vaddr
		le.PutUint64(p[24:], off) // p_paddr
		le.PutUint64(p[32:], filesz)
		le.PutUint64(p[40:], memsz)
		le.PutUint64(p[48:], al)
	}
	phdr(0, elf.PT_LOAD, elf.PF_R|elf.PF_W, 0, end, end, standIn.pageAlign)
	phdr(1, elf.PT_DYNAMIC, elf.PF_R|elf.PF_W, dynOff, uint64(len(dyn))*dynsize, uint64(len(dyn))*dynsize, 8)
	phdr(2, elf.PT_TLS, elf.PF_R, tdataOff, uint64(len(template)), memsz, align)
	phdr(3, elf.PT_GNU_STACK, elf.PF_R|elf.PF_W, 0, 0, 0, 16)

	// Symbols: 1 the TLS block (value 0 in the block, size memsz), 2 the
	// slot; both global, protected (they bind to themselves).
	sym := func(i int, name uint32, typ elf.SymType, shndx uint16, value, size uint64) {
		s := b[symOff+uint64(i)*symsize:]
		le.PutUint32(s[0:], name)
		s[4] = byte(elf.STB_GLOBAL)<<4 | byte(typ)
		s[5] = byte(elf.STV_PROTECTED)
		le.PutUint16(s[6:], shndx)
		le.PutUint64(s[8:], value)
		le.PutUint64(s[16:], size)
	}
	// Section indexes only need to be defined (not SHN_UNDEF); glibc
	// does not read section headers.
	sym(1, nameBlock, elf.STT_TLS, 1, 0, memsz)
	sym(2, nameSlot, elf.STT_OBJECT, 1, slotOff, 8)
	copy(b[strOff:], strtab)

	// DT_HASH: one bucket holding the chain 1 -> 2.
	h := b[hashOff:]
	le.PutUint32(h[0:], 1)    // nbucket
	le.PutUint32(h[4:], nsym) // nchain
	le.PutUint32(h[8:], 1)    // bucket[0]
	le.PutUint32(h[12:], 0)   // chain[0]
	le.PutUint32(h[16:], 2)   // chain[1]
	le.PutUint32(h[20:], 0)   // chain[2]

	// slot = TPOFF64(block + 0).
	le.PutUint64(b[relOff:], slotOff)
	le.PutUint64(b[relOff+8:], uint64(1)<<32|uint64(standIn.tpoff))
	le.PutUint64(b[relOff+16:], 0)

	for i, d := range dyn {
		le.PutUint64(b[dynOff+uint64(i)*dynsize:], uint64(d.tag))
		le.PutUint64(b[dynOff+uint64(i)*dynsize+8:], d.val)
	}
	copy(b[tdataOff:], template)
	return b, nil
}

func alignUp(v, a uint64) uint64 { return (v + a - 1) &^ (a - 1) }
