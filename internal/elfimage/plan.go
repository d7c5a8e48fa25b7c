package elfimage

import (
	"debug/elf"
	"fmt"
	"sort"

	"golang.org/x/sys/unix"
)

// maxImageEnd bounds the end of an image (MaxVaddr): the x86-64 user
// address space is 47 bits, so nothing larger could ever be mapped. It also
// keeps every offset of a plan comfortably inside an int64.
const maxImageEnd = 1 << 47

// maxFileOffset bounds the file offsets a plan maps from: mmap takes a
// signed 64-bit offset, and no file is anywhere near this large.
const maxFileOffset = 1 << 62

// MaxGuard is the largest guard size PlanOptions accepts (per side).
// Guards are PROT_NONE, MAP_NORESERVE address space: they cost no memory,
// but a guard larger than this is a mistake, not a safety margin.
const MaxGuard = 1 << 36

// MaxLoadAlign is the largest PT_LOAD p_align a Plan honours (1 GiB, the
// largest huge page); an object asking for more is refused, as a guard
// beyond MaxGuard is: the reservation grows by the alignment.
const MaxLoadAlign = 1 << 30

// PlanOptions tunes NewPlan.
type PlanOptions struct {
	// GuardSize is the size of the PROT_NONE guard on each side of the
	// image, rounded up to whole pages; 0 means one page.
	GuardSize uint64
	// AllowWriteExec lets a segment be both writable and executable.
	// Such segments are refused by default.
	AllowWriteExec bool
}

// RegionKind says what backs a Region.
type RegionKind int

// The kinds of region in a Plan.
const (
	// RegionFile is mapped privately from the file (copy-on-write).
	RegionFile RegionKind = iota
	// RegionZero is anonymous zero-filled memory (.bss beyond the last
	// file-backed page).
	RegionZero
	// RegionGuard is reserved PROT_NONE memory: a guard before or after
	// the image, or a hole between two segments.
	RegionGuard
)

// String returns "file", "zero" or "guard".
func (k RegionKind) String() string {
	switch k {
	case RegionFile:
		return "file"
	case RegionZero:
		return "zero"
	case RegionGuard:
		return "guard"
	}
	return fmt.Sprintf("RegionKind(%d)", int(k))
}

// Region is one page-aligned piece of a Plan.
type Region struct {
	// Start and End bound the region relative to the load base
	// (address = base + Start). The guard before the image may start
	// below 0.
	Start, End int64
	// Offset is the file offset mapped at Start (RegionFile only).
	Offset uint64
	// Prot is the final protection: unix.PROT_* bits.
	Prot int
	// Kind says what backs the region.
	Kind RegionKind
	// Segment is the index into File.Loads of the segment the region
	// belongs to; -1 for guards and gaps.
	Segment int
	// ZeroFrom (RegionFile only): the bytes from ZeroFrom to End are
	// zeroed after mapping. It equals End when nothing is zeroed.
	ZeroFrom int64
	// Before (RegionGuard only) is true for the guard before the image
	// and false for the guard after it and for gaps between segments.
	Before bool
}

// Size returns End - Start.
func (r Region) Size() uint64 { return uint64(r.End - r.Start) }

// String formats r as "file [0x0,0x26000) r-- off=0x0 seg=0".
func (r Region) String() string {
	s := fmt.Sprintf("%s [%#x,%#x) %s", r.Kind, r.Start, r.End, ProtString(r.Prot))
	switch r.Kind {
	case RegionFile:
		s += fmt.Sprintf(" off=%#x seg=%d", r.Offset, r.Segment)
		if r.ZeroFrom < r.End {
			s += fmt.Sprintf(" zero-from=%#x", r.ZeroFrom)
		}
	case RegionZero:
		s += fmt.Sprintf(" seg=%d", r.Segment)
	case RegionGuard:
		if r.Before {
			s += " before"
		}
	}
	return s
}

// ProtString formats PROT_* bits like the permission column of
// /proc/self/maps without its last character: "r-x", "rw-", "---".
func ProtString(prot int) string {
	b := []byte("---")
	if prot&unix.PROT_READ != 0 {
		b[0] = 'r'
	}
	if prot&unix.PROT_WRITE != 0 {
		b[1] = 'w'
	}
	if prot&unix.PROT_EXEC != 0 {
		b[2] = 'x'
	}
	return string(b)
}

// Plan is the page layout of an image. It is pure data, computed from a
// *File by NewPlan without touching memory: which page ranges the image
// occupies, which of them come from the file (and from which offset), which
// are anonymous zero pages, which bytes of the last file-backed page must
// be cleared, and the PROT_NONE guard pages around the image. MapFile and
// MapBytes carry a Plan out; inspect prints one.
//
// Every offset is relative to the load base (address = base + offset):
//
//	Start = MinVaddr-Guard                                       Start+Size
//	| guard (Before) | seg 0 file | seg 0 zero | gap | seg 1 file | ... | guard |
//	                 ^ MinVaddr                                 MaxVaddr ^
//
// Each PT_LOAD segment i becomes:
//
//   - a RegionFile [pagedown(p_vaddr), pageup(p_vaddr+p_filesz)) mapped from
//     file offset pagedown(p_offset) (p_vaddr and p_offset are congruent
//     modulo the page size, so the bytes land where the headers say).
//     When p_memsz > p_filesz, the bytes from p_vaddr+p_filesz to the end of
//     that last page are not file content but the start of .bss: ZeroFrom
//     marks them and the mapper clears them. When p_memsz == p_filesz
//     nothing is cleared (ZeroFrom == End), exactly as ld.so leaves them.
//   - a RegionZero [pageup(p_vaddr+p_filesz), pageup(p_vaddr+p_memsz)) of
//     anonymous zero pages, when .bss reaches past the last file page.
//     A segment with p_filesz == 0 is only a RegionZero.
//
// Every region of a segment gets the segment's protection: PF_R, PF_W and
// PF_X become PROT_READ, PROT_WRITE and PROT_EXEC. A segment that is both
// writable and executable is refused unless PlanOptions.AllowWriteExec.
// A PT_LOAD with p_memsz == 0 occupies nothing and gets no region.
//
// Holes between segments stay reserved and inaccessible. The region set has
// only three kinds, so a hole is a RegionGuard with Segment -1 and
// Before false, lying inside [MinVaddr, MaxVaddr) (Plan.IsGap tells it from
// the guard after the image).
//
// Two segments whose page ranges meet in one page after rounding (possible
// only in hand-made objects: linkers start each segment on a new page) are
// refused with ErrUnsupported: one page cannot carry two protections or two
// file offsets, and merging them would silently widen a protection.
type Plan struct {
	// PageSize is the page size the plan was made for.
	PageSize uint64
	// Guard is the size of the guard on each side of the image.
	Guard uint64
	// Align is what the load base (the address of vaddr 0) is a multiple
	// of: the largest p_align of the PT_LOADs, at least PageSize, as the
	// kernel and glibc 2.35+ place objects. Objects linked for pages
	// larger than this machine's (AArch64's linkers align segments to
	// 64 KiB) or for huge pages keep the alignment their linker chose.
	// 0 in a hand-made Plan means PageSize.
	Align uint64
	// Start is the first byte of the reservation (MinVaddr - Guard).
	Start int64
	// Size is the length of the whole reservation, guards included.
	Size uint64
	// MinVaddr and MaxVaddr bound the image: the first segment's start
	// rounded down and the last segment's end rounded up to pages.
	MinVaddr, MaxVaddr uint64
	// Regions are ascending, non-overlapping and cover [Start, Start+Size)
	// exactly.
	Regions []Region
	// AllowWriteExec records PlanOptions.AllowWriteExec: only then may a
	// region (or Image.Protect) be writable and executable.
	AllowWriteExec bool
}

// NewPlan computes the mapping plan of f. It is pure (no system call but
// the cached PageSize) and deterministic. f's PT_LOAD headers (f.Loads)
// must be ascending by p_vaddr; the plan re-checks everything it relies on
// (congruence of p_vaddr and p_offset, p_filesz <= p_memsz, overflow, the
// address-space limit) so that a hand-built File cannot make it produce an
// inconsistent layout.
func NewPlan(f *File, opt PlanOptions) (*Plan, error) {
	return newPlan(f, opt, PageSize())
}

// newPlan is NewPlan for a given page size (tests use other sizes).
func newPlan(f *File, opt PlanOptions, ps uint64) (*Plan, error) {
	if f == nil {
		return nil, fmt.Errorf("elfmap: plan: nil File")
	}
	if ps == 0 || ps&(ps-1) != 0 {
		return nil, fmt.Errorf("elfmap: plan: page size %#x is not a power of two", ps)
	}
	guard := opt.GuardSize
	if guard == 0 {
		guard = ps
	}
	if guard > MaxGuard {
		return nil, fmt.Errorf("elfmap: plan: guard size %#x exceeds %#x: %w", guard, uint64(MaxGuard), ErrUnsupported)
	}
	guard, _ = pageCeil(guard, ps) // cannot overflow below MaxGuard

	p := &Plan{PageSize: ps, Guard: guard, Align: ps, AllowWriteExec: opt.AllowWriteExec}
	segs := make([]Region, 0, min(2*len(f.Loads), 16)) // file and zero regions, ascending
	var prevEnd, prevMemEnd uint64                     // end of the previous segment, page-rounded and exact
	havePrev := false
	for i, ld := range f.Loads {
		if ld.Type != elf.PT_LOAD {
			return nil, planError(f, i, "p_type", uint64(ld.Type), "is not PT_LOAD in File.Loads", ErrMalformed)
		}
		if ld.Memsz == 0 {
			continue
		}
		if ld.Filesz > ld.Memsz {
			return nil, planError(f, i, "p_filesz", ld.Filesz, fmt.Sprintf("exceeds p_memsz %#x", ld.Memsz), ErrMalformed)
		}
		if ld.Align&(ld.Align-1) != 0 {
			return nil, planError(f, i, "p_align", ld.Align, "is not a power of two", ErrMalformed)
		}
		if ld.Align > MaxLoadAlign {
			return nil, planError(f, i, "p_align", ld.Align, fmt.Sprintf("exceeds the largest alignment honoured (%#x)", uint64(MaxLoadAlign)), ErrUnsupported)
		}
		p.Align = max(p.Align, ld.Align)
		if ld.Vaddr%ps != ld.Off%ps {
			return nil, planError(f, i, "p_vaddr", ld.Vaddr,
				fmt.Sprintf("is not congruent to p_offset %#x modulo the page size %#x", ld.Off, ps), ErrMalformed)
		}
		memEnd := ld.Vaddr + ld.Memsz
		if memEnd < ld.Vaddr {
			return nil, planError(f, i, "p_memsz", ld.Memsz, fmt.Sprintf("overflows p_vaddr %#x", ld.Vaddr), ErrMalformed)
		}
		if memEnd > maxImageEnd {
			return nil, planError(f, i, "p_memsz", ld.Memsz,
				fmt.Sprintf("ends the segment at %#x, beyond the address space (%#x)", memEnd, uint64(maxImageEnd)), ErrUnsupported)
		}
		if ld.Filesz > 0 && ld.Off+ld.Filesz < ld.Off {
			return nil, planError(f, i, "p_filesz", ld.Filesz, fmt.Sprintf("overflows p_offset %#x", ld.Off), ErrMalformed)
		}
		if ld.Filesz > 0 && ld.Off+ld.Filesz > maxFileOffset {
			return nil, planError(f, i, "p_offset", ld.Off, fmt.Sprintf("with p_filesz %#x lies beyond any file (%#x)", ld.Filesz, uint64(maxFileOffset)), ErrMalformed)
		}
		prot := progProt(ld.Flags)
		if prot&unix.PROT_WRITE != 0 && prot&unix.PROT_EXEC != 0 && !opt.AllowWriteExec {
			return nil, planError(f, i, "p_flags", uint64(ld.Flags), "segment is both writable and executable", ErrUnsupported)
		}

		start := pageFloor(ld.Vaddr, ps)
		fileEnd := ld.Vaddr + ld.Filesz // <= memEnd, no overflow
		mapEnd, _ := pageCeil(fileEnd, ps)
		end, _ := pageCeil(memEnd, ps) // memEnd <= 1<<47
		if havePrev && ld.Vaddr < prevMemEnd {
			return nil, planError(f, i, "p_vaddr", ld.Vaddr,
				fmt.Sprintf("is below the end %#x of the previous segment (segments must be ascending and disjoint)", prevMemEnd), ErrMalformed)
		}
		if havePrev && start < prevEnd {
			return nil, planError(f, i, "p_vaddr", ld.Vaddr,
				fmt.Sprintf("shares page %#x with the previous segment, which ends at %#x (page size %#x); a page has one protection and one file offset",
					start, prevMemEnd, ps), ErrUnsupported)
		}
		if ld.Filesz > 0 {
			zeroFrom := int64(mapEnd)
			if ld.Memsz > ld.Filesz {
				zeroFrom = int64(fileEnd)
			}
			segs = append(segs, Region{
				Start: int64(start), End: int64(mapEnd),
				Offset: pageFloor(ld.Off, ps), Prot: prot, Kind: RegionFile,
				Segment: i, ZeroFrom: zeroFrom,
			})
		} else {
			mapEnd = start
		}
		if end > mapEnd {
			segs = append(segs, Region{
				Start: int64(mapEnd), End: int64(end),
				Prot: prot, Kind: RegionZero, Segment: i, ZeroFrom: int64(end),
			})
		}
		prevEnd, prevMemEnd, havePrev = end, memEnd, true
	}
	if len(segs) == 0 {
		return nil, &FormatError{Off: -1, Field: "PT_LOAD", Value: uint64(len(f.Loads)), Msg: "no loadable segment with a non-zero p_memsz", Err: ErrMalformed}
	}

	p.MinVaddr = uint64(segs[0].Start)
	p.MaxVaddr = uint64(segs[len(segs)-1].End)
	p.Start = int64(p.MinVaddr) - int64(guard)
	p.Size = p.MaxVaddr - p.MinVaddr + 2*guard

	p.Regions = make([]Region, 0, 2*len(segs)+1) // guards, and at most one gap per segment
	p.Regions = append(p.Regions, Region{Start: p.Start, End: int64(p.MinVaddr), Kind: RegionGuard, Segment: -1, Before: true})
	for i, r := range segs {
		if i > 0 && segs[i-1].End < r.Start {
			p.Regions = append(p.Regions, Region{Start: segs[i-1].End, End: r.Start, Kind: RegionGuard, Segment: -1})
		}
		p.Regions = append(p.Regions, r)
	}
	p.Regions = append(p.Regions, Region{Start: int64(p.MaxVaddr), End: int64(p.MaxVaddr + guard), Kind: RegionGuard, Segment: -1})
	for i := range p.Regions {
		if p.Regions[i].Kind == RegionGuard {
			p.Regions[i].ZeroFrom = p.Regions[i].End
		}
	}
	return p, nil
}

// progProt converts p_flags to PROT_* bits.
func progProt(fl elf.ProgFlag) int {
	prot := 0
	if fl&elf.PF_R != 0 {
		prot |= unix.PROT_READ
	}
	if fl&elf.PF_W != 0 {
		prot |= unix.PROT_WRITE
	}
	if fl&elf.PF_X != 0 {
		prot |= unix.PROT_EXEC
	}
	return prot
}

// planError builds the FormatError for field of f.Loads[i], naming it by
// its index among all program headers ("phdr[3].p_flags").
func planError(f *File, i int, field string, value uint64, msg string, sentinel error) error {
	return &FormatError{
		Off:   -1,
		Field: fmt.Sprintf("phdr[%d].%s", phdrIndex(f, i), field),
		Value: value,
		Msg:   msg,
		Err:   sentinel,
	}
}

// phdrIndex returns the index in f.Progs of the program header that is
// f.Loads[i], or i when f.Progs does not hold it (a hand-built File).
func phdrIndex(f *File, i int) int {
	for j := range f.Progs {
		if f.Progs[j] == f.Loads[i] {
			return j
		}
	}
	return i
}

// Lookup returns the region that contains off (relative to the load base).
func (p *Plan) Lookup(off int64) (Region, bool) {
	i := sort.Search(len(p.Regions), func(i int) bool { return p.Regions[i].End > off })
	if i < len(p.Regions) && p.Regions[i].Start <= off {
		return p.Regions[i], true
	}
	return Region{}, false
}

// IsGap reports whether r is a hole between two segments: a RegionGuard
// inside [MinVaddr, MaxVaddr).
func (p *Plan) IsGap(r Region) bool {
	return r.Kind == RegionGuard && r.Start >= int64(p.MinVaddr) && r.End <= int64(p.MaxVaddr)
}

// check verifies the invariants MapFile and MapBytes rely on, so that a
// hand-made or altered Plan can never make them map outside the
// reservation, at an unaligned offset, or writable and executable.
func (p *Plan) check() error {
	if p == nil {
		return fmt.Errorf("nil plan")
	}
	ps := p.PageSize
	if ps != PageSize() {
		return fmt.Errorf("plan made for page size %#x, system page size is %#x", ps, PageSize())
	}
	if p.Align != 0 && (p.Align < ps || p.Align&(p.Align-1) != 0 || p.Align > MaxLoadAlign) {
		return fmt.Errorf("plan alignment %#x is not a power of two between the page size %#x and %#x", p.Align, ps, uint64(MaxLoadAlign))
	}
	if p.Guard%ps != 0 || p.MinVaddr%ps != 0 || p.MaxVaddr%ps != 0 || p.Start%int64(ps) != 0 || p.Size%ps != 0 ||
		p.MinVaddr >= p.MaxVaddr || p.MaxVaddr > maxImageEnd || p.Guard > MaxGuard ||
		p.Start != int64(p.MinVaddr)-int64(p.Guard) || p.Size != p.MaxVaddr-p.MinVaddr+2*p.Guard {
		return fmt.Errorf("plan bounds are inconsistent (start %#x size %#x guard %#x image [%#x,%#x))",
			p.Start, p.Size, p.Guard, p.MinVaddr, p.MaxVaddr)
	}
	at := p.Start
	for i, r := range p.Regions {
		if r.Start != at || r.End <= r.Start || r.Start%int64(ps) != 0 || r.End%int64(ps) != 0 {
			return fmt.Errorf("region %d [%#x,%#x) does not continue the layout at %#x in whole pages", i, r.Start, r.End, at)
		}
		if r.Prot&^(unix.PROT_READ|unix.PROT_WRITE|unix.PROT_EXEC) != 0 {
			return fmt.Errorf("region %d: protection %#x has unknown bits", i, r.Prot)
		}
		if r.Prot&unix.PROT_WRITE != 0 && r.Prot&unix.PROT_EXEC != 0 && !p.AllowWriteExec {
			return fmt.Errorf("region %d: writable and executable: %w", i, ErrUnsupported)
		}
		inImage := r.Start >= int64(p.MinVaddr) && r.End <= int64(p.MaxVaddr)
		switch r.Kind {
		case RegionFile:
			if !inImage || r.Offset%ps != 0 || r.Offset > maxFileOffset-r.Size() || r.ZeroFrom > r.End || r.ZeroFrom <= r.End-int64(ps) {
				return fmt.Errorf("file region %d [%#x,%#x) offset %#x zero-from %#x is inconsistent", i, r.Start, r.End, r.Offset, r.ZeroFrom)
			}
		case RegionZero:
			if !inImage {
				return fmt.Errorf("zero region %d [%#x,%#x) lies outside the image", i, r.Start, r.End)
			}
		case RegionGuard:
			if r.Prot != 0 {
				return fmt.Errorf("guard region %d is not PROT_NONE", i)
			}
		default:
			return fmt.Errorf("region %d has unknown kind %d", i, int(r.Kind))
		}
		at = r.End
	}
	if at != p.Start+int64(p.Size) {
		return fmt.Errorf("regions end at %#x, the reservation at %#x", at, p.Start+int64(p.Size))
	}
	return nil
}
