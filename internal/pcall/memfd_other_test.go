//go:build !linux

package pcall

import (
	"syscall"
	"testing"
)

// memfd fails: memory files are Linux's.
func memfd(t *testing.T) (int, error) { return -1, syscall.ENOSYS }
