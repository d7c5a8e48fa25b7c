package loader

import "debug/elf"

// The AArch64 ELF ABI's static thread-local relocations (TLSGD, TLSLD,
// TLSIE, TLSLE and the TLSDESC code sequence) are numbered 512 to 573:
// link-time types, never dynamic.
const (
	firstLinkTLS = uint32(elf.R_AARCH64_TLSGD_ADR_PREL21)
	lastLinkTLS  = uint32(elf.R_AARCH64_TLSLD_LDST128_DTPREL_LO12_NC)
)

// archRelocKind maps an AArch64 relocation type to the generic operation
// the relocation loop performs (see relocKind), as glibc's
// sysdeps/aarch64/dl-machine.h elf_machine_rela does. Every type not
// listed is refused, naming it: R_AARCH64_COPY among them (the objects
// runplug loads are shared objects, whose data is never copied into an
// executable).
func archRelocKind(t uint32) relocKind {
	switch elf.R_AARCH64(t) {
	case elf.R_AARCH64_NONE:
		return relocNone
	case elf.R_AARCH64_RELATIVE:
		return relocRelative // B + A
	case elf.R_AARCH64_ABS64, elf.R_AARCH64_GLOB_DAT, elf.R_AARCH64_JUMP_SLOT:
		// S + A for all three, unlike x86-64's GLOB_DAT and JUMP_SLOT
		// (S): the AArch64 ABI and glibc add the addend. JUMP_SLOT is
		// bound eagerly.
		return relocAbs
	case elf.R_AARCH64_IRELATIVE:
		return relocIRelative // resolver(B + A)()
	case elf.R_AARCH64_TLS_DTPMOD64:
		return relocDTPMod // module id of S's object
	case elf.R_AARCH64_TLS_DTPREL64:
		return relocDTPOff // S + A in that module's block
	case elf.R_AARCH64_TLS_TPREL64:
		return relocTPOff // S + A + the module's offset from the thread pointer
	case elf.R_AARCH64_TLSDESC:
		return relocTLSDesc // {resolver, argument}: -fPIC's default TLS model here
	}
	if t >= firstLinkTLS && t <= lastLinkTLS {
		return relocTLS
	}
	return relocUnknown
}
