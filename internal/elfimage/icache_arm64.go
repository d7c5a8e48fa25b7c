package elfimage

// syncICache makes the instruction cache see what was written to
// [addr, addr+n): AArch64's instruction and data caches are not coherent,
// so code written with stores (copied in by MapBytes, or a text page whose
// tail was cleared) must be cleaned and invalidated before it runs.
// Implemented in icache_arm64.s. The range must be readable.
//
//go:noescape
func syncICache(addr, n uintptr)
