//go:build linux && cgo

package tlsrt

import "testing"

// logTLSDescSave logs what the dynamic resolver's slow path saves.
func logTLSDescSave(t *testing.T) {
	t.Log("dynamic resolver's slow path saves x5-x18 and q0-q31 (tlsdesc_arm64.S)")
}

// tlsDescWidths returns the vector widths TestTLSDescriptorRegisters
// checks: one, every vector register's 128 bits.
func tlsDescWidths(t *testing.T) []uint64 { return []uint64{0} }

// Static TLS on AArch64 (variant I) lies above the thread pointer (past
// the 16-byte TCB), aligned at most to 16, glibc's TCB alignment there.
const (
	staticBelowTP = false
	staticAlign   = 16
)
