package elfimage

// This file is the only one in elfimage that imports unsafe; the
// reservation type below says why and what keeps it right.

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// reservation is one PROT_NONE anonymous mapping covering an image and its
// guards, and the owner of every mapping placed over it.
//
// Why it must be unsafe: an image lives at addresses the kernel chooses
// (one mmap reservation), outside the Go heap, and is then remapped piece
// by piece with MAP_FIXED. Placing mappings at given addresses, changing
// their protection and handing the loader a []byte over them all need raw
// pointers; unix.Mmap's slice API cannot place a mapping inside another,
// and mixing it with raw addresses would let two owners unmap the same
// pages.
//
// The invariant that keeps it right: a reservation owns exactly
// [p, p+size) from the successful reserve until release; every operation
// below takes an offset and a length, and checks that off+n stays inside
// [0, size) before forming a pointer, so no code path can map, protect,
// clear or expose memory outside the reservation. Once released, p is nil
// and every operation fails. The Go garbage collector never scans or moves
// this memory: it is not part of the Go heap. The one pointer that
// escapes is the slice bytes returns (Image.Mem, and the tail cleared while
// mapping); it is valid only while those pages are mapped, which Image
// documents and its state machine enforces for Mem.
type reservation struct {
	p    unsafe.Pointer
	size uintptr
}

// sysHook, when set (by tests only), is called before every system call
// that maps, protects or reserves memory, with the call's name, range
// (addr 0 for "reserve") and protection, once after the reservation is
// made ("reserved", with its address) and once after it is released
// ("released"); an error it returns is treated as that step's failure
// (except for "released"). It lets tests count the calls, fail the n-th
// step of a mapping, look at /proc/self/maps at the very moment a range is
// released (before the Go runtime may map something else there) and check
// that no page is ever writable and executable.
var sysHook func(op string, addr, n uintptr, prot int) error

func callSysHook(op string, addr unsafe.Pointer, n uintptr, prot int) error {
	if sysHook != nil {
		return sysHook(op, uintptr(addr), n, prot)
	}
	return nil
}

// reserveFlags make the reservation: private, anonymous, and not charged
// against the commit limit (it is PROT_NONE address space, not memory).
const reserveFlags = unix.MAP_PRIVATE | unix.MAP_ANONYMOUS | unix.MAP_NORESERVE

// reserve maps size bytes of PROT_NONE address space wherever the kernel
// chooses, at an address congruent to skew modulo align (a power of two,
// at least the page size; skew a multiple of the page size below it). For
// an alignment above the page size it reserves align-page bytes more and
// unmaps what lies before and after the aligned range, as glibc's
// _dl_map_segment does.
func reserve(size, align, skew uintptr) (reservation, error) {
	if err := callSysHook("reserve", nil, size, unix.PROT_NONE); err != nil {
		return reservation{}, err
	}
	ps := uintptr(PageSize())
	extra := uintptr(0)
	if align > ps {
		extra = align - ps
	}
	if size+extra < size {
		return reservation{}, fmt.Errorf("reserve %#x bytes aligned to %#x: %w", size, align, unix.ENOMEM)
	}
	p, err := unix.MmapPtr(-1, 0, nil, size+extra, unix.PROT_NONE, reserveFlags)
	if err != nil {
		return reservation{}, fmt.Errorf("reserve %#x bytes: %w", size+extra, err)
	}
	head := (skew - uintptr(p)) & (align - 1) // < align, a multiple of the page size
	if head > 0 {
		if err := unix.MunmapPtr(p, head); err != nil {
			return reservation{}, errors.Join(fmt.Errorf("trim the reservation to its alignment: %w", err), unix.MunmapPtr(p, size+extra))
		}
	}
	if tail := extra - head; tail > 0 {
		if err := unix.MunmapPtr(unsafe.Add(p, head+size), tail); err != nil {
			return reservation{}, errors.Join(fmt.Errorf("trim the reservation to its alignment: %w", err), unix.MunmapPtr(unsafe.Add(p, head), size+tail))
		}
	}
	r := reservation{p: unsafe.Add(p, head), size: size}
	if err := callSysHook("reserved", r.p, size, unix.PROT_NONE); err != nil {
		return reservation{}, errors.Join(err, r.release())
	}
	return r, nil
}

// addr returns the address of the first byte (0 once released).
func (r *reservation) addr() uintptr { return uintptr(r.p) }

// at returns a pointer to [off, off+n), which must lie in the reservation.
func (r *reservation) at(off, n uintptr) (unsafe.Pointer, error) {
	if r.p == nil {
		return nil, fmt.Errorf("reservation released")
	}
	if n == 0 || off >= r.size || n > r.size-off {
		return nil, fmt.Errorf("range [%#x,+%#x) outside the reservation of %#x bytes", off, n, r.size)
	}
	return unsafe.Add(r.p, off), nil
}

// mapFile maps n bytes of fd from file offset foff at off with MAP_FIXED.
func (r *reservation) mapFile(off, n uintptr, prot, fd int, foff uint64) error {
	p, err := r.at(off, n)
	if err != nil {
		return err
	}
	if err := callSysHook("mmap-file", p, n, prot); err != nil {
		return err
	}
	got, err := unix.MmapPtr(fd, int64(foff), p, n, prot, unix.MAP_PRIVATE|unix.MAP_FIXED)
	if err != nil {
		return fmt.Errorf("mmap file offset %#x (%#x bytes): %w", foff, n, err)
	}
	if got != p {
		return fmt.Errorf("mmap file offset %#x: kernel placed it at %#x, not %#x", foff, uintptr(got), uintptr(p))
	}
	return nil
}

// mapAnon maps n bytes of fresh zero pages at off with MAP_FIXED.
func (r *reservation) mapAnon(off, n uintptr, prot, extraFlags int) error {
	p, err := r.at(off, n)
	if err != nil {
		return err
	}
	if err := callSysHook("mmap-anon", p, n, prot); err != nil {
		return err
	}
	got, err := unix.MmapPtr(-1, 0, p, n, prot, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED|extraFlags)
	if err != nil {
		return fmt.Errorf("mmap %#x anonymous bytes: %w", n, err)
	}
	if got != p {
		return fmt.Errorf("mmap anonymous: kernel placed it at %#x, not %#x", uintptr(got), uintptr(p))
	}
	return nil
}

// protect changes the protection of [off, off+n).
func (r *reservation) protect(off, n uintptr, prot int) error {
	p, err := r.at(off, n)
	if err != nil {
		return err
	}
	if err := callSysHook("mprotect", p, n, prot); err != nil {
		return err
	}
	// unix.Mprotect wants a []byte; the raw call takes the address.
	if _, _, errno := unix.Syscall(unix.SYS_MPROTECT, uintptr(p), n, uintptr(prot)); errno != 0 {
		return fmt.Errorf("mprotect %#x bytes to %s: %w", n, ProtString(prot), errno)
	}
	return nil
}

// syncCode makes the instruction cache coherent with what was written to
// [off, off+n), which must be readable, before it becomes executable
// (syncICache; nothing to do on x86-64).
func (r *reservation) syncCode(off, n uintptr) error {
	if n == 0 {
		return nil
	}
	p, err := r.at(off, n)
	if err != nil {
		return err
	}
	syncICache(uintptr(p), n)
	return nil
}

// discard drops the pages of [off, off+n) (madvise MADV_DONTNEED): private
// anonymous pages read as zeros again, private file pages as the file.
func (r *reservation) discard(off, n uintptr) error {
	return r.advise(off, n, unix.MADV_DONTNEED)
}

// advise applies madvise advice to [off, off+n).
func (r *reservation) advise(off, n uintptr, advice int) error {
	p, err := r.at(off, n)
	if err != nil {
		return err
	}
	if err := callSysHook("madvise", p, n, -1); err != nil {
		return err
	}
	if _, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(p), n, uintptr(advice)); errno != 0 {
		return fmt.Errorf("madvise(%d) %#x bytes: %w", advice, n, errno)
	}
	return nil
}

// bytes returns [off, off+n) as a slice. The caller must only touch it
// while those pages are mapped with the access it makes.
func (r *reservation) bytes(off, n uintptr) ([]byte, error) {
	p, err := r.at(off, n)
	if err != nil {
		return nil, err
	}
	return unsafe.Slice((*byte)(p), n), nil
}

// tombstone replaces everything in the reservation by fresh PROT_NONE
// reserved pages in one call, dropping file pages and data while keeping
// the address range.
func (r *reservation) tombstone() error {
	p, err := r.at(0, r.size)
	if err != nil {
		return err
	}
	if err := callSysHook("tombstone", p, r.size, unix.PROT_NONE); err != nil {
		return err
	}
	got, err := unix.MmapPtr(-1, 0, p, r.size, unix.PROT_NONE, reserveFlags|unix.MAP_FIXED)
	if err != nil {
		return fmt.Errorf("mmap PROT_NONE over %#x bytes: %w", r.size, err)
	}
	if got != p {
		return fmt.Errorf("mmap PROT_NONE: kernel placed it at %#x, not %#x", uintptr(got), uintptr(p))
	}
	return nil
}

// release unmaps the whole reservation; it does nothing once released.
func (r *reservation) release() error {
	if r.p == nil {
		return nil
	}
	if err := unix.MunmapPtr(r.p, r.size); err != nil {
		return fmt.Errorf("munmap %#x bytes: %w", r.size, err)
	}
	p := r.p
	r.p = nil
	callSysHook("released", p, r.size, unix.PROT_NONE) // a notification: nothing to fail
	return nil
}
