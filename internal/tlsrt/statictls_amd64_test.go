//go:build linux && cgo

package tlsrt

import "testing"

// logTLSDescSave logs what the dynamic resolver's slow path saves.
func logTLSDescSave(t *testing.T) {
	size, xsave := tlsDescSaveSize()
	t.Logf("dynamic resolver's slow path saves %d bytes (XSAVE %v)", size, xsave)
}

// tlsDescWidths returns the vector widths TestTLSDescriptorRegisters
// checks: xmm (0), and ymm (1) when the CPU has AVX.
func tlsDescWidths(t *testing.T) []uint64 {
	if cpuHasAVX() {
		return []uint64{0, 1}
	}
	t.Log("the CPU has no AVX: ymm upper halves not checked")
	return []uint64{0}
}

// Static TLS on x86-64 (variant II) lies below the thread pointer, aligned
// at most to 64, glibc's TCB alignment there.
const (
	staticBelowTP = true
	staticAlign   = 64
)
