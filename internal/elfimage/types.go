package elfimage

import "debug/elf"

// Prog is one validated program header.
type Prog struct {
	Type   elf.ProgType
	Flags  elf.ProgFlag
	Off    uint64 // p_offset
	Vaddr  uint64 // p_vaddr
	Filesz uint64 // p_filesz
	Memsz  uint64 // p_memsz
	Align  uint64 // p_align
}

// Symbol is one entry of the dynamic symbol table with its name resolved.
type Symbol struct {
	Name  string
	Value uint64 // st_value: an address relative to the load base, 0 when undefined
	Size  uint64
	Bind  elf.SymBind
	Type  elf.SymType
	Vis   elf.SymVis
	Shndx elf.SectionIndex // elf.SHN_UNDEF for imports

	// Version is the symbol's version name ("" when the object has no
	// version information or the symbol is unversioned). For a definition
	// it comes from DT_VERDEF, for an import from DT_VERNEED.
	Version string
	// VersionFile is, for an import, the file the version is needed from
	// (vn_file of DT_VERNEED); empty otherwise.
	VersionFile string
	// Hidden reports a definition that is not the default version of its
	// name (name@VER rather than name@@VER): only an import asking for that
	// exact version may bind to it.
	Hidden bool
	// Local reports a versym of VER_NDX_LOCAL (0): the symbol is not
	// visible outside the object.
	Local bool
}

// Defined reports whether s is a definition an import can bind to.
func (s *Symbol) Defined() bool { return s.Shndx != elf.SHN_UNDEF && !s.Local }

// Rela is one relocation with addend (Elf64_Rela), split into its parts.
type Rela struct {
	Off    uint64 // r_offset: the place, relative to the load base
	Type   uint32 // ELF64_R_TYPE(r_info)
	Sym    uint32 // ELF64_R_SYM(r_info): an index into Dynamic.Symbols
	Addend int64
}

// GNUHash is the header of a DT_GNU_HASH table, checked by Parse, and
// where the table lies; a lookup reads its words there.
type GNUHash struct {
	SymOffset  uint32 // index of the first symbol the table covers
	BloomShift uint32 // the second Bloom filter hash's shift
	NBloom     uint32 // Bloom filter words (ELFCLASS64)
	NBuckets   uint32
	NChain     uint32 // chain words: one hash per symbol from SymOffset on
	Tab        Table  // the header, the Bloom filter, the buckets and the chain
}

// SysVHash is the header of a DT_HASH table, checked by Parse, and where
// the table lies; a lookup reads its words there.
type SysVHash struct {
	NBucket uint32
	NChain  uint32 // the number of symbols
	Tab     Table
}

// Dynamic is what the PT_DYNAMIC segment names, read from the file and
// validated against the image.
type Dynamic struct {
	Needed  []string // DT_NEEDED, in order
	Soname  string   // DT_SONAME
	Runpath []string // DT_RUNPATH split at ':'; $ORIGIN is left for the loader
	Rpath   []string // DT_RPATH split at ':' (used only when DT_RUNPATH is absent)

	Flags  elf.DynFlag  // DT_FLAGS
	Flags1 elf.DynFlag1 // DT_FLAGS_1

	// Symbols is the whole dynamic symbol table, index 0 (the null symbol)
	// included, so that a relocation's Sym indexes it directly.
	Symbols []Symbol
	GNUHash *GNUHash  // nil when the object has no DT_GNU_HASH
	Hash    *SysVHash // nil when the object has no DT_HASH
	// hash is the table Lookup walks, over Parse's copy (empty after
	// ParseInPlace: SymbolsIn gives the view over the image).
	hash hashView

	// Where the symbol, string and version tables are (VersymTab is the
	// zero Table without DT_VERSYM): Dynamic.SymbolsIn reads them in a
	// mapped image.
	SymTab, StrTab, VersymTab Table
	// versions are the version indexes DT_VERDEF and DT_VERNEED define,
	// by index (nil entries are undefined).
	versions []*verEntry

	// Where the relocation tables are; File.ReadRelocs decodes them.
	RelaTab   Table // DT_RELA
	JmpRelTab Table // DT_JMPREL (DT_PLTREL must be DT_RELA)
	RelrTab   Table // DT_RELR

	Init          uint64 // DT_INIT, 0 when absent
	Fini          uint64 // DT_FINI, 0 when absent
	InitArray     uint64 // DT_INIT_ARRAY address, 0 when absent
	InitArrayLen  uint64 // number of 8-byte entries
	FiniArray     uint64 // DT_FINI_ARRAY address, 0 when absent
	FiniArrayLen  uint64
	PreinitArray  uint64 // DT_PREINIT_ARRAY (only valid in executables; refused)
	TextRel       bool   // DT_TEXTREL or DF_TEXTREL
	BindNow       bool   // DF_BIND_NOW or DF_1_NOW
	RelaCount     uint64 // DT_RELACOUNT, informational
	HasVersioning bool   // DT_VERSYM present
}

// File is a validated ELF shared object: what Parse returns.
type File struct {
	Machine elf.Machine
	Type    elf.Type
	Entry   uint64

	Progs   []Prog // every program header, in file order
	Loads   []Prog // the PT_LOAD headers, ascending by Vaddr
	Dynamic *Dynamic
	TLS     *Prog // PT_TLS, nil when absent
	RELRO   *Prog // PT_GNU_RELRO, nil when absent

	// Interp is the PT_INTERP path ("" when absent). A position-independent
	// executable has one; it parses like a shared object, but whether the
	// loader accepts it is the loader's decision.
	Interp string

	// MinVaddr and MaxVaddr bound the image: the first PT_LOAD's vaddr
	// rounded down and the end of the last one rounded up to the page size.
	MinVaddr uint64
	MaxVaddr uint64

	// Size is the size of the file (or byte slice) parsed.
	Size int64
}
