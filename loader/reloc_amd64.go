package loader

import "debug/elf"

// archRelocKind maps an x86-64 relocation type to the generic operation
// the relocation loop performs (see relocKind). Every type not listed is
// refused, naming it.
func archRelocKind(t uint32) relocKind {
	switch elf.R_X86_64(t) {
	case elf.R_X86_64_NONE:
		return relocNone
	case elf.R_X86_64_RELATIVE:
		return relocRelative // B + A
	case elf.R_X86_64_64:
		return relocAbs // S + A
	case elf.R_X86_64_GLOB_DAT, elf.R_X86_64_JMP_SLOT:
		return relocSym // S (JUMP_SLOT bound eagerly)
	case elf.R_X86_64_IRELATIVE:
		return relocIRelative // resolver(B + A)()
	case elf.R_X86_64_DTPMOD64:
		return relocDTPMod // module id of S's object
	case elf.R_X86_64_DTPOFF64:
		return relocDTPOff // S + A in that module's block
	case elf.R_X86_64_TPOFF64:
		return relocTPOff // S + A - the thread pointer: initial-exec
	case elf.R_X86_64_TPOFF32:
		return relocTPOff32
	case elf.R_X86_64_TLSDESC:
		return relocTLSDesc // {resolver, argument}
	case elf.R_X86_64_DTPOFF32, elf.R_X86_64_TLSGD, elf.R_X86_64_TLSLD, elf.R_X86_64_GOTTPOFF,
		elf.R_X86_64_GOTPC32_TLSDESC, elf.R_X86_64_TLSDESC_CALL:
		return relocTLS // link-time types, never dynamic
	}
	return relocUnknown
}
