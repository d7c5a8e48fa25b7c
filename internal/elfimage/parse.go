package elfimage

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
)

// Limits Parse applies to what a file may claim. They are far above what
// any real shared object needs and keep a hostile file from making Parse
// allocate or loop without bound.
const (
	// MaxPhnum is the largest e_phnum accepted.
	MaxPhnum = 1024
	// MaxSpan is the largest image span (MaxVaddr - MinVaddr) accepted.
	MaxSpan = 1 << 40
	// MaxSymbols is the largest dynamic symbol table accepted.
	MaxSymbols = 1 << 22
	// maxInterp bounds the PT_INTERP path (PATH_MAX).
	maxInterp = 4096
)

// Sizes of the ELFCLASS64 structures Parse reads.
const (
	ehdrSize = 64
	phdrSize = 56
	dynSize  = 16
	symSize  = 24
	relaSize = 24
	relrSize = 8
)

// headRead is how much Parse reads at offset 0 in its first ReadAt: the
// ELF header and, in every ordinary object, all program headers.
const headRead = ehdrSize + 16*phdrSize

// ParseFile opens the file at path, parses it with Parse and closes it.
func ParseFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("elfmap: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("elfmap: %w", err)
	}
	f, err := Parse(fh, st.Size())
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return f, nil
}

// Parse reads and validates the ELF shared object of the given size that r
// holds. It reads only the ELF header, the program headers and the tables
// the PT_DYNAMIC segment names; section headers are never consulted, so a
// stripped or garbage section header table does not matter.
//
// Every field is checked against the file size and the image with
// overflow-safe arithmetic before it is used, and every count is bounded
// before anything is allocated for it. A refusal is a *FormatError that
// wraps ErrMalformed or ErrUnsupported; a failure of r is returned wrapped
// as it is.
func Parse(r io.ReaderAt, size int64) (*File, error) { return parse(r, size, false) }

// ParseInPlace parses as Parse does, but leaves the entries of the dynamic
// symbol table, the string table and DT_VERSYM where they are: it checks
// where those tables lie and reads only the strings the dynamic segment
// and the version tables name. Dynamic.Symbols is nil; a loader reads the
// symbols in the mapped image through Dynamic.SymbolsIn, which checks each
// entry when it is read, with the errors Parse would have given. It is
// what a loader needs: a large library's tables are never copied.
func ParseInPlace(r io.ReaderAt, size int64) (*File, error) { return parse(r, size, true) }

func parse(r io.ReaderAt, size int64, inPlace bool) (*File, error) {
	if size < 0 {
		return nil, malformed(-1, "file size", uint64(size), "is negative")
	}
	blk := new(fileBlock)
	blk.f.Size = size
	p := &parser{r: r, size: size, ps: PageSize(), f: &blk.f, blk: blk, inPlace: inPlace}
	defer p.win.release()
	defer p.strWin.release()
	if err := p.header(); err != nil {
		return nil, err
	}
	if err := p.progs(); err != nil {
		return nil, err
	}
	if err := p.dynamic(); err != nil {
		return nil, err
	}
	if err := p.notExecutable(); err != nil {
		return nil, err
	}
	return p.f, nil
}

// ErrExecutable is what an *ExecutableError is (errors.Is): an executable
// given where a shared object is wanted.
var ErrExecutable = errors.New("an executable, not a shared object")

// ExecutableError refuses an executable: ET_EXEC, or a position-independent
// executable (DF_1_PIE). Its *FormatError (which wraps ErrUnsupported)
// names the field; errors.Is(err, ErrExecutable) is true.
type ExecutableError struct{ *FormatError }

// Unwrap returns the *FormatError.
func (e *ExecutableError) Unwrap() error { return e.FormatError }

// Is reports whether target is ErrExecutable.
func (e *ExecutableError) Is(target error) bool { return target == ErrExecutable }

// notExecutable refuses a position-independent executable: an ET_DYN
// object with DF_1_PIE in DT_FLAGS_1, which is what glibc's dlopen refuses
// too ("cannot dlopen() a PIE"). PT_INTERP alone does not make an
// executable: libc.so.6 and ld.so have one so that they can be run.
func (p *parser) notExecutable() error {
	d := p.f.Dynamic
	if d == nil || d.Flags1&elf.DF_1_PIE == 0 {
		return nil
	}
	msg := "has DF_1_PIE: a position-independent executable, not a shared object"
	if p.f.Interp != "" {
		msg += " (its PT_INTERP is " + p.f.Interp + ")"
	}
	return &ExecutableError{unsupported(-1, "DT_FLAGS_1", uint64(d.Flags1), "%s", msg)}
}

// blockProgs is how many program headers (every one, then the PT_LOADs
// again) fileBlock has room for: an ordinary object has 7 to 14 and 4
// PT_LOADs.
const blockProgs = 24

// fileBlock is what a parse keeps, allocated as one object: the File, its
// Dynamic and, when they fit, its Progs and Loads. In a fresh process each
// allocation of a size class not used before takes a new span of the Go
// heap (page faults on it and its mark bits, which cost more than the
// parse's reads on a VM); one block takes one.
type fileBlock struct {
	f      File
	d      Dynamic
	gnu    GNUHash
	sysv   SysVHash
	progs  [blockProgs]Prog
	vers   [blockVersions]verEntry // Dynamic.versions points here
	verTab [blockVersions]*verEntry
}

// blockVersions is how many version entries fileBlock has room for (and
// the highest index + 1): libsqlite3 has 9, libcrypto 17, libLLVM-15 46;
// libstdc++ (68) takes a slice of its own.
const blockVersions = 48

// progSlice returns n zeroed Progs, from the parse's block while it has
// room.
func (p *parser) progSlice(n int) []Prog {
	if b := p.blk; n <= len(b.progs)-p.progsUsed {
		s := b.progs[p.progsUsed : p.progsUsed+n : p.progsUsed+n]
		p.progsUsed += n
		return s
	}
	return make([]Prog, n)
}

// parser holds the state of one Parse call.
type parser struct {
	r    io.ReaderAt
	size int64
	ps   uint64
	f    *File

	head    []byte // the first bytes of the file (ELF header, usually phdrs)
	headBuf [headRead]byte
	phoff   uint64
	phnum   int
	loadIdx []int // loadIdx[i] is the index in f.Progs of f.Loads[i]
	dynIdx  int   // index in f.Progs of PT_DYNAMIC

	blk       *fileBlock // where f lives, with room for its headers
	progsUsed int        // entries of blk.progs handed out
	loadBuf   [blockProgs]int
	ds        dynState

	win window // cache for walking linked structures
	// strWin caches the string table for ParseInPlace's strings, apart
	// from win, whose bytes a walk holds while it reads a name.
	strWin window

	inPlace bool // ParseInPlace: symbols, strings and versyms stay in the file
}

var le = binary.LittleEndian

// readAt reads exactly n bytes at file offset off into a new slice. The
// caller has checked that [off, off+n) lies inside the file.
func (p *parser) readAt(what string, off, n uint64) ([]byte, error) {
	buf := make([]byte, n)
	if err := p.readInto(what, off, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

func (p *parser) readInto(what string, off uint64, buf []byte) error {
	m, err := p.r.ReadAt(buf, int64(off))
	if m == len(buf) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("elfmap: read %s at %#x: %w", what, off, err)
}

// header reads and checks the ELF header.
func (p *parser) header() error {
	n := uint64(headRead)
	if uint64(p.size) < n {
		n = uint64(p.size)
	}
	if n < ehdrSize {
		return malformed(-1, "file size", uint64(p.size), "is smaller than an ELF header (%d bytes)", ehdrSize)
	}
	head := p.headBuf[:n]
	if err := p.readInto("ELF header", 0, head); err != nil {
		return err
	}
	p.head = head
	if string(head[:4]) != elf.ELFMAG {
		return malformed(0, "e_ident[EI_MAG]", uint64(le.Uint32(head)), "is not the ELF magic \\x7fELF")
	}
	if c := elf.Class(head[elf.EI_CLASS]); c != elf.ELFCLASS64 {
		return unsupported(elf.EI_CLASS, "e_ident[EI_CLASS]", uint64(c), "is %v, only ELFCLASS64 is supported", c)
	}
	if d := elf.Data(head[elf.EI_DATA]); d != elf.ELFDATA2LSB {
		return unsupported(elf.EI_DATA, "e_ident[EI_DATA]", uint64(d), "is %v, only ELFDATA2LSB is supported", d)
	}
	if v := elf.Version(head[elf.EI_VERSION]); v != elf.EV_CURRENT {
		return malformed(elf.EI_VERSION, "e_ident[EI_VERSION]", uint64(v), "is not EV_CURRENT")
	}
	if a := elf.OSABI(head[elf.EI_OSABI]); a != elf.ELFOSABI_NONE && a != elf.ELFOSABI_LINUX {
		return unsupported(elf.EI_OSABI, "e_ident[EI_OSABI]", uint64(a), "is %v, only ELFOSABI_NONE and ELFOSABI_GNU are supported", a)
	}
	typ := elf.Type(le.Uint16(head[16:]))
	switch typ {
	case elf.ET_DYN:
	case elf.ET_EXEC:
		return &ExecutableError{unsupported(16, "e_type", uint64(typ), "is ET_EXEC: a position-dependent executable cannot be loaded at another address; only ET_DYN shared objects are supported")}
	case elf.ET_REL:
		return unsupported(16, "e_type", uint64(typ), "is ET_REL: a relocatable object file (.o) must be linked into a shared object first; only ET_DYN is supported")
	default:
		return unsupported(16, "e_type", uint64(typ), "is %v; only ET_DYN shared objects are supported", typ)
	}
	mach := elf.Machine(le.Uint16(head[18:]))
	if mach != hostMachine {
		return unsupported(18, "e_machine", uint64(mach), "is %v, this host runs %v", mach, hostMachine)
	}
	if v := le.Uint32(head[20:]); v != uint32(elf.EV_CURRENT) {
		return malformed(20, "e_version", uint64(v), "is not EV_CURRENT")
	}
	p.f.Machine, p.f.Type = mach, typ
	p.f.Entry = le.Uint64(head[24:])
	p.phoff = le.Uint64(head[32:])
	if es := le.Uint16(head[54:]); es != phdrSize {
		return malformed(54, "e_phentsize", uint64(es), "is not %d, the size of Elf64_Phdr", phdrSize)
	}
	phnum := le.Uint16(head[56:])
	switch {
	case phnum == 0:
		return malformed(56, "e_phnum", 0, "the object has no program headers")
	case phnum == 0xffff: // PN_XNUM: the real count is in section header 0
		return unsupported(56, "e_phnum", uint64(phnum), "is PN_XNUM (count kept in a section header)")
	case phnum > MaxPhnum:
		return unsupported(56, "e_phnum", uint64(phnum), "exceeds the limit of %d program headers", MaxPhnum)
	}
	p.phnum = int(phnum)
	end, ok := add(p.phoff, uint64(phnum)*phdrSize)
	if !ok || end > uint64(p.size) {
		return malformed(32, "e_phoff", p.phoff, "program header table of %d entries ends beyond the file size %#x", phnum, p.size)
	}
	return nil
}

// phField returns the file offset of a field of program header i.
func (p *parser) phField(i int, field int) int64 {
	return int64(p.phoff) + int64(i)*phdrSize + int64(field)
}

// Offsets of the fields inside an Elf64_Phdr.
const (
	phType   = 0
	phFlags  = 4
	phOffset = 8
	phVaddr  = 16
	phFilesz = 32
	phMemsz  = 40
	phAlign  = 48
)

// progs reads and checks the program headers.
func (p *parser) progs() error {
	tab := p.head
	n := uint64(p.phnum) * phdrSize
	if p.phoff+n <= uint64(len(p.head)) {
		tab = p.head[p.phoff : p.phoff+n]
	} else {
		var err error
		if tab, err = p.readAt("program headers", p.phoff, n); err != nil {
			return err
		}
	}
	f := p.f
	f.Progs = p.progSlice(p.phnum)
	var nload int
	for i := range f.Progs {
		b := tab[i*phdrSize:]
		f.Progs[i] = Prog{
			Type:   elf.ProgType(le.Uint32(b[phType:])),
			Flags:  elf.ProgFlag(le.Uint32(b[phFlags:])),
			Off:    le.Uint64(b[phOffset:]),
			Vaddr:  le.Uint64(b[phVaddr:]),
			Filesz: le.Uint64(b[phFilesz:]),
			Memsz:  le.Uint64(b[phMemsz:]),
			Align:  le.Uint64(b[phAlign:]),
		}
		if f.Progs[i].Type == elf.PT_LOAD {
			nload++
		}
	}
	if nload == 0 {
		return malformed(-1, "PT_LOAD", 0, "the object has no loadable segment")
	}
	f.Loads = p.progSlice(nload)[:0]
	p.loadIdx = p.loadBuf[:0]
	p.dynIdx = -1
	for i := range f.Progs {
		ph := &f.Progs[i]
		switch ph.Type {
		case elf.PT_LOAD:
			if err := p.checkLoad(i); err != nil {
				return err
			}
			f.Loads = append(f.Loads, *ph)
			p.loadIdx = append(p.loadIdx, i)
		case elf.PT_DYNAMIC:
			if p.dynIdx >= 0 {
				return malformed(p.phField(i, phType), fmt.Sprintf("phdr[%d].p_type", i), uint64(ph.Type),
					"second PT_DYNAMIC (the first is phdr[%d])", p.dynIdx)
			}
			p.dynIdx = i
		}
	}
	last := len(f.Loads) - 1
	f.MinVaddr = pageFloor(f.Loads[0].Vaddr, p.ps)
	end := f.Loads[last].Vaddr + f.Loads[last].Memsz // checked in checkLoad
	maxv, ok := pageCeil(end, p.ps)
	li := p.loadIdx[last]
	if !ok || maxv-f.MinVaddr > MaxSpan {
		return unsupported(p.phField(li, phMemsz), fmt.Sprintf("phdr[%d].p_memsz", li), f.Loads[last].Memsz,
			"image span [%#x, %#x) exceeds the limit of %#x bytes", f.MinVaddr, end, uint64(MaxSpan))
	}
	f.MaxVaddr = maxv

	// The other program headers need the image bounds.
	for i := range f.Progs {
		ph := &f.Progs[i]
		var err error
		switch ph.Type {
		case elf.PT_TLS:
			if f.TLS != nil {
				return malformed(p.phField(i, phType), fmt.Sprintf("phdr[%d].p_type", i), uint64(ph.Type), "second PT_TLS")
			}
			err = p.checkTLS(i)
			f.TLS = ph
		case elf.PT_GNU_RELRO:
			if f.RELRO != nil {
				return malformed(p.phField(i, phType), fmt.Sprintf("phdr[%d].p_type", i), uint64(ph.Type), "second PT_GNU_RELRO")
			}
			err = p.checkInImage(i, "PT_GNU_RELRO")
			f.RELRO = ph
		case elf.PT_INTERP:
			err = p.readInterp(i)
		}
		if err != nil {
			return err
		}
	}
	if p.dynIdx < 0 {
		return malformed(-1, "PT_DYNAMIC", 0, "the object has no dynamic segment")
	}
	return p.checkDynamicPhdr(p.dynIdx)
}

// checkLoad checks PT_LOAD program header i against the file and the
// PT_LOAD before it.
func (p *parser) checkLoad(i int) error {
	ph := &p.f.Progs[i]
	name := func(field string) string { return fmt.Sprintf("phdr[%d].%s", i, field) }
	if ph.Align > 1 && ph.Align&(ph.Align-1) != 0 {
		return malformed(p.phField(i, phAlign), name("p_align"), ph.Align, "is not a power of two")
	}
	if ph.Off > uint64(p.size) {
		return malformed(p.phField(i, phOffset), name("p_offset"), ph.Off, "is beyond the file size %#x", p.size)
	}
	if end, ok := add(ph.Off, ph.Filesz); !ok || end > uint64(p.size) {
		return malformed(p.phField(i, phFilesz), name("p_filesz"), ph.Filesz,
			"segment at offset %#x ends beyond the file size %#x", ph.Off, p.size)
	}
	if ph.Filesz > ph.Memsz {
		return malformed(p.phField(i, phFilesz), name("p_filesz"), ph.Filesz, "exceeds p_memsz %#x", ph.Memsz)
	}
	end, ok := add(ph.Vaddr, ph.Memsz)
	if !ok {
		return malformed(p.phField(i, phMemsz), name("p_memsz"), ph.Memsz, "overflows p_vaddr %#x", ph.Vaddr)
	}
	if _, ok := pageCeil(end, p.ps); !ok {
		return malformed(p.phField(i, phMemsz), name("p_memsz"), ph.Memsz, "ends the segment at %#x, which cannot be rounded to a page", end)
	}
	if ph.Vaddr%p.ps != ph.Off%p.ps {
		return malformed(p.phField(i, phVaddr), name("p_vaddr"), ph.Vaddr,
			"is not congruent to p_offset %#x modulo the page size %#x", ph.Off, p.ps)
	}
	if n := len(p.f.Loads); n > 0 {
		prev := &p.f.Loads[n-1]
		prevEnd := prev.Vaddr + prev.Memsz
		if ph.Vaddr < prev.Vaddr {
			return malformed(p.phField(i, phVaddr), name("p_vaddr"), ph.Vaddr,
				"PT_LOAD segments are not in ascending order (phdr[%d] starts at %#x)", p.loadIdx[n-1], prev.Vaddr)
		}
		if ph.Vaddr < prevEnd {
			return malformed(p.phField(i, phVaddr), name("p_vaddr"), ph.Vaddr,
				"overlaps phdr[%d], which ends at %#x", p.loadIdx[n-1], prevEnd)
		}
	}
	return nil
}

// checkInImage checks that program header i lies inside the image.
func (p *parser) checkInImage(i int, what string) error {
	ph := &p.f.Progs[i]
	if ph.Vaddr < p.f.MinVaddr || ph.Vaddr > p.f.MaxVaddr {
		return malformed(p.phField(i, phVaddr), fmt.Sprintf("phdr[%d].p_vaddr", i), ph.Vaddr,
			"%s starts outside the image [%#x, %#x)", what, p.f.MinVaddr, p.f.MaxVaddr)
	}
	if end, ok := add(ph.Vaddr, ph.Memsz); !ok || end > p.f.MaxVaddr {
		return malformed(p.phField(i, phMemsz), fmt.Sprintf("phdr[%d].p_memsz", i), ph.Memsz,
			"%s at %#x ends outside the image [%#x, %#x)", what, ph.Vaddr, p.f.MinVaddr, p.f.MaxVaddr)
	}
	return nil
}

// checkTLS checks the PT_TLS program header i: its template (the first
// p_filesz bytes) must be file bytes of a PT_LOAD. Only the template need
// lie inside the image: the zero-initialised rest (.tbss) takes no room in
// it (each thread's block is allocated apart), and a large .tbss makes
// p_vaddr + p_memsz end past the image in objects ld links every day.
func (p *parser) checkTLS(i int) error {
	ph := &p.f.Progs[i]
	if ph.Align > 1 && ph.Align&(ph.Align-1) != 0 {
		return malformed(p.phField(i, phAlign), fmt.Sprintf("phdr[%d].p_align", i), ph.Align, "PT_TLS alignment is not a power of two")
	}
	if ph.Filesz > ph.Memsz {
		return malformed(p.phField(i, phFilesz), fmt.Sprintf("phdr[%d].p_filesz", i), ph.Filesz, "exceeds p_memsz %#x", ph.Memsz)
	}
	if ph.Vaddr < p.f.MinVaddr || ph.Vaddr > p.f.MaxVaddr {
		return malformed(p.phField(i, phVaddr), fmt.Sprintf("phdr[%d].p_vaddr", i), ph.Vaddr,
			"PT_TLS starts outside the image [%#x, %#x)", p.f.MinVaddr, p.f.MaxVaddr)
	}
	if _, ok := add(ph.Vaddr, ph.Memsz); !ok {
		return malformed(p.phField(i, phMemsz), fmt.Sprintf("phdr[%d].p_memsz", i), ph.Memsz,
			"PT_TLS at %#x: p_vaddr + p_memsz overflows", ph.Vaddr)
	}
	if _, ok := p.f.VaddrToOffset(ph.Vaddr, ph.Filesz); !ok {
		return malformed(p.phField(i, phFilesz), fmt.Sprintf("phdr[%d].p_filesz", i), ph.Filesz,
			"PT_TLS template at %#x is not inside the file bytes of one PT_LOAD", ph.Vaddr)
	}
	return nil
}

// readInterp reads the PT_INTERP path into File.Interp.
func (p *parser) readInterp(i int) error {
	ph := &p.f.Progs[i]
	field := fmt.Sprintf("phdr[%d].p_filesz", i)
	if ph.Filesz == 0 || ph.Filesz > maxInterp {
		return malformed(p.phField(i, phFilesz), field, ph.Filesz, "PT_INTERP path length is not in [1, %d]", maxInterp)
	}
	if end, ok := add(ph.Off, ph.Filesz); !ok || end > uint64(p.size) {
		return malformed(p.phField(i, phFilesz), field, ph.Filesz, "PT_INTERP at offset %#x ends beyond the file size %#x", ph.Off, p.size)
	}
	b, err := p.readAt("PT_INTERP", ph.Off, ph.Filesz)
	if err != nil {
		return err
	}
	n := bytes.IndexByte(b, 0)
	if n < 0 {
		return malformed(p.phField(i, phFilesz), field, ph.Filesz, "PT_INTERP path is not NUL-terminated")
	}
	p.f.Interp = string(b[:n])
	return nil
}

// checkDynamicPhdr checks the PT_DYNAMIC program header i.
func (p *parser) checkDynamicPhdr(i int) error {
	ph := &p.f.Progs[i]
	if ph.Filesz%dynSize != 0 || ph.Filesz == 0 {
		return malformed(p.phField(i, phFilesz), fmt.Sprintf("phdr[%d].p_filesz", i), ph.Filesz,
			"PT_DYNAMIC size is not a non-zero multiple of %d", dynSize)
	}
	off, ok := p.f.VaddrToOffset(ph.Vaddr, ph.Filesz)
	if !ok {
		return malformed(p.phField(i, phVaddr), fmt.Sprintf("phdr[%d].p_vaddr", i), ph.Vaddr,
			"PT_DYNAMIC [%#x, +%#x) is not inside the file bytes of one PT_LOAD", ph.Vaddr, ph.Filesz)
	}
	if off != ph.Off {
		return malformed(p.phField(i, phOffset), fmt.Sprintf("phdr[%d].p_offset", i), ph.Off,
			"PT_DYNAMIC's p_vaddr %#x is loaded from offset %#x, not from p_offset", ph.Vaddr, off)
	}
	return nil
}

// VaddrToOffset translates the range [vaddr, vaddr+size) of the image into
// the file offset it is loaded from. ok is false unless the whole range lies
// inside the file bytes (the first p_filesz bytes) of one PT_LOAD.
func (f *File) VaddrToOffset(vaddr, size uint64) (off uint64, ok bool) {
	end, ok := add(vaddr, size)
	if !ok {
		return 0, false
	}
	// Loads are ascending and disjoint: find the last one starting at or
	// before vaddr.
	i := sort.Search(len(f.Loads), func(i int) bool { return f.Loads[i].Vaddr > vaddr }) - 1
	if i < 0 {
		return 0, false
	}
	ld := &f.Loads[i]
	if end > ld.Vaddr+ld.Filesz {
		return 0, false
	}
	return ld.Off + (vaddr - ld.Vaddr), true
}

// SegmentAt returns the index in f.Loads of the PT_LOAD whose memory
// [p_vaddr, p_vaddr+p_memsz) contains vaddr.
func (f *File) SegmentAt(vaddr uint64) (index int, ok bool) {
	i := sort.Search(len(f.Loads), func(i int) bool { return f.Loads[i].Vaddr > vaddr }) - 1
	if i < 0 || vaddr-f.Loads[i].Vaddr >= f.Loads[i].Memsz {
		return -1, false
	}
	return i, true
}

// inSegment reports whether [vaddr, vaddr+size) lies inside the memory of
// one PT_LOAD; exec additionally requires that segment to be executable.
func (f *File) inSegment(vaddr, size uint64, exec bool) bool {
	i, ok := f.SegmentAt(vaddr)
	if !ok {
		return false
	}
	ld := &f.Loads[i]
	if exec && ld.Flags&elf.PF_X == 0 {
		return false
	}
	end, ok := add(vaddr, size)
	return ok && end <= ld.Vaddr+ld.Memsz
}

// add returns a+b and whether it did not overflow.
func add(a, b uint64) (uint64, bool) {
	s := a + b
	return s, s >= a
}

// mul returns a*b and whether it did not overflow.
func mul(a, b uint64) (uint64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	c := a * b
	return c, c/b == a
}
