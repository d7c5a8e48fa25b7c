//go:build !arm64

package elfimage

// syncICache does nothing: x86-64 keeps its instruction cache coherent
// with stores (and other architectures have no port).
func syncICache(addr, n uintptr) {}
