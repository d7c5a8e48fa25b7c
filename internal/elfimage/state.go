package elfimage

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Shared ranges: a persistent state region (loader/state.go) is a range of
// whole pages of a writable segment that the loader maps MAP_SHARED from a
// state file over the image's private copy, so that what the plugin writes
// there is the file's. ShareFile places such a mapping and Unshare puts
// private zero pages back before the image is closed, so that a parked
// image (Park, Reuse) never holds the state file nor writes into it.

// ShareFile maps n bytes of fd from file offset foff over [vaddr,
// vaddr+n) of the image, read-write and MAP_SHARED. The range must be
// page-aligned, non-empty and lie inside writable segment regions (no
// guard or gap); foff must be page-aligned.
func (im *Image) ShareFile(vaddr, n uint64, fd int, foff uint64) error {
	if foff%im.plan.PageSize != 0 {
		return fmt.Errorf("elfmap: share [%#x,+%#x): file offset %#x is not page-aligned", vaddr, n, foff)
	}
	return im.overRange("share", vaddr, n, func(off, size uintptr) error { return im.res.mapShared(off, size, fd, foff) })
}

// MoveShared moves from, a MAP_SHARED file mapping of n bytes the caller
// made (an isolated child's state slot, mapped before it closed the
// file's descriptor), over [vaddr, vaddr+n) as ShareFile would map it;
// from is no longer mapped after success.
func (im *Image) MoveShared(vaddr, n uint64, from []byte) error {
	return im.overRange("share", vaddr, n, func(off, size uintptr) error { return im.res.moveShared(off, size, from) })
}

// Unshare replaces [vaddr, vaddr+n) (a range ShareFile mapped) by private
// read-write zero pages.
func (im *Image) Unshare(vaddr, n uint64) error {
	return im.overRange("unshare", vaddr, n, func(off, size uintptr) error {
		return im.res.mapAnon(off, size, unix.PROT_READ|unix.PROT_WRITE, 0)
	})
}

// overRange checks [vaddr, vaddr+n) (sharedRange) and runs mapIt on its
// offset and size in the reservation, with the image usable and locked.
func (im *Image) overRange(what string, vaddr, n uint64, mapIt func(off, size uintptr) error) error {
	off, size, err := im.sharedRange(vaddr, n)
	if err == nil {
		im.mu.Lock()
		defer im.mu.Unlock()
		err = im.usableLocked()
	}
	if err == nil {
		err = mapIt(off, size)
	}
	if err != nil {
		return fmt.Errorf("elfmap: %s [%#x,+%#x): %w", what, vaddr, n, err)
	}
	return nil
}

// sharedRange checks [vaddr, vaddr+n) for ShareFile and Unshare and
// returns its offset and size in the reservation.
func (im *Image) sharedRange(vaddr, n uint64) (off, size uintptr, err error) {
	p := im.plan
	end, ok := add(vaddr, n)
	switch {
	case !ok || n == 0:
		return 0, 0, fmt.Errorf("empty or overflowing range")
	case vaddr%p.PageSize != 0 || n%p.PageSize != 0:
		return 0, 0, fmt.Errorf("not whole pages (page size %#x)", p.PageSize)
	case vaddr < p.MinVaddr || end > p.MaxVaddr:
		return 0, 0, fmt.Errorf("outside the image [%#x,%#x)", p.MinVaddr, p.MaxVaddr)
	}
	lo, hi := int64(vaddr), int64(end)
	covered := lo
	for _, r := range p.Regions {
		if r.End <= lo || r.Start >= hi {
			continue
		}
		if r.Kind == RegionGuard || r.Prot != unix.PROT_READ|unix.PROT_WRITE {
			return 0, 0, fmt.Errorf("overlaps %s, not a read-write segment", r)
		}
		if r.Start > covered {
			break
		}
		covered = max(covered, r.End)
	}
	if covered < hi {
		return 0, 0, fmt.Errorf("not covered by the image's segments")
	}
	return uintptr(lo - p.Start), uintptr(n), nil
}
