//go:build linux

package tlsrt

import "debug/elf"

// standIn: AArch64, whose kernels run with 4, 16 or 64 KiB pages (glibc
// refuses a PT_LOAD aligned to less than the running page size).
var standIn = standInArch{machine: elf.EM_AARCH64, tpoff: uint32(elf.R_AARCH64_TLS_TPREL64), pageAlign: 64 << 10}
