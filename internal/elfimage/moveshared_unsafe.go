//go:build linux

package elfimage

// Image.MoveShared's mapping step: mremap with a fixed target is
// Linux's. Under state_unsafe.go's invariant: the range is checked to lie
// inside the reservation (at) before a pointer is formed.

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// moveShared moves the shared mapping of n bytes at from (made by the
// caller, outside the reservation) to off with mremap
// (MREMAP_MAYMOVE|MREMAP_FIXED), replacing what was there: the file's
// pages take the range with no descriptor needed.
func (r *reservation) moveShared(off, n uintptr, from []byte) error {
	p, err := r.at(off, n)
	if err != nil {
		return err
	}
	if uintptr(len(from)) != n {
		return fmt.Errorf("move a shared mapping of %#x bytes over %#x", len(from), n)
	}
	if err := callSysHook("mmap-shared", p, n, unix.PROT_READ|unix.PROT_WRITE); err != nil {
		return err
	}
	got, err := unix.MremapPtr(unsafe.Pointer(&from[0]), n, p, n, unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED)
	if err != nil {
		return fmt.Errorf("mremap the shared mapping (%#x bytes): %w", n, err)
	}
	if got != p {
		return fmt.Errorf("mremap the shared mapping: kernel placed it at %#x, not %#x", uintptr(got), uintptr(p))
	}
	return nil
}
