//go:build !amd64 && !arm64

package errs

import "fmt"

// RelocTypeName gives the number: elfmap accepts no machine in this build.
func RelocTypeName(t uint32) string { return fmt.Sprintf("relocation type %d", t) }
