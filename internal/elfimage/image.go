package elfimage

import (
	"errors"
	"fmt"
	"sort"
	"sync"

	"golang.org/x/sys/unix"
)

// ErrUnmapped is returned (wrapped) by an Image's methods once Unmap has
// released it.
var ErrUnmapped = errors.New("elfmap: image unmapped")

// ErrTombstoned is returned (wrapped) by an Image's methods that need its
// contents once Tombstone has dropped them.
var ErrTombstoned = errors.New("elfmap: image tombstoned")

// Image is a mapped shared object: one reservation holding the image and
// its guard pages, laid out as its Plan says. MapFile and MapBytes make
// one.
//
// The lifecycle is mapped -> (Tombstone) -> tombstoned -> (Unmap) ->
// unmapped; Unmap may also come straight from mapped. A tombstoned image
// still owns its address range (all PROT_NONE, no file behind it, no
// data), so stale pointers into an unloaded plugin fault instead of
// reaching whatever the kernel would place there next; Contains and
// RegionAt keep answering for it. Park is a tombstone that keeps the
// mappings and contents behind PROT_NONE, so that Reuse can turn the image
// back into a fresh one at the same address (parked -> Reuse -> mapped)
// without mapping anything. Methods are safe for concurrent use.
type Image struct {
	plan *Plan
	base uintptr

	mu     sync.Mutex
	res    reservation
	state  imageState
	parked bool // tombstoned by Park: mappings and contents kept for Reuse
	// unmergeable: Park has marked the pieces the kernel would merge
	// (keepApartLocked); the marks live as long as the mappings.
	unmergeable bool
	regions     []Region // the current layout: the plan's, split by Protect
}

type imageState int

const (
	imageMapped imageState = iota
	imageTombstoned
	imageUnmapped
)

// Base returns the load base: the address of virtual address 0 of the
// object, so that a symbol's st_value v is at Base()+v. (It need not be
// mapped itself when the first segment does not start at 0.)
func (im *Image) Base() uintptr { return im.base }

// Plan returns (a copy of) the plan the image was mapped from. Do not
// modify it.
func (im *Image) Plan() *Plan { return im.plan }

// Regions returns the image's current layout: the plan's regions, split
// where Protect changed a protection (and all PROT_NONE once tombstoned).
// It returns nil once the image is unmapped.
func (im *Image) Regions() []Region {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.state == imageUnmapped {
		return nil
	}
	return append([]Region(nil), im.regions...)
}

// Mem returns the bytes of the image, [Base+MinVaddr, Base+MaxVaddr)
// without the guards, for the loader to apply relocations. Only the pages
// of writable regions may be written (and gaps, guards and unreadable
// pages not even read): touching others faults. It returns nil once the
// image is tombstoned or unmapped, and must not be used after that.
func (im *Image) Mem() []byte {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.state != imageMapped {
		return nil
	}
	p := im.plan
	b, err := im.res.bytes(uintptr(int64(p.MinVaddr)-p.Start), uintptr(p.MaxVaddr-p.MinVaddr))
	if err != nil {
		return nil
	}
	return b
}

// Contains reports whether addr is inside the reservation (guards
// included). It stays true after Tombstone and becomes false after Unmap.
func (im *Image) Contains(addr uintptr) bool {
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.containsLocked(addr)
}

func (im *Image) containsLocked(addr uintptr) bool {
	return im.state != imageUnmapped && addr-im.res.addr() < im.res.size
}

// RegionAt returns the region (segment piece, guard or gap) addr falls in,
// with its current protection (Protect splits regions; after Tombstone
// every region reports PROT_NONE). ok is false when addr is outside the
// reservation or the image is unmapped.
func (im *Image) RegionAt(addr uintptr) (r Region, ok bool) {
	im.mu.Lock()
	defer im.mu.Unlock()
	if !im.containsLocked(addr) {
		return Region{}, false
	}
	rel := im.plan.Start + int64(addr-im.res.addr())
	i := sort.Search(len(im.regions), func(i int) bool { return im.regions[i].End > rel })
	if i == len(im.regions) || im.regions[i].Start > rel {
		return Region{}, false // cannot happen: the regions cover the reservation
	}
	return im.regions[i], true
}

// Protect changes the protection of the image's pages in
// [vaddr, vaddr+size) to prot (unix.PROT_* bits), the way ld.so applies
// PT_GNU_RELRO: the start is rounded down and the end rounded down to
// pages, so a page only partly in the range keeps its protection; a range
// that covers no whole page is a no-op. The range must lie within
// [MinVaddr, MaxVaddr) and touch only segment pages (no gap); a writable
// and executable prot is refused unless the plan allows it.
func (im *Image) Protect(vaddr, size uint64, prot int) error {
	p := im.plan
	end := vaddr + size
	if end < vaddr {
		return fmt.Errorf("elfmap: protect [%#x,+%#x): range overflows", vaddr, size)
	}
	if prot&^(unix.PROT_READ|unix.PROT_WRITE|unix.PROT_EXEC) != 0 {
		return fmt.Errorf("elfmap: protect [%#x,%#x): unknown protection bits %#x", vaddr, end, prot)
	}
	if prot&unix.PROT_WRITE != 0 && prot&unix.PROT_EXEC != 0 && !p.AllowWriteExec {
		return fmt.Errorf("elfmap: protect [%#x,%#x) %s: %w", vaddr, end, ProtString(prot), ErrUnsupported)
	}
	if vaddr < p.MinVaddr || end > p.MaxVaddr {
		return fmt.Errorf("elfmap: protect [%#x,%#x): outside the image [%#x,%#x)", vaddr, end, p.MinVaddr, p.MaxVaddr)
	}
	start, end := pageFloor(vaddr, p.PageSize), pageFloor(end, p.PageSize)

	im.mu.Lock()
	defer im.mu.Unlock()
	if err := im.usableLocked(); err != nil {
		return fmt.Errorf("elfmap: protect [%#x,%#x): %w", vaddr, vaddr+size, err)
	}
	if start >= end {
		return nil
	}
	lo, hi := int64(start), int64(end)
	for _, r := range im.regions {
		if r.Start < hi && r.End > lo && r.Kind == RegionGuard {
			return fmt.Errorf("elfmap: protect [%#x,%#x): touches the gap [%#x,%#x) between segments", start, end, r.Start, r.End)
		}
	}
	if err := im.res.protect(uintptr(lo-p.Start), uintptr(hi-lo), prot); err != nil {
		return fmt.Errorf("elfmap: protect [%#x,%#x): %w", start, end, err)
	}
	im.regions = splitProt(im.regions, lo, hi, prot)
	return nil
}

// splitProt returns regs with [lo, hi) given protection prot, splitting
// the regions that straddle lo or hi.
func splitProt(regs []Region, lo, hi int64, prot int) []Region {
	out := make([]Region, 0, len(regs)+2)
	for _, r := range regs {
		if r.End <= lo || r.Start >= hi {
			out = append(out, r)
			continue
		}
		if r.Start < lo {
			out = append(out, cutRegion(r, r.Start, lo))
		}
		mid := cutRegion(r, max(r.Start, lo), min(r.End, hi))
		mid.Prot = prot
		out = append(out, mid)
		if r.End > hi {
			out = append(out, cutRegion(r, hi, r.End))
		}
	}
	return out
}

// cut returns the part [s, e) of r.
func cutRegion(r Region, s, e int64) Region {
	if r.Kind == RegionFile {
		r.Offset += uint64(s - r.Start)
	}
	r.Start, r.End = s, e
	r.ZeroFrom = min(max(r.ZeroFrom, s), e)
	return r
}

// Tombstone replaces the whole reservation by PROT_NONE anonymous memory
// in one call: file pages and data are dropped, but the address range
// stays reserved so that nothing else is mapped where the plugin was. Mem
// must not be used afterwards. Tombstoning twice is a no-op; tombstoning
// an unmapped image is an error.
func (im *Image) Tombstone() error {
	im.mu.Lock()
	defer im.mu.Unlock()
	switch {
	case im.state == imageTombstoned && !im.parked:
		return nil
	case im.state == imageUnmapped:
		return fmt.Errorf("elfmap: tombstone: %w", ErrUnmapped)
	}
	if err := im.res.tombstone(); err != nil {
		return fmt.Errorf("elfmap: tombstone: %w", err)
	}
	im.state, im.parked = imageTombstoned, false
	for i := range im.regions {
		im.regions[i].Prot = unix.PROT_NONE
	}
	return nil
}

// Tombstoned reports whether Tombstone has dropped the image's contents
// (and Unmap has not yet released its range).
func (im *Image) Tombstoned() bool {
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.state == imageTombstoned
}

// Unmap releases the whole reservation. It is safe to call twice (and
// after Tombstone); the second call does nothing.
func (im *Image) Unmap() error {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.state == imageUnmapped {
		return nil
	}
	if err := im.res.release(); err != nil {
		return fmt.Errorf("elfmap: unmap: %w", err)
	}
	im.state, im.parked = imageUnmapped, false
	return nil
}

func (im *Image) usableLocked() error {
	switch im.state {
	case imageTombstoned:
		return ErrTombstoned
	case imageUnmapped:
		return ErrUnmapped
	}
	return nil
}
