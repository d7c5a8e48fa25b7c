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

// sysvHash reads and checks the DT_HASH table; its nchain is the number
// of symbols.
func (p *parser) sysvHash(ds *dynState) (*SysVHash, error) {
	vaddr := ds.val(tHash)
	hdr, off, ok, err := p.at(vaddr, 8)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ds.errSlot(tHash, "the table header is not inside the file bytes of a PT_LOAD")
	}
	nbucket, nchain := le.Uint32(hdr), le.Uint32(hdr[4:])
	if nbucket == 0 {
		return nil, malformed(int64(off), "DT_HASH.nbucket", 0, "a hash table needs at least one bucket")
	}
	if nchain == 0 || nchain > MaxSymbols {
		return nil, malformed(int64(off)+4, "DT_HASH.nchain", uint64(nchain), "the symbol count is not in [1, %d]", MaxSymbols)
	}
	size := 8 + 4*(uint64(nbucket)+uint64(nchain)) // < 2^35: no overflow
	if _, ok := p.f.VaddrToOffset(vaddr, size); !ok {
		return nil, malformed(int64(off)+4, "DT_HASH.nchain", uint64(nchain),
			"the table (%d buckets, %d chain entries) runs past the file bytes of its PT_LOAD", nbucket, nchain)
	}
	raw, err := p.readAt("DT_HASH", off, size)
	if err != nil {
		return nil, err
	}
	h := &SysVHash{Buckets: make([]uint32, nbucket), Chains: make([]uint32, nchain)}
	for i := range h.Buckets {
		if h.Buckets[i] = le.Uint32(raw[8+4*i:]); h.Buckets[i] >= nchain {
			return nil, malformed(int64(off)+8+4*int64(i), "DT_HASH.buckets["+strconv.Itoa(i)+"]",
				uint64(h.Buckets[i]), "symbol index is not below nchain %d", nchain)
		}
	}
	base := 8 + 4*int(nbucket)
	for i := range h.Chains {
		if h.Chains[i] = le.Uint32(raw[base+4*i:]); h.Chains[i] >= nchain {
			return nil, malformed(int64(off)+int64(base)+4*int64(i), "DT_HASH.chain["+strconv.Itoa(i)+"]",
				uint64(h.Chains[i]), "symbol index is not below nchain %d", nchain)
		}
	}
	return h, nil
}

// gnuHash reads and checks the DT_GNU_HASH table and returns it with the
// number of symbols it implies. When limit is not 0 (DT_HASH gave the
// count) the table must not reach beyond it.
func (p *parser) gnuHash(ds *dynState, limit uint64) (*GNUHash, uint64, error) {
	vaddr := ds.val(tGNUHash)
	hdr, off, ok, err := p.at(vaddr, 16)
	if err != nil {
		return nil, 0, err
	}
	if !ok {
		return nil, 0, ds.errSlot(tGNUHash, "the table header is not inside the file bytes of a PT_LOAD")
	}
	ho := int64(off)
	nbuckets, symoff := le.Uint32(hdr), le.Uint32(hdr[4:])
	nbloom, shift := le.Uint32(hdr[8:]), le.Uint32(hdr[12:])
	switch {
	case nbuckets == 0:
		return nil, 0, malformed(ho, "DT_GNU_HASH.nbuckets", 0, "a hash table needs at least one bucket")
	case symoff == 0:
		return nil, 0, malformed(ho+4, "DT_GNU_HASH.symoffset", 0, "would hash the null symbol")
	case nbloom == 0 || nbloom&(nbloom-1) != 0:
		return nil, 0, malformed(ho+8, "DT_GNU_HASH.bloom_size", uint64(nbloom), "is not a power of two")
	case shift >= 64:
		return nil, 0, malformed(ho+12, "DT_GNU_HASH.bloom_shift", uint64(shift), "is not below 64")
	case uint64(symoff) > MaxSymbols || (limit != 0 && uint64(symoff) > limit):
		return nil, 0, malformed(ho+4, "DT_GNU_HASH.symoffset", uint64(symoff), "is beyond the symbol count")
	}
	fixed := 16 + 8*uint64(nbloom) + 4*uint64(nbuckets) // < 2^36: no overflow
	if _, ok := p.f.VaddrToOffset(vaddr, fixed); !ok {
		return nil, 0, malformed(ho, "DT_GNU_HASH.nbuckets", uint64(nbuckets),
			"the Bloom filter (%d words) and buckets run past the file bytes of their PT_LOAD", nbloom)
	}
	raw, err := p.readAt("DT_GNU_HASH", off, fixed)
	if err != nil {
		return nil, 0, err
	}
	g := &GNUHash{SymOffset: symoff, BloomShift: shift, Bloom: make([]uint64, nbloom), Buckets: make([]uint32, nbuckets)}
	for i := range g.Bloom {
		g.Bloom[i] = le.Uint64(raw[16+8*i:])
	}
	base := 16 + 8*int(nbloom)
	var top uint32
	for i := range g.Buckets {
		b := le.Uint32(raw[base+4*i:])
		g.Buckets[i] = b
		if b == 0 {
			continue
		}
		if b < symoff || uint64(b) >= MaxSymbols || (limit != 0 && uint64(b) >= limit) {
			return nil, 0, malformed(int64(off)+int64(base)+4*int64(i), "DT_GNU_HASH.buckets["+strconv.Itoa(i)+"]", uint64(b),
				"symbol index is not in [symoffset %d, symbol count)", symoff)
		}
		top = max(top, b)
	}
	chainVaddr := vaddr + fixed
	nsyms := uint64(symoff)
	if top != 0 {
		// Walk the highest bucket's chain to its end marker: that is the
		// last symbol.
		for i := uint64(top); ; i++ {
			if i >= MaxSymbols || (limit != 0 && i >= limit) {
				return nil, 0, malformed(-1, "DT_GNU_HASH.chain", i,
					"the chain of bucket start %d has no end marker below the symbol count", top)
			}
			b, _, ok, err := p.at(chainVaddr+4*(i-uint64(symoff)), 4)
			if err != nil {
				return nil, 0, err
			}
			if !ok {
				return nil, 0, malformed(-1, "DT_GNU_HASH.chain", i,
					"the chain of bucket start %d runs past the file bytes of its PT_LOAD", top)
			}
			if le.Uint32(b)&1 != 0 {
				nsyms = i + 1
				break
			}
		}
	}
	if n := nsyms - uint64(symoff); n > 0 {
		coff, _ := p.f.VaddrToOffset(chainVaddr, 4*n) // the walk checked it
		raw, err := p.readAt("DT_GNU_HASH chain", coff, 4*n)
		if err != nil {
			return nil, 0, err
		}
		g.Chain = make([]uint32, n)
		for i := range g.Chain {
			g.Chain[i] = le.Uint32(raw[4*i:])
		}
	}
	return g, nsyms, nil
}
