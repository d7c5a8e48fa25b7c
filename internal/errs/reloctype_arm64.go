package errs

import "debug/elf"

// RelocTypeName names a relocation type of the machine elfmap accepts in
// this build ("R_AARCH64_...").
func RelocTypeName(t uint32) string { return elf.R_AARCH64(t).String() }
