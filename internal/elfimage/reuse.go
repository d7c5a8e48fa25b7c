package elfimage

import (
	"fmt"
	"io"
	"math"

	"golang.org/x/sys/unix"
)

// Pristine holds the initial contents of an image's writable file
// regions, as MapFile gives them before anything writes to them: the
// file's bytes up to ZeroFrom and zeros from there to the end of the
// region. It depends only on the plan and the file, not on where an image
// is mapped, so one Pristine serves every image of that plan: Reuse copies
// it back into a parked image to make it fresh again.
type Pristine struct {
	regions []Region // the plan's regions it was read for
	data    [][]byte // per region index: the bytes of a writable file region, else nil
	size    int      // total bytes held
}

// maxPristine bounds the bytes ReadPristine keeps (the writable part of a
// shared object is typically a few pages; a larger one is mapped afresh
// each time rather than kept twice).
const maxPristine = 16 << 20

// ReadPristine reads the initial contents of the writable file regions of
// p from r, the file p was made from. It fails when they exceed 16 MiB.
func ReadPristine(p *Plan, r io.ReaderAt) (*Pristine, error) {
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("elfmap: read pristine: %w", err)
	}
	pr := &Pristine{regions: append([]Region(nil), p.Regions...), data: make([][]byte, len(p.Regions))}
	for i, rg := range p.Regions {
		if rg.Kind != RegionFile || rg.Prot&unix.PROT_WRITE == 0 {
			continue
		}
		n := uint64(rg.End - rg.Start)
		if n > maxPristine || uint64(pr.size)+n > maxPristine {
			return nil, fmt.Errorf("elfmap: read pristine: writable regions exceed %d bytes: %w", maxPristine, ErrUnsupported)
		}
		b := make([]byte, n)
		want := int(rg.ZeroFrom - rg.Start)
		// The last page of a segment may run past the end of the file
		// (fileFits allows it): what is missing reads as zeros, as in a
		// mapping.
		if got, err := r.ReadAt(b[:want], int64(rg.Offset)); err != nil && !(err == io.EOF && got > 0) {
			return nil, fmt.Errorf("elfmap: read pristine: region %d (%v): %w", i, rg, err)
		}
		pr.data[i] = b
		pr.size += len(b)
	}
	return pr, nil
}

// Size returns the number of bytes p holds.
func (p *Pristine) Size() int { return p.size }

// fits reports whether p was read for a plan with exactly the regions of
// plan.
func (p *Pristine) fits(plan *Plan) bool {
	if len(p.regions) != len(plan.Regions) {
		return false
	}
	for i := range p.regions {
		if p.regions[i] != plan.Regions[i] {
			return false
		}
	}
	return true
}

// Park turns the image into a tombstone that keeps its mappings and
// contents: one mprotect makes the whole reservation PROT_NONE, so that a
// stale pointer into it faults exactly as after Tombstone, while Reuse can
// later make it a fresh image at the same address without mapping
// anything. A parked image is tombstoned: Tombstoned reports true, Mem
// returns nil, Protect fails, Contains and RegionAt answer with PROT_NONE
// regions. Tombstone drops its contents for good; Unmap releases it.
// Parking a tombstoned image is an error.
func (im *Image) Park() error {
	im.mu.Lock()
	defer im.mu.Unlock()
	if err := im.usableLocked(); err != nil {
		return fmt.Errorf("elfmap: park: %w", err)
	}
	if !im.unmergeable {
		if err := im.keepApartLocked(); err != nil {
			return fmt.Errorf("elfmap: park: %w", err)
		}
		im.unmergeable = true
	}
	if err := im.res.protect(0, im.res.size, unix.PROT_NONE); err != nil {
		return fmt.Errorf("elfmap: park: %w", err)
	}
	im.state, im.parked = imageTombstoned, true
	for i := range im.regions {
		im.regions[i].Prot = unix.PROT_NONE
	}
	return nil
}

// Parked reports whether the image is parked (see Park).
func (im *Image) Parked() bool {
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.parked
}

// Reuse makes a parked image what MapFile would have returned for its plan
// at the same address: every region gets the plan's protection back (one
// mprotect per run of adjacent regions with one protection, none of which
// flushes a TLB), writable file
// regions get pr's bytes back, and writable anonymous regions are
// discarded (madvise MADV_DONTNEED: zero pages again). Read-only regions
// keep their pages (nothing could write them), so clean text stays shared
// with the page cache and needs no fault. pr must have been read for an
// identical plan from the same file. On error the image is unmapped and
// nothing stays mapped.
func (im *Image) Reuse(pr *Pristine) error {
	_, _, err := im.ReuseKeeping(pr, 0, 0)
	return err
}

// ReuseKeeping is Reuse, except that the whole pages of [vaddr,
// vaddr+size) (rounded as Protect rounds them: a sealed PT_GNU_RELRO) go
// straight from PROT_NONE to PROT_READ and keep the bytes they held when
// the image was parked, instead of getting pr's bytes back read-write and
// being sealed again, which would flush the TLB. The image then looks as
// it did after Protect(vaddr, size, PROT_READ). The caller must check those
// bytes before it relies on them (they are what the image's previous life
// left there) and Protect them writable to correct them.
//
// It returns the kept pages [keptLo, keptHi), image addresses. It keeps
// nothing (an empty range), as Reuse, when the pages are not wholly inside
// writable file regions of the plan or the range holds no whole page.
func (im *Image) ReuseKeeping(pr *Pristine, vaddr, size uint64) (keptLo, keptHi uint64, err error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	if !im.parked || im.state != imageTombstoned {
		return 0, 0, fmt.Errorf("elfmap: reuse: image is not parked")
	}
	if pr == nil || !pr.fits(im.plan) {
		return 0, 0, fmt.Errorf("elfmap: reuse: pristine contents were read for another plan")
	}
	lo, hi, kept := keepablePages(im.plan, vaddr, size)
	regs := im.plan.Regions
	if kept {
		regs = splitProt(regs, lo, hi, unix.PROT_READ)
	}
	if err := im.reuseLocked(pr, regs, lo, hi); err != nil {
		if rerr := im.res.release(); rerr == nil {
			im.state, im.parked = imageUnmapped, false
		}
		return 0, 0, fmt.Errorf("elfmap: reuse: %w", err)
	}
	im.state, im.parked = imageMapped, false
	im.regions = append(im.regions[:0], regs...)
	if !kept {
		return 0, 0, nil
	}
	return uint64(lo), uint64(hi), nil
}

// keepablePages returns the whole pages [lo, hi) of [vaddr, vaddr+size)
// and whether they are non-empty and lie wholly inside writable file
// regions of p (what ReuseKeeping can leave as they were).
func keepablePages(p *Plan, vaddr, size uint64) (lo, hi int64, ok bool) {
	end, fits := add(vaddr, size)
	if !fits || vaddr < p.MinVaddr || end > p.MaxVaddr {
		return 0, 0, false
	}
	start, stop := pageFloor(vaddr, p.PageSize), pageFloor(end, p.PageSize)
	if start >= stop {
		return 0, 0, false
	}
	lo, hi = int64(start), int64(stop)
	covered := lo
	for _, r := range p.Regions {
		if r.End <= covered || r.Start >= hi {
			continue
		}
		if r.Start > covered || r.Kind != RegionFile || r.Prot&unix.PROT_WRITE == 0 {
			return 0, 0, false
		}
		covered = r.End
	}
	return lo, hi, covered >= hi
}

// reuseLocked gives the parked image the protections of regs (the plan's
// regions, with [keepLo, keepHi) read-only when kept) and the writable
// regions their first contents, except [keepLo, keepHi).
func (im *Image) reuseLocked(pr *Pristine, regs []Region, keepLo, keepHi int64) error {
	// Each run of adjacent regions with one protection gets it in one
	// call, straight from PROT_NONE. A parked page is not present to the
	// MMU, so raising it flushes no TLB; raising a present page's rights
	// (R to R-X or RW-) makes the kernel flush the TLB of every CPU that
	// ran the process, the dominant cost of a reload (docs/FIRSTLOAD.md).
	// Nothing is ever writable and executable on the way.
	for i := 0; i < len(regs); {
		j := i + 1
		for j < len(regs) && regs[j].Kind != RegionGuard && regs[i].Kind != RegionGuard && regs[j].Prot == regs[i].Prot {
			j++
		}
		if regs[i].Kind != RegionGuard && regs[i].Prot != unix.PROT_NONE {
			if err := im.protectRegions(regs[i], regs[j-1], regs[i].Prot); err != nil {
				return err
			}
		}
		i = j
	}
	for i, r := range im.plan.Regions {
		if r.Prot&unix.PROT_WRITE == 0 {
			continue
		}
		off, n := im.regionOff(r)
		switch r.Kind {
		case RegionFile:
			dst, err := im.res.bytes(off, n)
			if err != nil {
				return err
			}
			src := pr.data[i]
			if keepLo < r.End && keepHi > r.Start { // keepablePages: then inside r or its neighbours
				a, b := max(keepLo, r.Start)-r.Start, min(keepHi, r.End)-r.Start
				copy(dst[:a], src[:a])
				copy(dst[b:], src[b:])
				continue
			}
			copy(dst, src)
		case RegionZero:
			if err := im.res.discard(off, n); err != nil {
				return err
			}
		}
	}
	return nil
}

// CopyAt copies the first contents of the image's bytes at vaddr into
// dst, for an image of the plan pr was read for. It reports false when
// [vaddr, vaddr+len(dst)) is not wholly inside writable file regions.
func (pr *Pristine) CopyAt(dst []byte, vaddr uint64) bool {
	end, ok := add(vaddr, uint64(len(dst)))
	if !ok || end > math.MaxInt64 {
		return false
	}
	at := int64(vaddr)
	for i, r := range pr.regions {
		if at >= int64(end) {
			break
		}
		if r.End <= at || pr.data[i] == nil {
			continue
		}
		if r.Start > at {
			return false
		}
		n := copy(dst[at-int64(vaddr):], pr.data[i][at-r.Start:])
		at += int64(n)
	}
	return at >= int64(end)
}

// protectRegions sets the protection of the regions from first to last
// (adjacent, in plan order).
func (im *Image) protectRegions(first, last Region, prot int) error {
	off, _ := im.regionOff(first)
	return im.res.protect(off, uintptr(last.End-first.Start), prot)
}

// keepApartLocked gives the pieces of the image that the kernel would
// otherwise merge once they are all PROT_NONE a distinguishing mapping
// flag, once, before the first Park: adjacent private mappings of one file
// at contiguous offsets (a read-only segment and the text after it, the
// RELRO part of the data segment and the rest of it) become one VMA when
// their protections match, and every Reuse would then split them again,
// which costs more than the mprotect calls themselves. Executable regions
// get MADV_DONTDUMP (text is in the file; core dumps need not copy it) and
// pieces whose protection Protect changed (RELRO) get MADV_NOHUGEPAGE (a
// few pages, never huge). Neither changes what the pages hold or allow.
func (im *Image) keepApartLocked() error {
	for _, r := range im.regions {
		if r.Kind == RegionGuard {
			continue
		}
		advice := -1
		if r.Prot&unix.PROT_EXEC != 0 {
			advice = madvDontDump
		} else if pr, ok := planRegionAt(im.plan, r.Start); ok && pr.Prot != r.Prot {
			advice = madvNoHugePage
		}
		if advice < 0 { // also where the advice does not exist
			continue
		}
		off, n := im.regionOff(r)
		if err := im.res.advise(off, n, advice); err != nil {
			return err
		}
	}
	return nil
}

// planRegionAt returns the plan's region holding rel.
func planRegionAt(p *Plan, rel int64) (Region, bool) {
	for _, r := range p.Regions {
		if rel >= r.Start && rel < r.End {
			return r, true
		}
	}
	return Region{}, false
}
