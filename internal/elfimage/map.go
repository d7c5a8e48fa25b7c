package elfimage

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// MapFile maps the image p describes from f, which must be the file the
// plan was made from, and returns it ready for relocation.
//
// It makes one PROT_NONE reservation for the whole span (guards included),
// then maps each RegionFile over it with MAP_PRIVATE|MAP_FIXED from its
// page-aligned file offset, so that clean pages stay shared with every
// process mapping the same file; it clears each ZeroFrom tail and maps each
// RegionZero as fresh anonymous pages. Guards and gaps stay reserved
// PROT_NONE. Regions get their final protection at mmap time whenever they
// can: only a read-only segment with a tail to clear is mapped writable
// first (never writable and executable) and then protected, so a typical
// object costs one fstat, one reservation and one mmap per region.
//
// The file must still hold every byte the plan maps (it is checked with
// fstat; a file truncated under a live mapping would make later reads
// fault). On any error the whole reservation is released: nothing stays
// mapped.
func MapFile(p *Plan, f *os.File) (*Image, error) {
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("elfmap: map: %w", err)
	}
	if f == nil {
		return nil, fmt.Errorf("elfmap: map: nil file")
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("elfmap: map %s: %w", f.Name(), err)
	}
	var im *Image
	var mapErr error
	// Control keeps the descriptor open (and its number valid) until the
	// callback returns, even if another goroutine closes f meanwhile.
	if err := rc.Control(func(fd uintptr) { im, mapErr = mapFD(p, int(fd)) }); err != nil {
		// Control fails only when the file is closed (internal/poll's
		// ErrFileClosing, which os does not wrap here).
		return nil, fmt.Errorf("elfmap: map %s: %w (%v)", f.Name(), os.ErrClosed, err)
	}
	if mapErr != nil {
		return nil, fmt.Errorf("elfmap: map %s: %w", f.Name(), mapErr)
	}
	return im, nil
}

// MapFD is MapFile for a raw file descriptor of a regular file whose size
// the caller has just read with fstat: it saves MapFile's own fstat and the
// os.File a caller would otherwise wrap the descriptor in (os.NewFile on a
// descriptor opened O_NONBLOCK registers it with the network poller, two
// more system calls). size is checked against the plan as in MapFile; the
// descriptor is neither closed nor kept.
func MapFD(p *Plan, fd int, size int64) (*Image, error) {
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("elfmap: map: %w", err)
	}
	if fd < 0 {
		return nil, fmt.Errorf("elfmap: map: bad file descriptor %d", fd)
	}
	im, err := mapFDSize(p, fd, size)
	if err != nil {
		return nil, fmt.Errorf("elfmap: map fd %d: %w", fd, err)
	}
	return im, nil
}

func mapFD(p *Plan, fd int) (*Image, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("fstat: %w", err)
	}
	return mapFDSize(p, fd, st.Size)
}

func mapFDSize(p *Plan, fd int, size int64) (*Image, error) {
	if err := fileFits(p, size); err != nil {
		return nil, err
	}
	im, err := newImage(p)
	if err != nil {
		return nil, err
	}
	for i, r := range p.Regions {
		if err := im.mapRegion(r, fd); err != nil {
			return nil, im.abort(fmt.Errorf("region %d (%v): %w", i, r, err))
		}
	}
	return im, nil
}

// mapRegion maps one region of a file-backed image.
func (im *Image) mapRegion(r Region, fd int) error {
	off, n := im.regionOff(r)
	switch r.Kind {
	case RegionFile:
		if r.ZeroFrom == r.End {
			return im.res.mapFile(off, n, r.Prot, fd, r.Offset)
		}
		// The tail of the last page must be cleared, which needs write
		// access. Writable segments have it already; a read-only one is
		// mapped writable (and never executable at the same time) and
		// then given its final protection.
		prot := r.Prot
		if prot&unix.PROT_WRITE == 0 {
			prot = (prot | unix.PROT_READ | unix.PROT_WRITE) &^ unix.PROT_EXEC
		}
		if err := im.res.mapFile(off, n, prot, fd, r.Offset); err != nil {
			return err
		}
		tail, err := im.res.bytes(off+uintptr(r.ZeroFrom-r.Start), uintptr(r.End-r.ZeroFrom))
		if err != nil {
			return err
		}
		clear(tail)
		if r.Prot&unix.PROT_EXEC != 0 {
			if err := im.res.syncCode(off+uintptr(r.ZeroFrom-r.Start), uintptr(r.End-r.ZeroFrom)); err != nil {
				return err
			}
		}
		if prot != r.Prot {
			return im.res.protect(off, n, r.Prot)
		}
		return nil
	case RegionZero:
		if r.Prot == unix.PROT_NONE {
			return nil // the reservation already is PROT_NONE zero pages
		}
		return im.res.mapAnon(off, n, r.Prot, 0)
	default:
		return nil // guards and gaps stay reserved
	}
}

// fileFits checks that a file of size bytes holds everything p maps from
// it: the bytes up to ZeroFrom of each file region, and at least one byte
// of its last page (a page wholly past the end of the file raises SIGBUS
// when touched).
func fileFits(p *Plan, size int64) error {
	if size < 0 {
		return fmt.Errorf("file size %d", size)
	}
	for i, r := range p.Regions {
		if r.Kind != RegionFile {
			continue
		}
		var need uint64 // bytes of the file the region needs
		if r.ZeroFrom < r.End {
			need = r.Offset + uint64(r.ZeroFrom-r.Start)
		} else {
			need = r.Offset + uint64(r.End-r.Start) - p.PageSize + 1
		}
		if need > uint64(size) {
			return fmt.Errorf("region %d maps file offsets [%#x,%#x) but the file has %#x bytes: %w",
				i, r.Offset, r.Offset+r.Size(), size, ErrMalformed)
		}
	}
	return nil
}

// MapBytes maps the image p describes from data, an ELF file held in
// memory (the bytes Parse read). Nothing is shared with a file: each run of
// adjacent segment regions with one protection gets fresh anonymous
// read-write pages, the file's bytes are copied in (up to ZeroFrom; the
// rest stays zero), and the run is then protected to its final protection
// when that is not read-write, an executable run after the instruction
// cache is made coherent with the copy (AArch64). The result has the same bytes and
// protections as MapFile's. On any error nothing stays mapped.
func MapBytes(p *Plan, data []byte) (*Image, error) {
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("elfmap: map bytes: %w", err)
	}
	if err := fileFits(p, int64(len(data))); err != nil {
		return nil, fmt.Errorf("elfmap: map bytes: %w", err)
	}
	im, err := newImage(p)
	if err != nil {
		return nil, fmt.Errorf("elfmap: map bytes: %w", err)
	}
	const rw = unix.PROT_READ | unix.PROT_WRITE
	regs := p.Regions
	for i := 0; i < len(regs); {
		if regs[i].Kind == RegionGuard {
			i++
			continue
		}
		// A run: regions i..j-1, adjacent, not guards, one protection.
		j := i + 1
		for j < len(regs) && regs[j].Kind != RegionGuard && regs[j].Prot == regs[i].Prot {
			j++
		}
		if err := im.copyRun(regs[i:j], data); err != nil {
			return nil, fmt.Errorf("elfmap: map bytes: %w", im.abort(err))
		}
		if prot := regs[i].Prot; prot != rw {
			off, _ := im.regionOff(regs[i])
			n := uintptr(regs[j-1].End - regs[i].Start)
			if prot&unix.PROT_EXEC != 0 {
				if err := im.res.syncCode(off, n); err != nil {
					return nil, fmt.Errorf("elfmap: map bytes: %w", im.abort(err))
				}
			}
			if err := im.res.protect(off, n, prot); err != nil {
				return nil, fmt.Errorf("elfmap: map bytes: %w", im.abort(err))
			}
		}
		i = j
	}
	return im, nil
}

// copyRun maps a run of adjacent regions read-write and copies their file
// bytes in.
func (im *Image) copyRun(run []Region, data []byte) error {
	off, _ := im.regionOff(run[0])
	n := uintptr(run[len(run)-1].End - run[0].Start)
	if err := im.res.mapAnon(off, n, unix.PROT_READ|unix.PROT_WRITE, 0); err != nil {
		return err
	}
	for _, r := range run {
		if r.Kind != RegionFile {
			continue
		}
		ro, _ := im.regionOff(r)
		want := uint64(r.ZeroFrom - r.Start) // bytes from the file
		if avail := uint64(len(data)) - r.Offset; want > avail {
			want = avail // the last page of the file, past its end
		}
		dst, err := im.res.bytes(ro, uintptr(want))
		if err != nil {
			return err
		}
		copy(dst, data[r.Offset:r.Offset+want])
	}
	return nil
}

// newImage reserves the address space of p.
func newImage(p *Plan) (*Image, error) {
	// The reservation starts at Start, so the base (vaddr 0) is a
	// multiple of Align when the reservation's address is congruent to
	// Start modulo Align (Start may be negative: two's complement).
	align := max(p.Align, p.PageSize)
	res, err := reserve(uintptr(p.Size), uintptr(align), uintptr(p.Start)&uintptr(align-1))
	if err != nil {
		return nil, err
	}
	// The image keeps its own copy of the plan: a caller changing the
	// plan afterwards must not change what the image believes it owns.
	pc := *p
	pc.Regions = append([]Region(nil), p.Regions...)
	im := &Image{plan: &pc, res: res, state: imageMapped}
	im.base = res.addr() - uintptr(p.Start) // base + Start = reservation; wraps as intended
	im.regions = append([]Region(nil), p.Regions...)
	return im, nil
}

// abort releases everything of a half-made image and returns err (joined
// with the release's failure, if any).
func (im *Image) abort(err error) error {
	if rerr := im.res.release(); rerr != nil {
		return errors.Join(err, rerr)
	}
	im.state = imageUnmapped
	return err
}

// regionOff returns r's offset from the start of the reservation and its
// size.
func (im *Image) regionOff(r Region) (off, n uintptr) {
	return uintptr(r.Start - im.plan.Start), uintptr(r.End - r.Start)
}
