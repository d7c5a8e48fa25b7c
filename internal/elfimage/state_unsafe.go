package elfimage

// The reservation's one shared mapping (Image.ShareFile). It is in a file
// of its own, beside map_unsafe.go, under the same invariant: the range is
// checked to lie inside the reservation (at) before a pointer is formed.

import (
	"fmt"

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
