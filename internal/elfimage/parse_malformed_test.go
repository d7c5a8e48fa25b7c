package elfimage

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/elfbuild"
	"github.com/runplug/runplug/internal/plugintest"
)

// fullSpec is the elfbuild object the negative tests start from: every
// structure Parse reads is present, so each test changes exactly one field.
func fullSpec() elfbuild.Spec {
	return elfbuild.Spec{
		Soname:  "libfull.so",
		Needed:  []string{"libc.so.6", "libm.so.6"},
		Runpath: "$ORIGIN:/opt/lib",
		Rpath:   "/old/lib",
		Syms: []elfbuild.Sym{
			{Name: "malloc", Undef: true, Version: "GLIBC_2.2.5"},
			{Name: "cos", Undef: true, Version: "GLIBC_2.2.5", From: "libm.so.6"},
			{Name: "free", Undef: true},
			{Name: "weak_import", Undef: true, Bind: elf.STB_WEAK},
			{Name: "plain"},
			{Name: "counter", Type: elf.STT_OBJECT},
			{Name: "vfunc", Version: "FULL_1.0", Hidden: true},
			{Name: "vfunc", Version: "FULL_2.0"},
			{Name: "only_v1", Version: "FULL_1.0"},
		},
		Rela: []elfbuild.Reloc{
			{Type: elf.R_X86_64_RELATIVE, Addend: 0x40},
			{Type: elf.R_X86_64_GLOB_DAT, Sym: "malloc"},
			{Type: elf.R_X86_64_64, Sym: "counter", Addend: 8},
		},
		JmpRel:    []elfbuild.Reloc{{Type: elf.R_X86_64_JMP_SLOT, Sym: "free"}, {Type: elf.R_X86_64_JMP_SLOT, Sym: "cos"}},
		Relr:      3,
		SysVHash:  true,
		Init:      true,
		Fini:      true,
		InitArray: 2,
		FiniArray: 1,
		TLS:       true,
		RELRO:     true,
		Interp:    "/lib64/ld-linux-x86-64.so.2",
		BSS:       3 * uint64(os.Getpagesize()),
		Flags:     elf.DF_BIND_NOW,
		Flags1:    elf.DF_1_NOW,
	}
}

func buildFull(t testing.TB) *elfbuild.Object {
	t.Helper()
	o, err := elfbuild.Build(fullSpec())
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func parseBytes(b []byte) (*File, error) { return Parse(bytes.NewReader(b), int64(len(b))) }

// TestParseFullSpec checks that the unpatched object parses, and that what
// Parse reports is what the builder wrote.
func TestParseFullSpec(t *testing.T) {
	o := buildFull(t)
	f, err := parseBytes(o.Data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	d := f.Dynamic
	spec := fullSpec()
	if !equalStrings(d.Needed, spec.Needed) || d.Soname != spec.Soname ||
		!equalStrings(d.Runpath, []string{"$ORIGIN", "/opt/lib"}) || !equalStrings(d.Rpath, []string{"/old/lib"}) {
		t.Errorf("strings: %q %q %q %q", d.Needed, d.Soname, d.Runpath, d.Rpath)
	}
	if f.Interp != spec.Interp {
		t.Errorf("Interp = %q", f.Interp)
	}
	if len(d.Symbols) != len(o.Syms) {
		t.Fatalf("%d symbols, built %d", len(d.Symbols), len(o.Syms))
	}
	for i, name := range o.Syms {
		if d.Symbols[i].Name != name || d.Symbols[i].Value != o.Values[i] {
			t.Errorf("symbol %d = %q %#x, built %q %#x", i, d.Symbols[i].Name, d.Symbols[i].Value, name, o.Values[i])
		}
	}
	rs := relocsOfBytes(t, f, o.Data)
	if len(rs.Rela) != len(spec.Rela) || len(rs.JmpRel) != len(spec.JmpRel) || len(rs.Relr) != 2 {
		t.Errorf("relocations: %d rela, %d jmprel, %d relr", len(rs.Rela), len(rs.JmpRel), len(rs.Relr))
	}
	for i, r := range spec.Rela {
		want := uint32(0)
		if r.Sym != "" {
			want = uint32(o.SymIndex(r.Sym))
		}
		if rs.Rela[i].Type != uint32(r.Type) || rs.Rela[i].Sym != want || rs.Rela[i].Addend != r.Addend {
			t.Errorf("Rela[%d] = %+v, built %+v (sym %d)", i, rs.Rela[i], r, want)
		}
	}
	if d.Init == 0 || d.Fini == 0 || d.InitArrayLen != 2 || d.FiniArrayLen != 1 || !d.BindNow || d.TextRel {
		t.Errorf("init/fini/flags: %+v", d)
	}
	if f.TLS == nil || f.RELRO == nil || d.GNUHash == nil || d.Hash == nil || !d.HasVersioning {
		t.Errorf("TLS %v RELRO %v GNUHash %v Hash %v versioning %v", f.TLS, f.RELRO, d.GNUHash, d.Hash, d.HasVersioning)
	}
	ver := map[string]string{}
	for _, s := range d.Symbols {
		if s.Version != "" {
			ver[s.Name+"/"+s.Version] = s.VersionFile
		}
	}
	for _, k := range []string{"malloc/GLIBC_2.2.5", "cos/GLIBC_2.2.5", "vfunc/FULL_1.0", "vfunc/FULL_2.0", "only_v1/FULL_1.0"} {
		if _, ok := ver[k]; !ok {
			t.Errorf("no symbol %s in %v", k, ver)
		}
	}
	if ver["cos/GLIBC_2.2.5"] != "libm.so.6" || ver["malloc/GLIBC_2.2.5"] != "libc.so.6" {
		t.Errorf("version files: %v", ver)
	}
}

// malformedCase is one hostile file: a patch of a valid object and the
// FormatError it must produce.
type malformedCase struct {
	name  string
	patch func(o *elfbuild.Object)
	field string // FormatError.Field
	err   error  // ErrMalformed or ErrUnsupported
	msg   string // a substring of the message, when the field alone is ambiguous
}

// load returns the program header index of the n-th PT_LOAD of o.
func load(o *elfbuild.Object, n int) int { return o.Phdr(elf.PT_LOAD, n) }

func phName(i int, field string) string { return "phdr[" + strconv.Itoa(i) + "]." + field }

// builderCases returns one case per validation rule, each built by
// changing one field of fullSpec's object.
func builderCases(t testing.TB, o *elfbuild.Object) []malformedCase {
	ps := uint64(os.Getpagesize())
	tab := o.Tables
	dyn := o.Phdr(elf.PT_DYNAMIC, 0)
	tls := o.Phdr(elf.PT_TLS, 0)
	relro := o.Phdr(elf.PT_GNU_RELRO, 0)
	interp := o.Phdr(elf.PT_INTERP, 0)
	stack := o.Phdr(elf.PT_GNU_STACK, 0)
	l0, l1, l2 := load(o, 0), load(o, 1), load(o, 2)
	imageEnd := (o.PhdrVal(l2, elfbuild.PVaddr) + o.PhdrVal(l2, elfbuild.PMemsz) + ps - 1) &^ (ps - 1)
	bss := o.PhdrVal(l2, elfbuild.PVaddr) + o.PhdrVal(l2, elfbuild.PFilesz) + 64
	gnu := tab["gnu.hash"].Off
	sysv := tab["hash"].Off
	nsyms := int64(len(o.Syms))
	verdef := tab["verdef"].Off
	verneed := tab["verneed"].Off
	versym := tab["versym"].Off
	if dyn < 0 || tls < 0 || relro < 0 || interp < 0 || stack < 0 || gnu == 0 || sysv == 0 || verdef == 0 || verneed == 0 {
		t.Fatalf("fullSpec lacks a structure: %v", tab)
	}
	setPh := func(i, field int, v uint64) func(*elfbuild.Object) {
		return func(o *elfbuild.Object) { o.SetPhdr(i, field, v) }
	}
	setDyn := func(tag elf.DynTag, v uint64) func(*elfbuild.Object) {
		return func(o *elfbuild.Object) { o.SetDyn(tag, v) }
	}
	dropDyn := func(tags ...elf.DynTag) func(*elfbuild.Object) {
		return func(o *elfbuild.Object) {
			for _, tag := range tags {
				o.SetDynTag(tag, elf.DT_DEBUG) // an entry Parse ignores
			}
		}
	}
	put16 := func(off int64, v uint16) func(*elfbuild.Object) { return func(o *elfbuild.Object) { o.Put16(off, v) } }
	put32 := func(off int64, v uint32) func(*elfbuild.Object) { return func(o *elfbuild.Object) { o.Put32(off, v) } }
	put64 := func(off int64, v uint64) func(*elfbuild.Object) { return func(o *elfbuild.Object) { o.Put64(off, v) } }
	byteAt := func(off int, v byte) func(*elfbuild.Object) { return func(o *elfbuild.Object) { o.Data[off] = v } }
	M, U := ErrMalformed, ErrUnsupported
	size := uint64(len(o.Data))
	// The GNU hash: header, 2 Bloom words, then buckets.
	gnuBuckets := gnu + 16 + 8*int64(o.U32(gnu+8))
	nbuckets := int64(o.U32(gnu))
	gnuChain := gnuBuckets + 4*nbuckets
	sysvNbucket := int64(o.U32(sysv))

	return []malformedCase{
		// ELF header.
		{"bad magic", byteAt(1, 'X'), "e_ident[EI_MAG]", M, ""},
		{"ELFCLASS32", byteAt(elf.EI_CLASS, byte(elf.ELFCLASS32)), "e_ident[EI_CLASS]", U, ""},
		{"big-endian", byteAt(elf.EI_DATA, byte(elf.ELFDATA2MSB)), "e_ident[EI_DATA]", U, ""},
		{"EI_VERSION", byteAt(elf.EI_VERSION, 0), "e_ident[EI_VERSION]", M, ""},
		{"FreeBSD ABI", byteAt(elf.EI_OSABI, byte(elf.ELFOSABI_FREEBSD)), "e_ident[EI_OSABI]", U, ""},
		{"ET_EXEC", put16(elfbuild.EType, uint16(elf.ET_EXEC)), "e_type", U, "ET_EXEC"},
		{"ET_REL", put16(elfbuild.EType, uint16(elf.ET_REL)), "e_type", U, "ET_REL"},
		{"ET_CORE", put16(elfbuild.EType, uint16(elf.ET_CORE)), "e_type", U, "ET_CORE"},
		{"foreign machine", put16(elfbuild.EMachine, uint16(elf.EM_RISCV)), "e_machine", U, ""},
		{"e_version", put32(elfbuild.EVersion, 2), "e_version", M, ""},
		{"e_phentsize", put16(elfbuild.EPhentsize, 32), "e_phentsize", M, ""},
		{"e_phnum zero", put16(elfbuild.EPhnum, 0), "e_phnum", M, ""},
		{"e_phnum PN_XNUM", put16(elfbuild.EPhnum, 0xffff), "e_phnum", U, "PN_XNUM"},
		{"e_phnum too many", put16(elfbuild.EPhnum, MaxPhnum+1), "e_phnum", U, "limit"},
		{"e_phoff past the end", put64(elfbuild.EPhoff, size-56), "e_phoff", M, ""},
		{"e_phoff overflow", put64(elfbuild.EPhoff, ^uint64(0)-8), "e_phoff", M, ""},
		{"truncated header", func(o *elfbuild.Object) { o.Data = o.Data[:40] }, "file size", M, ""},

		// PT_LOAD.
		{"p_offset past the end", setPh(l2, elfbuild.POffset, size+ps), phName(l2, "p_offset"), M, ""},
		{"p_filesz past the end", setPh(l2, elfbuild.PFilesz, size), phName(l2, "p_filesz"), M, "file size"},
		{"p_filesz overflow", setPh(l2, elfbuild.PFilesz, ^uint64(0)), phName(l2, "p_filesz"), M, "file size"},
		{"p_filesz > p_memsz", setPh(l0, elfbuild.PMemsz, 64), phName(l0, "p_filesz"), M, "exceeds p_memsz"},
		{"p_vaddr not congruent", setPh(l1, elfbuild.PVaddr, o.PhdrVal(l1, elfbuild.PVaddr)+8), phName(l1, "p_vaddr"), M, "congruent"},
		{"p_align not a power of two", setPh(l0, elfbuild.PAlign, 3*ps), phName(l0, "p_align"), M, ""},
		{"descending", setPh(l2, elfbuild.PVaddr, o.PhdrVal(l2, elfbuild.POffset)%ps), phName(l2, "p_vaddr"), M, "ascending"},
		{"overlapping", setPh(l0, elfbuild.PMemsz, o.PhdrVal(l1, elfbuild.PVaddr)+1), phName(l1, "p_vaddr"), M, "overlaps"},
		{"p_vaddr+p_memsz overflow", setPh(l2, elfbuild.PMemsz, ^uint64(0)-100), phName(l2, "p_memsz"), M, "overflows"},
		{"end not page-roundable", setPh(l2, elfbuild.PMemsz, ^uint64(0)-o.PhdrVal(l2, elfbuild.PVaddr)), phName(l2, "p_memsz"), M, "rounded"},
		{"span too large", setPh(l2, elfbuild.PMemsz, MaxSpan), phName(l2, "p_memsz"), U, "span"},
		{"no PT_LOAD", func(o *elfbuild.Object) {
			for _, i := range []int{l0, l1, l2} {
				o.SetPhdr(i, elfbuild.PType, uint64(elf.PT_NOTE))
			}
		}, "PT_LOAD", M, ""},

		// Other program headers.
		{"no PT_DYNAMIC", setPh(dyn, elfbuild.PType, uint64(elf.PT_NOTE)), "PT_DYNAMIC", M, ""},
		{"two PT_DYNAMIC", setPh(stack, elfbuild.PType, uint64(elf.PT_DYNAMIC)), phName(stack, "p_type"), M, "second PT_DYNAMIC"},
		{"PT_DYNAMIC in .bss", func(o *elfbuild.Object) {
			o.SetPhdr(dyn, elfbuild.PVaddr, bss)
		}, phName(dyn, "p_vaddr"), M, "file bytes"},
		{"PT_DYNAMIC size", setPh(dyn, elfbuild.PFilesz, o.PhdrVal(dyn, elfbuild.PFilesz)-8), phName(dyn, "p_filesz"), M, "multiple"},
		{"PT_DYNAMIC offset", setPh(dyn, elfbuild.POffset, o.PhdrVal(dyn, elfbuild.POffset)+16), phName(dyn, "p_offset"), M, ""},
		{"PT_TLS outside", setPh(tls, elfbuild.PVaddr, imageEnd+ps), phName(tls, "p_vaddr"), M, "outside the image"},
		{"PT_TLS too long", setPh(tls, elfbuild.PMemsz, ^uint64(0)-8), phName(tls, "p_memsz"), M, "overflows"},
		{"PT_TLS filesz > memsz", setPh(tls, elfbuild.PFilesz, 64), phName(tls, "p_filesz"), M, "exceeds"},
		{"PT_TLS align", setPh(tls, elfbuild.PAlign, 24), phName(tls, "p_align"), M, ""},
		{"PT_TLS template in .bss", setPh(tls, elfbuild.PVaddr, bss), phName(tls, "p_filesz"), M, "template"},
		{"two PT_TLS", setPh(stack, elfbuild.PType, uint64(elf.PT_TLS)), phName(stack, "p_type"), M, "second PT_TLS"},
		{"PT_GNU_RELRO outside", setPh(relro, elfbuild.PMemsz, imageEnd), phName(relro, "p_memsz"), M, "outside the image"},
		{"PT_GNU_RELRO before", setPh(relro, elfbuild.PVaddr, ^uint64(0)-ps), phName(relro, "p_vaddr"), M, "outside the image"},
		{"PT_INTERP past the end", setPh(interp, elfbuild.POffset, size-4), phName(interp, "p_filesz"), M, "file size"},
		{"PT_INTERP unterminated", setPh(interp, elfbuild.PFilesz, o.PhdrVal(interp, elfbuild.PFilesz)-1), phName(interp, "p_filesz"), M, "NUL"},

		// The dynamic array.
		{"no DT_NULL", dropDyn(elf.DT_NULL), "DT_NULL", M, ""},
		{"duplicate tag", func(o *elfbuild.Object) { o.SetDynTag(elf.DT_SYMENT, elf.DT_STRSZ) }, "DT_STRSZ", M, "twice"},
		{"no DT_STRTAB", dropDyn(elf.DT_STRTAB), "DT_STRTAB", M, "missing"},
		{"no DT_STRSZ", dropDyn(elf.DT_STRSZ), "DT_STRSZ", M, "missing"},
		{"DT_STRTAB outside", setDyn(elf.DT_STRTAB, bss), "DT_STRTAB", M, ""},
		{"DT_STRSZ too long", setDyn(elf.DT_STRSZ, size), "DT_STRSZ", M, ""},
		{"DT_NEEDED offset", setDyn(elf.DT_NEEDED, tab["dynstr"].Size), "DT_NEEDED", M, "beyond"},
		{"DT_NEEDED unterminated", setDyn(elf.DT_STRSZ, o.DynVal(elf.DT_NEEDED)+3), "DT_NEEDED", M, "NUL"},
		{"DT_SONAME offset", setDyn(elf.DT_SONAME, 1<<40), "DT_SONAME", M, ""},
		{"DT_RUNPATH offset", setDyn(elf.DT_RUNPATH, tab["dynstr"].Size+1), "DT_RUNPATH", M, ""},
		{"DT_RPATH offset", setDyn(elf.DT_RPATH, ^uint64(0)), "DT_RPATH", M, ""},

		// Symbols and hash tables.
		{"no DT_SYMTAB", dropDyn(elf.DT_SYMTAB), "DT_SYMTAB", M, "missing"},
		{"DT_SYMENT", setDyn(elf.DT_SYMENT, 16), "DT_SYMENT", M, ""},
		{"DT_SYMTAB runs past its segment", setDyn(elf.DT_SYMTAB, o.PhdrVal(l0, elfbuild.PFilesz)-24), "DT_SYMTAB", M, ""},
		{"no hash table", dropDyn(elf.DT_GNU_HASH, elf.DT_HASH), "DT_GNU_HASH", M, "size of the symbol table"},
		{"st_name", put32(o.SymOff(5), uint32(tab["dynstr"].Size)+7), "dynsym[5].st_name", M, ""},
		{"DT_GNU_HASH outside", setDyn(elf.DT_GNU_HASH, bss), "DT_GNU_HASH", M, ""},
		{"GNU nbuckets zero", put32(gnu, 0), "DT_GNU_HASH.nbuckets", M, ""},
		{"GNU nbuckets huge", put32(gnu, 1<<30), "DT_GNU_HASH.nbuckets", M, "run past"},
		{"GNU symoffset zero", put32(gnu+4, 0), "DT_GNU_HASH.symoffset", M, ""},
		{"GNU symoffset past nchain", put32(gnu+4, uint32(nsyms+1)), "DT_GNU_HASH.symoffset", M, ""},
		{"GNU bloom size", put32(gnu+8, 3), "DT_GNU_HASH.bloom_size", M, ""},
		{"GNU bloom shift", put32(gnu+12, 64), "DT_GNU_HASH.bloom_shift", M, ""},
		{"GNU bucket below symoffset", func(o *elfbuild.Object) {
			for k := int64(0); k < nbuckets; k++ {
				if o.U32(gnuBuckets+4*k) != 0 {
					o.Put32(gnuBuckets+4*k, 1)
					return
				}
			}
		}, "DT_GNU_HASH.buckets[", M, "symoffset"},
		{"GNU chain without end", func(o *elfbuild.Object) {
			for a := gnuChain; a < tab["dynsym"].Off; a += 4 {
				o.Put32(a, o.U32(a)&^1)
			}
		}, "DT_GNU_HASH.chain", M, "end marker"},
		{"DT_HASH outside", setDyn(elf.DT_HASH, bss), "DT_HASH", M, ""},
		{"SysV nbucket zero", put32(sysv, 0), "DT_HASH.nbucket", M, ""},
		{"SysV nchain huge", put32(sysv+4, MaxSymbols+1), "DT_HASH.nchain", M, ""},
		{"SysV nchain past the segment", put32(sysv+4, uint32(size)), "DT_HASH.nchain", M, "run"},
		{"SysV bucket", put32(sysv+8, uint32(nsyms)), "DT_HASH.buckets[0]", M, ""},
		{"SysV chain", put32(sysv+8+4*sysvNbucket+4, 0xffff), "DT_HASH.chain[1]", M, ""},

		// Versions.
		{"DT_VERSYM outside", setDyn(elf.DT_VERSYM, o.PhdrVal(l0, elfbuild.PFilesz)-2), "DT_VERSYM", M, ""},
		{"versym index undefined", put16(versym+2*4, 77), "versym[4]", M, "neither"},
		{"DT_VERDEFNUM zero", setDyn(elf.DT_VERDEFNUM, 0), "DT_VERDEFNUM", M, ""},
		{"DT_VERDEFNUM huge", setDyn(elf.DT_VERDEFNUM, 0x8000), "DT_VERDEFNUM", M, ""},
		{"DT_VERDEFNUM too many", setDyn(elf.DT_VERDEFNUM, o.DynVal(elf.DT_VERDEFNUM)+1), "verdef[2].vd_next", M, "ends the list"},
		{"DT_VERDEFNUM missing", dropDyn(elf.DT_VERDEFNUM), "DT_VERDEFNUM", M, "missing"},
		{"DT_VERDEF outside", setDyn(elf.DT_VERDEF, bss), "DT_VERDEF", M, ""},
		{"vd_version", put16(verdef, 2), "verdef[0].vd_version", M, ""},
		{"vd_ndx zero", put16(verdef+28+4, 0), "verdef[1].vd_ndx", M, ""},
		{"vd_ndx twice", put16(verdef+56+4, o.U16(verdef+28+4)), "verdef[2].vd_ndx", M, "already defined"},
		{"vd_cnt zero", put16(verdef+28+6, 0), "verdef[1].vd_cnt", M, ""},
		{"vd_aux outside", put32(verdef+28+12, 1<<31), "verdef[1].vd_aux", M, ""},
		{"vd_next outside", put32(verdef+28+16, 1<<31), "verdef[1].vd_next", M, "not inside"},
		{"vda_name", put32(verdef+28+20, 1<<31), "verdef[1].vda_name", M, ""},
		{"DT_VERNEED outside", setDyn(elf.DT_VERNEED, bss), "DT_VERNEED", M, ""},
		{"DT_VERNEEDNUM too many", setDyn(elf.DT_VERNEEDNUM, o.DynVal(elf.DT_VERNEEDNUM)+1), "verneed[1].vn_next", M, "ends the list"},
		{"DT_VERNEEDNUM without DT_VERNEED", dropDyn(elf.DT_VERNEED), "DT_VERNEEDNUM", M, "missing"},
		{"vn_version", put16(verneed, 0), "verneed[0].vn_version", M, ""},
		{"vn_file", put32(verneed+4, 1<<31), "verneed[0].vn_file", M, ""},
		{"vn_aux", put32(verneed+8, 1<<31), "verneed[0].vn_aux", M, ""},
		{"vn_cnt too many", put16(verneed+2, 2), "verneed[0].aux[0].vna_next", M, "ends the list"},
		{"vn_cnt over the limit", put16(verneed+2, 0xffff), "verneed[0].vn_cnt", M, ""},
		{"vn_next outside", put32(verneed+12, 1<<31), "verneed[0].vn_next", M, "not inside"},
		{"vna_name", put32(verneed+16+8, 1<<31), "verneed[0].aux[0].vna_name", M, ""},
		{"vna_other reserved", put16(verneed+16+6, 1), "verneed[0].aux[0].vna_other", M, "reserved"},

		// Relocations.
		{"DT_RELA outside", setDyn(elf.DT_RELA, bss), "DT_RELA", M, ""},
		{"DT_RELASZ not a multiple", setDyn(elf.DT_RELASZ, 25), "DT_RELASZ", M, "multiple"},
		{"DT_RELASZ too long", setDyn(elf.DT_RELASZ, 24*1000), "DT_RELASZ", M, "runs past"},
		{"DT_RELASZ missing", dropDyn(elf.DT_RELASZ), "DT_RELASZ", M, "missing"},
		{"DT_RELAENT", setDyn(elf.DT_RELAENT, 16), "DT_RELAENT", M, ""},
		{"DT_REL", func(o *elfbuild.Object) { o.SetDynTag(elf.DT_RELAENT, elf.DT_REL) }, "DT_REL", U, ""},
		{"DT_PLTREL is DT_REL", setDyn(elf.DT_PLTREL, uint64(elf.DT_REL)), "DT_PLTREL", U, ""},
		{"DT_PLTREL missing", dropDyn(elf.DT_PLTREL), "DT_PLTREL", M, "missing"},
		{"DT_PLTRELSZ", setDyn(elf.DT_PLTRELSZ, 30), "DT_PLTRELSZ", M, ""},
		{"DT_JMPREL outside", setDyn(elf.DT_JMPREL, imageEnd), "DT_JMPREL", M, ""},
		{"DT_RELRSZ", setDyn(dtRelrsz, 12), "DT_RELRSZ", M, ""},
		{"DT_RELRENT", setDyn(dtRelrent, 16), "DT_RELRENT", M, ""},
		{"DT_RELR outside", setDyn(dtRelr, bss), "DT_RELR", M, ""},

		// Constructors and destructors.
		{"DT_INIT not executable", setDyn(elf.DT_INIT, tab["data"].Vaddr), "DT_INIT", M, "executable"},
		{"DT_FINI outside", setDyn(elf.DT_FINI, imageEnd+ps), "DT_FINI", M, ""},
		{"DT_INIT_ARRAYSZ not a multiple", setDyn(elf.DT_INIT_ARRAYSZ, 12), "DT_INIT_ARRAYSZ", M, "multiple"},
		{"DT_INIT_ARRAY outside", setDyn(elf.DT_INIT_ARRAY, imageEnd+8), "DT_INIT_ARRAY", M, ""},
		{"DT_INIT_ARRAYSZ too long", setDyn(elf.DT_INIT_ARRAYSZ, 1<<30), "DT_INIT_ARRAYSZ", M, "runs past"},
		{"DT_FINI_ARRAY outside", setDyn(elf.DT_FINI_ARRAY, imageEnd+8), "DT_FINI_ARRAY", M, ""},
		{"DT_FINI_ARRAYSZ missing", dropDyn(elf.DT_FINI_ARRAYSZ), "DT_FINI_ARRAYSZ", M, "missing"},
		{"DT_INIT_ARRAYSZ without array", dropDyn(elf.DT_INIT_ARRAY), "DT_INIT_ARRAYSZ", M, "missing"},
		{"DT_PREINIT_ARRAY", func(o *elfbuild.Object) { o.SetDynTag(elf.DT_FLAGS, elf.DT_PREINIT_ARRAY) }, "DT_PREINIT_ARRAY", U, ""},
	}
}

// checkRefusal asserts that b is refused with the case's error.
func checkRefusal(t *testing.T, c malformedCase, b []byte) {
	t.Helper()
	f, err := parseBytes(b)
	if err == nil || f != nil {
		t.Fatalf("Parse = %v, %v; want a refusal on %s", f, err, c.field)
	}
	t.Log(err)
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *FormatError", err, err)
	}
	if fe.Field != c.field && !(strings.HasSuffix(c.field, "[") && strings.HasPrefix(fe.Field, c.field)) {
		t.Errorf("Field = %q, want %q (error: %v)", fe.Field, c.field, err)
	}
	if !errors.Is(err, c.err) {
		t.Errorf("error %v does not wrap %v", err, c.err)
	}
	if c.msg != "" && !strings.Contains(fe.Msg, c.msg) {
		t.Errorf("message %q does not mention %q", fe.Msg, c.msg)
	}
	if fe.Off >= int64(len(b)) {
		t.Errorf("Off %#x is beyond the file (%#x bytes)", fe.Off, len(b))
	}
	if !strings.HasPrefix(err.Error(), "elfmap: "+fe.Field+" = ") {
		t.Errorf("message %q does not start with the field", err.Error())
	}
}

// TestParseMalformed refuses one hostile file per validation rule, each
// made by changing one field of a valid elfbuild object.
func TestParseMalformed(t *testing.T) {
	base := buildFull(t)
	if _, err := parseBytes(base.Data); err != nil {
		t.Fatalf("the unpatched object is refused: %v", err)
	}
	for _, c := range builderCases(t, base) {
		t.Run(c.name, func(t *testing.T) {
			o := base.Clone()
			c.patch(o)
			checkRefusal(t, c, o.Data)
		})
	}
}

// TestParseMalformedPlugin refuses patched copies of a compiled plugin.
// The fields are found with debug/elf, which is safe on the intact file.
func TestParseMalformedPlugin(t *testing.T) {
	path := plugintest.Build(t, "basic")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.NewFile(bytes.NewReader(orig))
	if err != nil {
		t.Fatal(err)
	}
	phoff := int64(binary.LittleEndian.Uint64(orig[32:]))
	var dynIdx, firstLoad int = -1, -1
	for i, p := range ef.Progs {
		if p.Type == elf.PT_DYNAMIC {
			dynIdx = i
		}
		if p.Type == elf.PT_LOAD && firstLoad < 0 {
			firstLoad = i
		}
	}
	dynOff := int64(ef.Progs[dynIdx].Off)
	// dynEntry returns the file offset of the first dynamic entry with tag.
	dynEntry := func(tag elf.DynTag) int64 {
		for off := dynOff; off < dynOff+int64(ef.Progs[dynIdx].Filesz); off += 16 {
			if elf.DynTag(binary.LittleEndian.Uint64(orig[off:])) == tag {
				return off
			}
		}
		t.Fatalf("basic.so has no %v", tag)
		return 0
	}
	le := binary.LittleEndian
	// The first dynamic symbol with a name: 1 on x86-64; AArch64's
	// linkers put unnamed section symbols first.
	syms, err := ef.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	firstNamed := 1 + slices.IndexFunc(syms, func(s elf.Symbol) bool { return s.Name != "" })
	cases := []struct {
		malformedCase
		patch func(b []byte) []byte
	}{
		{malformedCase{name: "e_machine", field: "e_machine", err: ErrUnsupported},
			func(b []byte) []byte { le.PutUint16(b[18:], uint16(elf.EM_386)); return b }},
		{malformedCase{name: "ET_REL", field: "e_type", err: ErrUnsupported, msg: "ET_REL"},
			func(b []byte) []byte { le.PutUint16(b[16:], uint16(elf.ET_REL)); return b }},
		{malformedCase{name: "truncated", field: phName(lastLoad(ef), "p_filesz"), err: ErrMalformed, msg: "file size"},
			func(b []byte) []byte { return b[:ef.Progs[lastLoad(ef)].Off+1] }},
		{malformedCase{name: "p_align", field: phName(firstLoad, "p_align"), err: ErrMalformed},
			func(b []byte) []byte { le.PutUint64(b[phoff+int64(firstLoad)*56+48:], 0x1001); return b }},
		{malformedCase{name: "no PT_DYNAMIC", field: "PT_DYNAMIC", err: ErrMalformed},
			func(b []byte) []byte { le.PutUint32(b[phoff+int64(dynIdx)*56:], uint32(elf.PT_NULL)); return b }},
		{malformedCase{name: "DT_SYMENT", field: "DT_SYMENT", err: ErrMalformed},
			func(b []byte) []byte { le.PutUint64(b[dynEntry(elf.DT_SYMENT)+8:], 16); return b }},
		{malformedCase{name: "no GNU hash", field: "DT_GNU_HASH", err: ErrMalformed, msg: "size of the symbol table"},
			func(b []byte) []byte { le.PutUint64(b[dynEntry(elf.DT_GNU_HASH):], uint64(elf.DT_DEBUG)); return b }},
		{malformedCase{name: "no DT_NULL", field: "DT_NULL", err: ErrMalformed},
			func(b []byte) []byte {
				for off := dynOff; off < dynOff+int64(ef.Progs[dynIdx].Filesz); off += 16 {
					if le.Uint64(b[off:]) == 0 {
						le.PutUint64(b[off:], uint64(elf.DT_DEBUG))
					}
				}
				return b
			}},
		{malformedCase{name: "DT_STRSZ cuts the names", field: fmt.Sprintf("dynsym[%d].st_name", firstNamed), err: ErrMalformed},
			func(b []byte) []byte { le.PutUint64(b[dynEntry(elf.DT_STRSZ)+8:], 1); return b }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkRefusal(t, c.malformedCase, c.patch(append([]byte(nil), orig...)))
		})
	}
}

func lastLoad(ef *elf.File) int {
	n := -1
	for i, p := range ef.Progs {
		if p.Type == elf.PT_LOAD {
			n = i
		}
	}
	return n
}

// TestParseAccepts checks files that look odd but are valid, or whose
// refusal belongs to a later stage: each must parse, with the property
// named.
func TestParseAccepts(t *testing.T) {
	base := buildFull(t)
	text := load(base, 1)
	cases := []struct {
		name  string
		spec  *elfbuild.Spec // nil: patch fullSpec's object
		patch func(o *elfbuild.Object)
		check func(f *File) bool
	}{
		{"DT_TEXTREL (the loader refuses it)", &elfbuild.Spec{Syms: []elfbuild.Sym{{Name: "f"}}, TextRel: true}, nil,
			func(f *File) bool { return f.Dynamic.TextRel }},
		{"DF_TEXTREL", &elfbuild.Spec{Syms: []elfbuild.Sym{{Name: "f"}}, Flags: elf.DF_TEXTREL}, nil,
			func(f *File) bool { return f.Dynamic.TextRel && !f.Dynamic.BindNow }},
		{"writable and executable (planning refuses it)", nil,
			func(o *elfbuild.Object) { o.SetPhdr(text, elfbuild.PFlags, uint64(elf.PF_R|elf.PF_W|elf.PF_X)) },
			func(f *File) bool { return f.Loads[1].Flags == elf.PF_R|elf.PF_W|elf.PF_X }},
		{"p_align 0", nil, func(o *elfbuild.Object) { o.SetPhdr(text, elfbuild.PAlign, 0) },
			func(f *File) bool { return f.Loads[1].Align == 0 }},
		{"p_align 1", nil, func(o *elfbuild.Object) { o.SetPhdr(text, elfbuild.PAlign, 1) },
			func(f *File) bool { return f.Loads[1].Align == 1 }},
		{"no DT_SYMENT or DT_RELAENT", nil,
			func(o *elfbuild.Object) {
				o.SetDynTag(elf.DT_SYMENT, elf.DT_DEBUG)
				o.SetDynTag(elf.DT_RELAENT, elf.DT_DEBUG)
			},
			func(f *File) bool { return len(f.Dynamic.Symbols) > 1 && f.Dynamic.RelaTab.Size == 3*relaSize }},
		{"empty DT_INIT_ARRAY", nil, func(o *elfbuild.Object) { o.SetDyn(elf.DT_INIT_ARRAYSZ, 0) },
			func(f *File) bool { return f.Dynamic.InitArrayLen == 0 && f.Dynamic.InitArray == 0 }},
		{"empty DT_RELA", nil, func(o *elfbuild.Object) { o.SetDyn(elf.DT_RELASZ, 0) },
			func(f *File) bool { return f.Dynamic.RelaTab.Size == 0 && f.Dynamic.JmpRelTab.Size == 2*relaSize }},
		{"only the null symbol", &elfbuild.Spec{}, nil,
			func(f *File) bool { return len(f.Dynamic.Symbols) == 1 }},
		{"unknown dynamic tags", nil, func(o *elfbuild.Object) { o.SetDynTag(elf.DT_FLAGS, elf.DynTag(0x6ffffe00)) },
			func(f *File) bool { return f.Dynamic.Flags == 0 }},
		{"garbage after DT_NULL", nil, func(o *elfbuild.Object) {
			// Make the dynamic segment one entry longer and fill that
			// entry with garbage: the walk stops at DT_NULL.
			dyn := o.Phdr(elf.PT_DYNAMIC, 0)
			o.SetPhdr(dyn, elfbuild.PFilesz, o.PhdrVal(dyn, elfbuild.PFilesz)+16)
			end := o.DynOff(o.Dyn(elf.DT_NULL)) + 16
			o.Put64(end, uint64(elf.DT_STRTAB))
			o.Put64(end+8, ^uint64(0))
		}, func(f *File) bool { return f.Dynamic.Soname == "libfull.so" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := base.Clone()
			if c.spec != nil {
				var err error
				if o, err = elfbuild.Build(*c.spec); err != nil {
					t.Fatal(err)
				}
			}
			if c.patch != nil {
				c.patch(o)
			}
			f, err := parseBytes(o.Data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !c.check(f) {
				t.Errorf("parsed, but the property does not hold: %+v", f.Dynamic)
			}
		})
	}
}
