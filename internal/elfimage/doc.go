// Package elfimage reads, validates and maps ELF shared objects (ELFCLASS64,
// little-endian, the host's machine, ET_DYN) without the system's dynamic
// linker. It is the first stage of runplug's loader (the public package
// elfmap is a tool's read-only view over its parser and errors) and works
// in three steps, each usable and testable on its own:
//
//  1. Parse (or ParseFile) reads the ELF header, the program headers and
//     the tables the PT_DYNAMIC segment names, and returns a File: the
//     loadable segments, the image bounds, TLS and RELRO, and a Dynamic
//     with the needed libraries, soname, run paths, the dynamic symbols
//     with their versions, the hash tables, where the RELA, JMPREL and
//     RELR relocation tables are (Table; File.ReadRelocs decodes them for
//     tools), and the constructors and destructors. ParseInPlace does the
//     same but leaves the symbol, string, version and hash tables in the
//     file: a loader reads them, and the relocations, where the image maps
//     them (SymTab, RelaView, RelrView), checking each entry when it reads
//     it.
//     Section headers are never read, so a stripped or corrupt section
//     header table does not matter, as with ld.so.
//  2. NewPlan turns a File into a Plan: the page-aligned regions of the
//     image (file-backed, zero-filled .bss, PROT_NONE guards and gaps)
//     with their protections. A Plan is pure data and does no system call.
//  3. MapFile (or MapBytes) performs a Plan: one PROT_NONE reservation for
//     the whole span with guards, each segment mapped over it, and returns
//     an Image that can change protections (RELRO), say which region an
//     address falls in, and Unmap everything. MapFD does the same from a
//     raw descriptor whose size the caller has just read.
//
// An Image that is done with can become a tombstone that keeps its
// address range reserved PROT_NONE: Tombstone drops its pages, Park keeps
// them behind PROT_NONE (one mprotect), and Reuse turns a parked image back
// into what MapFile would have made at the same address, with the pristine
// bytes of its writable regions (ReadPristine, read once per file) and
// without mapping anything: the loader's cheap path for reloading a plugin.
//
// Symbol lookup follows the dynamic linker: Dynamic.Lookup (and
// SymTab.Lookup, on the symbols in a mapped image) walks the GNU hash
// table (Bloom filter, bucket, chain) or, without one, DT_HASH, and
// applies glibc's matching rules for symbol versions. LookupHashed takes
// the name's hashes (GNUHashOf, SysVHashOf) precomputed, so a loader that
// searches many objects for one import hashes its name once.
//
// # Hostile input
//
// Every byte of the file is treated as hostile. Parse checks each field
// against the file size and the image with overflow-checked arithmetic,
// bounds every count before allocating for it, walks linked lists (version
// definitions and needs, hash chains) with step limits, and never panics.
// A refusal is a *FormatError naming the field, its file offset and its
// value, e.g.
//
//	elfmap: phdr[2].p_filesz = 0x5000 at offset 0x98: exceeds p_memsz 0x4000
//
// that wraps ErrMalformed (the file breaks the ELF rules or contradicts
// itself) or ErrUnsupported (a valid file runplug does not load: another
// class, byte order, machine or object type, REL relocations, a writable
// and executable segment). Use errors.As and errors.Is to tell them apart.
//
// Parse checks what a table's bytes are, not what they mean to a loader:
// relocation types and the symbol indexes relocations name are recorded
// as they are for the loader to check, a DT_TEXTREL object parses (the
// loader refuses it), and writable and executable segments are refused
// when planning, unless PlanOptions allows them.
//
// Parse reads with a handful of ReadAt calls (the headers, then one per
// table) and names every symbol with a substring of one copy of the string
// table. ParseInPlace reads none of the large tables: what it copies is
// the headers, the dynamic segment, the hash tables' headers (and, for a
// GNU table without DT_HASH, a pass over its buckets and the last chain,
// to learn the symbol count) and a few strings, so
// a loader links a library of hundreds of thousands of relocations
// (libLLVM) from the pages the kernel maps for the image anyway, the way
// ld.so does, rather than from copies in the Go heap.
package elfimage
