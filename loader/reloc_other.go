//go:build !amd64

package loader

import "fmt"

// archRelocKind refuses every relocation: only amd64 has a table so far
// (reloc_arm64.go would go beside reloc_amd64.go).
func archRelocKind(t uint32) relocKind { return relocUnknown }

func relocTypeName(t uint32) string { return fmt.Sprintf("relocation type %d", t) }
