//go:build !(linux && amd64 && cgo)

package main

import (
	"fmt"

	"github.com/runplug/runplug/internal/elfimage"
)

// dlopenAndClose needs glibc's dlopen, reached through cgo on linux/amd64.
func dlopenAndClose(path string) error {
	return fmt.Errorf("%w: dlopen of %s needs linux/amd64 with cgo: %w", errDlopen, path, elfimage.ErrUnsupported)
}
