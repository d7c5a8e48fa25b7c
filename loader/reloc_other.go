//go:build !amd64 && !arm64

package loader

// archRelocKind refuses every relocation: only amd64 and arm64 have a
// table (reloc_amd64.go, reloc_arm64.go).
func archRelocKind(t uint32) relocKind { return relocUnknown }
