package elfimage

import "strconv"

// The two hash tables of the dynamic symbol table. Their formats:
//
//   - DT_HASH: System V ABI, "Hash Table" (gABI, chapter 5): nbucket,
//     nchain, bucket[nbucket], chain[nchain]; nchain equals the number of
//     symbols.
//   - DT_GNU_HASH: no formal specification; the format is the one GNU
//     binutils emits (bfd/elflink.c), described in Ali Bahrami, "GNU Hash
//     ELF Sections" (Oracle Solaris blog, 2011): nbuckets, symoffset,
//     bloom_size, bloom_shift, bloom[bloom_size] (ELFCLASS words),
//     buckets[nbuckets], then one 32-bit hash per symbol from symoffset on
//     whose low bit marks the last symbol of a bucket's chain. The table
//     does not state the symbol count: it is one past the end of the
//     chain of the highest non-empty bucket.
//
// Parse checks the header and extent of each table; a lookup then reads
// the words where they lie (hashView), bounding every index it reads.

// GNUHashOf returns the DT_GNU_HASH hash of name (Bernstein's h*33 + c,
// from 5381, on the bytes of name).
func GNUHashOf(name string) uint32 {
	h := uint32(5381)
	for i := 0; i < len(name); i++ {
		h = h*33 + uint32(name[i])
	}
	return h
}

// SysVHashOf returns the DT_HASH hash of name (the System V ABI's elf_hash).
func SysVHashOf(name string) uint32 {
	var h uint32
	for i := 0; i < len(name); i++ {
		h = h<<4 + uint32(name[i])
		g := h & 0xf0000000
		h ^= g >> 24
		h &^= g
	}
	return h
}

// sysvHash checks the DT_HASH table; its nchain is the number of symbols.
// Parse reads the table and checks every bucket and chain entry (raw is
// the copy); ParseInPlace checks only where it lies, and a lookup bounds
// each entry when it reads it.
func (p *parser) sysvHash(ds *dynState) (h *SysVHash, raw []byte, err error) {
	vaddr := ds.val(tHash)
	hdr, off, ok, err := p.at(vaddr, 8)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, ds.errSlot(tHash, "the table header is not inside the file bytes of a PT_LOAD")
	}
	nbucket, nchain := le.Uint32(hdr), le.Uint32(hdr[4:])
	if nbucket == 0 {
		return nil, nil, malformed(int64(off), "DT_HASH.nbucket", 0, "a hash table needs at least one bucket")
	}
	if nchain == 0 || nchain > MaxSymbols {
		return nil, nil, malformed(int64(off)+4, "DT_HASH.nchain", uint64(nchain), "the symbol count is not in [1, %d]", MaxSymbols)
	}
	size := 8 + 4*(uint64(nbucket)+uint64(nchain)) // < 2^35: no overflow
	if _, ok := p.f.VaddrToOffset(vaddr, size); !ok {
		return nil, nil, malformed(int64(off)+4, "DT_HASH.nchain", uint64(nchain),
			"the table (%d buckets, %d chain entries) runs past the file bytes of its PT_LOAD", nbucket, nchain)
	}
	h = &p.blk.sysv
	*h = SysVHash{NBucket: nbucket, NChain: nchain, Tab: Table{Vaddr: vaddr, Off: off, Size: size}}
	if p.inPlace {
		return h, nil, nil
	}
	if raw, err = p.readAt("DT_HASH", off, size); err != nil {
		return nil, nil, err
	}
	for i := 8; i < len(raw); i += 4 {
		if v := le.Uint32(raw[i:]); v >= nchain {
			field := "DT_HASH.chain[" + strconv.Itoa((i-8)/4-int(nbucket)) + "]"
			if i < 8+4*int(nbucket) {
				field = "DT_HASH.buckets[" + strconv.Itoa((i-8)/4) + "]"
			}
			return nil, nil, malformed(int64(off)+int64(i), field, uint64(v), "symbol index is not below nchain %d", nchain)
		}
	}
	return h, raw, nil
}

// gnuHash checks the DT_GNU_HASH table and returns it with the number of
// symbols it implies. When limit is not 0 (DT_HASH gave the count) the
// table must not reach beyond it. Parse reads the whole table (raw);
// ParseInPlace reads nothing when limit is known, and otherwise only the
// buckets and the highest bucket's chain, which it needs to find the
// symbol count.
func (p *parser) gnuHash(ds *dynState, limit uint64) (g *GNUHash, nsyms uint64, raw []byte, err error) {
	vaddr := ds.val(tGNUHash)
	hdr, off, ok, err := p.at(vaddr, 16)
	if err != nil {
		return nil, 0, nil, err
	}
	if !ok {
		return nil, 0, nil, ds.errSlot(tGNUHash, "the table header is not inside the file bytes of a PT_LOAD")
	}
	ho := int64(off)
	g = &p.blk.gnu
	*g = GNUHash{SymOffset: le.Uint32(hdr[4:]), BloomShift: le.Uint32(hdr[12:]), NBloom: le.Uint32(hdr[8:]), NBuckets: le.Uint32(hdr)}
	symoff := g.SymOffset
	switch {
	case g.NBuckets == 0:
		return nil, 0, nil, malformed(ho, "DT_GNU_HASH.nbuckets", 0, "a hash table needs at least one bucket")
	case symoff == 0:
		return nil, 0, nil, malformed(ho+4, "DT_GNU_HASH.symoffset", 0, "would hash the null symbol")
	case g.NBloom == 0 || g.NBloom&(g.NBloom-1) != 0:
		return nil, 0, nil, malformed(ho+8, "DT_GNU_HASH.bloom_size", uint64(g.NBloom), "is not a power of two")
	case g.BloomShift >= 64:
		return nil, 0, nil, malformed(ho+12, "DT_GNU_HASH.bloom_shift", uint64(g.BloomShift), "is not below 64")
	case uint64(symoff) > MaxSymbols || (limit != 0 && uint64(symoff) > limit):
		return nil, 0, nil, malformed(ho+4, "DT_GNU_HASH.symoffset", uint64(symoff), "is beyond the symbol count")
	}
	fixed := 16 + 8*uint64(g.NBloom) + 4*uint64(g.NBuckets) // < 2^36: no overflow
	if _, ok := p.f.VaddrToOffset(vaddr, fixed); !ok {
		return nil, 0, nil, malformed(ho, "DT_GNU_HASH.nbuckets", uint64(g.NBuckets),
			"the Bloom filter (%d words) and buckets run past the file bytes of their PT_LOAD", g.NBloom)
	}
	chainVaddr := vaddr + fixed
	if p.inPlace && limit != 0 {
		// The chain covers the symbols from symoffset to the count, as
		// far as the segment's file bytes go; a lookup bounds the rest.
		n := limit - uint64(symoff)
		if i, ok := p.f.SegmentAt(chainVaddr); ok {
			ld := &p.f.Loads[i]
			n = min(n, (ld.Vaddr+ld.Filesz-chainVaddr)/4)
		} else {
			n = 0
		}
		g.NChain = uint32(n)
		g.Tab = Table{Vaddr: vaddr, Off: off, Size: fixed + 4*n}
		return g, limit, nil, nil
	}
	top, err := p.gnuTopBucket(g, chainVaddr-4*uint64(g.NBuckets), off+fixed-4*uint64(g.NBuckets), limit)
	if err != nil {
		return nil, 0, nil, err
	}
	nsyms = uint64(symoff)
	if top != 0 {
		// Walk the highest bucket's chain to its end marker: that is the
		// last symbol.
		for i := uint64(top); ; i++ {
			if i >= MaxSymbols || (limit != 0 && i >= limit) {
				return nil, 0, nil, malformed(-1, "DT_GNU_HASH.chain", i,
					"the chain of bucket start %d has no end marker below the symbol count", top)
			}
			b, _, ok, err := p.at(chainVaddr+4*(i-uint64(symoff)), 4)
			if err != nil {
				return nil, 0, nil, err
			}
			if !ok {
				return nil, 0, nil, malformed(-1, "DT_GNU_HASH.chain", i,
					"the chain of bucket start %d runs past the file bytes of its PT_LOAD", top)
			}
			if le.Uint32(b)&1 != 0 {
				nsyms = i + 1
				break
			}
		}
	}
	g.NChain = uint32(nsyms - uint64(symoff))
	g.Tab = Table{Vaddr: vaddr, Off: off, Size: fixed + 4*uint64(g.NChain)}
	if !p.inPlace {
		if raw, err = p.readAt("DT_GNU_HASH", off, g.Tab.Size); err != nil {
			return nil, 0, nil, err
		}
	}
	return g, nsyms, raw, nil
}

// gnuTopBucket checks every bucket of g (at image address vaddr, file
// offset off), reading them through the parser's window, and returns the
// highest (0 when every bucket is empty).
func (p *parser) gnuTopBucket(g *GNUHash, vaddr, off, limit uint64) (uint32, error) {
	var top uint32
	const chunk = windowSize / 4
	for start := uint32(0); start < g.NBuckets; start += chunk {
		n := min(g.NBuckets-start, chunk)
		b, _, ok, err := p.at(vaddr+4*uint64(start), 4*uint64(n))
		if err != nil {
			return 0, err
		}
		if !ok { // gnuHash checked the extent
			return 0, malformed(int64(off), "DT_GNU_HASH.buckets", uint64(start), "not inside the file bytes of a PT_LOAD")
		}
		for j := range n {
			v := le.Uint32(b[4*j:])
			if v == 0 {
				continue
			}
			if v < g.SymOffset || uint64(v) >= MaxSymbols || (limit != 0 && uint64(v) >= limit) {
				i := start + j
				return 0, malformed(int64(off)+4*int64(i), "DT_GNU_HASH.buckets["+strconv.Itoa(int(i))+"]", uint64(v),
					"symbol index is not in [symoffset %d, symbol count)", g.SymOffset)
			}
			top = max(top, v)
		}
	}
	return top, nil
}

// hashView is the hash table a lookup walks (GNU when the object has one,
// else System V), read where its words lie: in a mapped image, or in
// Parse's copy of the file's bytes. Every index is bounded when it is
// read, so a table Parse did not check word by word (ParseInPlace) or that
// was changed in memory can end a walk early, never make it read out of
// bounds or loop.
type hashView struct {
	gnu           bool
	symoff, shift uint32 // GNU
	bloom         []byte // GNU: the Bloom filter, 8-byte words
	buckets       []byte // 4-byte words
	chain         []byte // 4-byte words; GNU: from symoff on
}

// hashViewOf returns the view of d's walked hash table whose bytes (the
// table named by its Tab) read gives.
func (d *Dynamic) hashViewOf(read func(name string, t Table) ([]byte, error)) (hashView, error) {
	if g := d.GNUHash; g != nil {
		b, err := read("DT_GNU_HASH", g.Tab)
		if err != nil {
			return hashView{}, err
		}
		b = b[min(16, len(b)):]
		v := hashView{gnu: true, symoff: g.SymOffset, shift: g.BloomShift}
		v.bloom, b = cut(b, 8*uint64(g.NBloom))
		v.buckets, v.chain = cut(b, 4*uint64(g.NBuckets))
		return v, nil
	}
	if h := d.Hash; h != nil {
		b, err := read("DT_HASH", h.Tab)
		if err != nil {
			return hashView{}, err
		}
		v := hashView{}
		v.buckets, v.chain = cut(b[min(8, len(b)):], 4*uint64(h.NBucket))
		return v, nil
	}
	return hashView{}, nil
}

// cut splits b after n bytes (or at its end).
func cut(b []byte, n uint64) (head, tail []byte) {
	n = min(n, uint64(len(b)))
	return b[:n:n], b[n:]
}

// walk walks the chain for a name of the given hashes (only the one of
// the view's table is used) over a table of nsyms symbols, and returns
// the first symbol match accepts, else the first it would take as the
// fallback.
func (h *hashView) walk(gnu, sysv uint32, nsyms int, match func(i int) matchKind) (int, bool) {
	fallback := -1
	nbuckets, nchain := uint32(len(h.buckets)/4), uint32(len(h.chain)/4)
	if nbuckets == 0 {
		return -1, false
	}
	if h.gnu {
		nbloom := uint32(len(h.bloom) / 8)
		if nbloom == 0 {
			return -1, false
		}
		// Bloom filter: two bits per symbol, from the hash and the hash
		// shifted by bloom_shift, in word (h / 64) mod bloom_size.
		word := le.Uint64(h.bloom[8*int((gnu/64)%nbloom):])
		mask := uint64(1)<<(gnu%64) | uint64(1)<<((gnu>>(h.shift%64))%64)
		if word&mask != mask {
			return -1, false
		}
		// The chain holds each symbol's hash with the low bit replaced by
		// an end-of-chain marker.
		for i := le.Uint32(h.buckets[4*int(gnu%nbuckets):]); i != 0 && i >= h.symoff && i-h.symoff < nchain && int(i) < nsyms; i++ {
			c := le.Uint32(h.chain[4*int(i-h.symoff):])
			if c|1 == gnu|1 {
				switch match(int(i)) {
				case matchYes:
					return int(i), true
				case matchFallback:
					if fallback < 0 {
						fallback = int(i)
					}
				}
			}
			if c&1 != 0 {
				break
			}
		}
		return fallback, fallback >= 0
	}
	i := le.Uint32(h.buckets[4*int(sysv%nbuckets):])
	// A chain is at most nchain long; a longer walk is a cycle.
	for steps := uint32(0); i != 0 && steps < nchain && i < nchain && int(i) < nsyms; steps++ {
		switch match(int(i)) {
		case matchYes:
			return int(i), true
		case matchFallback:
			if fallback < 0 {
				fallback = int(i)
			}
		}
		i = le.Uint32(h.chain[4*int(i):])
	}
	return fallback, fallback >= 0
}
