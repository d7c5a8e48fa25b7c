//go:build linux && amd64 && cgo

package main

import (
	"fmt"

	"github.com/runplug/runplug/internal/baseline"
)

// dlopenAndClose loads path with glibc's dlopen (RTLD_NOW|RTLD_LOCAL) and
// closes it: the reference `check --against-dlopen` compares with.
func dlopenAndClose(path string) error {
	lib, err := baseline.DlopenNow(path)
	if err != nil {
		return fmt.Errorf("%w: %v", errDlopen, err)
	}
	if err := lib.Close(); err != nil {
		return fmt.Errorf("%w: dlclose: %v", errDlopen, err)
	}
	return nil
}
