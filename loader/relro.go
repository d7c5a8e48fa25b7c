package loader

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// Keeping a sealed PT_GNU_RELRO across a reuse.
//
// Sealing RELRO (PROT_READ over pages that were written) makes the kernel
// flush the TLB of every CPU that ran the process, and so does parking an
// image: a reload that relocated and sealed RELRO again paid two flushes.
// But a parked image reused at the same address usually needs the same
// RELRO bytes it had: they depend only on the file, the base and what its
// relocations resolved to. So reuseTomb leaves the pages of a sealed RELRO
// read-only with what they held (elfimage.Image.ReuseKeeping), the
// relocation pass writes what falls in them to a scratch copy of their
// first contents instead (relocEnv.keep), and the seal compares the two:
// equal, nothing is left to do; different (a dependency moved, a TLS
// offset changed, or plugin code wrote there while it was loaded), the
// pages are made writable, given the scratch bytes and sealed again, as a
// first load would. Either way the object ends with exactly the RELRO a
// fresh relocation gives.
//
// Two things read RELRO before the seal and must see the new values, so
// an object with either does not keep its RELRO: an IFUNC resolver, which
// runs during relocation and may read its GOT, and a PT_TLS segment,
// whose template (.tdata, inside RELRO where the linker puts it) linkTLS
// copies into every thread's static TLS before the seal.

// mayKeepRELRO reports whether a later reuse of o's image may keep the
// RELRO this link seals: no IFUNC resolver ran and o has no PT_TLS.
func (o *object) mayKeepRELRO(ranResolvers bool) bool {
	return !ranResolvers && o.p.file.TLS == nil
}

// keptRELRO is a reused image's RELRO pages, left sealed with what the
// image's previous life left there, until sealRelocated checks them.
type keptRELRO struct {
	lo, hi uint64 // the kept pages, image addresses; empty when none
	// scratch is their first contents, relocated in this pass; its room
	// is kept from one life of the image to the next.
	scratch []byte
}

// active reports whether pages are kept.
func (k *keptRELRO) active() bool { return k.hi > k.lo }

// keepRELRO records that o's image kept the pages [lo, hi) sealed and
// fills the scratch copy with their first contents, which relocation will
// write to. It reports false when the pristine copy does not cover them.
func (o *object) keepRELRO(lo, hi uint64) bool {
	k := &o.relro
	n := int(hi - lo)
	if cap(k.scratch) < n {
		k.scratch = make([]byte, n)
	}
	k.scratch = k.scratch[:n]
	if !o.p.pristine.CopyAt(k.scratch, lo) {
		return false
	}
	k.lo, k.hi = lo, hi
	return true
}

// settleRELRO makes the kept pages hold what this pass computed. l.mu is
// held.
func (o *object) settleRELRO() error {
	k := &o.relro
	defer func() { k.lo, k.hi = 0, 0 }()
	at := k.lo - o.p.plan.MinVaddr
	live := o.mem[at : at+uint64(len(k.scratch))]
	if bytes.Equal(live, k.scratch) {
		o.l.relroKept++
		return nil
	}
	o.l.relroRewritten++
	if err := o.img.Protect(k.lo, k.hi-k.lo, unix.PROT_READ|unix.PROT_WRITE); err != nil {
		return fmt.Errorf("relro: %w", err)
	}
	copy(live, k.scratch)
	if err := o.img.Protect(k.lo, k.hi-k.lo, unix.PROT_READ); err != nil {
		return fmt.Errorf("relro: %w", err)
	}
	return nil
}

// byteAt returns the byte at index at of the image as relocation sees it:
// in the scratch copy for a place inside kept RELRO pages, else in the
// image (which is read-only there).
func (e *relocEnv) byteAt(at int) *byte {
	if i := at - e.keepFrom; i >= 0 && i < len(e.keep) {
		return &e.keep[i]
	}
	return &e.mem[at]
}

// put writes the n low bytes of v, little-endian, at index at of the
// image (see byteAt).
func (e *relocEnv) put(at, n int, v uint64) {
	if e.keep == nil {
		if n == 4 {
			binary.LittleEndian.PutUint32(e.mem[at:], uint32(v))
		} else {
			binary.LittleEndian.PutUint64(e.mem[at:], v)
		}
		return
	}
	_ = e.mem[at+n-1] // the image's bounds, as without kept pages
	for k := 0; k < n; k++ {
		*e.byteAt(at + k) = byte(v >> (8 * k))
	}
}

// get64 reads the 8 bytes at index at of the image (see byteAt).
func (e *relocEnv) get64(at int) uint64 {
	if e.keep == nil {
		return binary.LittleEndian.Uint64(e.mem[at:])
	}
	_ = e.mem[at+7]
	var v uint64
	for k := 0; k < 8; k++ {
		v |= uint64(*e.byteAt(at + k)) << (8 * k)
	}
	return v
}
