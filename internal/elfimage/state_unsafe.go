package elfimage

// The reservation's one shared mapping (Image.ShareFile). It is in a file
// of its own, beside map_unsafe.go, under the same invariant: the range is
// checked to lie inside the reservation (at) before a pointer is formed.

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapShared maps n bytes of fd from file offset foff at off, read-write,
// MAP_SHARED|MAP_FIXED: writes there are the file's.
func (r *reservation) mapShared(off, n uintptr, fd int, foff uint64) error {
	p, err := r.at(off, n)
	if err != nil {
		return err
	}
	prot := unix.PROT_READ | unix.PROT_WRITE
	if err := callSysHook("mmap-shared", p, n, prot); err != nil {
		return err
	}
	got, err := unix.MmapPtr(fd, int64(foff), p, n, prot, unix.MAP_SHARED|unix.MAP_FIXED)
	if err != nil {
		return fmt.Errorf("mmap shared file offset %#x (%#x bytes): %w", foff, n, err)
	}
	if got != p {
		return fmt.Errorf("mmap shared file offset %#x: kernel placed it at %#x, not %#x", foff, uintptr(got), uintptr(p))
	}
	return nil
}

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
