//go:build linux && cgo

package tlsrt

// The x86-64 resolvers' own fixtures (tlsdesc_amd64.c).

/*
#include <stdint.h>
uint64_t rp_tlsdesc_save_size(void);
int rp_cpu_has_avx(void);
*/
import "C"

// tlsDescSaveSize returns the bytes the dynamic resolver's slow path saves
// and whether it uses XSAVE (a test fixture).
func tlsDescSaveSize() (uint64, bool) {
	v := uint64(C.rp_tlsdesc_save_size())
	return v &^ (1 << 63), v>>63 != 0
}

// cpuHasAVX reports whether the CPU has AVX (ymm registers).
func cpuHasAVX() bool { return C.rp_cpu_has_avx() != 0 }
