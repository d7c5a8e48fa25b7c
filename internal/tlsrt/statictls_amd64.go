//go:build linux

package tlsrt

import "debug/elf"

// standIn: x86-64, 4 KiB pages.
var standIn = standInArch{machine: elf.EM_X86_64, tpoff: uint32(elf.R_X86_64_TPOFF64), pageAlign: 4096}
