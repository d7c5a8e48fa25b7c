package elfimage

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
)

// systemLibs are the system's own shared objects the parser is checked on;
// a test skips the ones this machine lacks.
var systemLibs = []string{
	testenv.SystemLibPath("libz.so.1"),
	testenv.SystemLibPath("libsqlite3.so.0"),
	testenv.SystemLibPath("libgmp.so.10"),
	testenv.SystemLibPath("libc.so.6"),
}

// oracleFiles returns the objects compared with debug/elf: the basic
// plugin, a plugin with both hash tables and versioned exports, and the
// system libraries present.
func oracleFiles(t *testing.T) []string {
	t.Helper()
	files := []string{plugintest.Build(t, "basic"), plugintest.Build(t, "parse_hashboth")}
	for _, p := range systemLibs {
		testenv.NeedFile(t, p, ".ci/run installs the system libraries")
		files = append(files, p)
	}
	return files
}

// TestParseAgainstDebugElf parses real shared objects and compares every
// program header, the needed list, soname, runpath, every dynamic symbol
// with its version, and the relocation tables with what debug/elf reads
// from the section headers (a second, independent route to the same data).
func TestParseAgainstDebugElf(t *testing.T) {
	for _, path := range oracleFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := ParseFile(path)
			if err != nil {
				t.Fatalf("ParseFile: %v", err)
			}
			ef, err := elf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer ef.Close()
			compareWithDebugElf(t, f, ef, path)
		})
	}
}

func compareWithDebugElf(t *testing.T, f *File, ef *elf.File, path string) {
	t.Helper()
	if f.Machine != ef.Machine || f.Type != ef.Type || f.Entry != ef.Entry {
		t.Errorf("header: got %v %v %#x, debug/elf %v %v %#x", f.Machine, f.Type, f.Entry, ef.Machine, ef.Type, ef.Entry)
	}
	if len(f.Progs) != len(ef.Progs) {
		t.Fatalf("%d program headers, debug/elf %d", len(f.Progs), len(ef.Progs))
	}
	var loads []Prog
	for i, p := range ef.Progs {
		want := Prog{Type: p.Type, Flags: p.Flags, Off: p.Off, Vaddr: p.Vaddr, Filesz: p.Filesz, Memsz: p.Memsz, Align: p.Align}
		if f.Progs[i] != want {
			t.Errorf("phdr[%d] = %+v, debug/elf %+v", i, f.Progs[i], want)
		}
		if p.Type == elf.PT_LOAD {
			loads = append(loads, want)
		}
		if p.Type == elf.PT_TLS && (f.TLS == nil || *f.TLS != want) {
			t.Errorf("TLS = %+v, want %+v", f.TLS, want)
		}
		if p.Type == elf.PT_GNU_RELRO && (f.RELRO == nil || *f.RELRO != want) {
			t.Errorf("RELRO = %+v, want %+v", f.RELRO, want)
		}
	}
	if len(f.Loads) != len(loads) {
		t.Fatalf("%d loads, want %d", len(f.Loads), len(loads))
	}
	for i := range loads {
		if f.Loads[i] != loads[i] {
			t.Errorf("Loads[%d] = %+v, want %+v", i, f.Loads[i], loads[i])
		}
	}
	d := f.Dynamic
	needed, err := ef.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	if !equalStrings(d.Needed, needed) {
		t.Errorf("Needed = %q, debug/elf %q", d.Needed, needed)
	}
	sonames, _ := ef.DynString(elf.DT_SONAME)
	if (len(sonames) == 0 && d.Soname != "") || (len(sonames) == 1 && d.Soname != sonames[0]) {
		t.Errorf("Soname = %q, debug/elf %q", d.Soname, sonames)
	}
	runpath, _ := ef.DynString(elf.DT_RUNPATH)
	if len(runpath) == 1 && !equalStrings(d.Runpath, splitPath(runpath[0])) {
		t.Errorf("Runpath = %q, debug/elf %q", d.Runpath, runpath)
	}

	syms, err := ef.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Symbols) != len(syms)+1 {
		t.Fatalf("%d symbols, debug/elf %d (+1 for the null symbol)", len(d.Symbols), len(syms))
	}
	var versioned, hidden int
	for i, es := range syms {
		s := d.Symbols[i+1]
		if s.Name != es.Name || s.Value != es.Value || s.Size != es.Size || s.Shndx != es.Section ||
			s.Bind != elf.ST_BIND(es.Info) || s.Type != elf.ST_TYPE(es.Info) || s.Vis != elf.ST_VISIBILITY(es.Other) {
			t.Errorf("symbol %d = %+v, debug/elf %+v", i+1, s, es)
			continue
		}
		wantVer, wantFile, wantHidden := "", "", false
		if es.HasVersion && es.VersionIndex.Index() > 1 {
			wantVer, wantFile = es.Version, es.Library
			wantHidden = es.VersionIndex.IsHidden() && es.Section != elf.SHN_UNDEF
		}
		if s.Version != wantVer || s.VersionFile != wantFile || s.Hidden != wantHidden {
			t.Errorf("symbol %d %s: version %q file %q hidden %v, debug/elf %q %q %v (index %d)",
				i+1, s.Name, s.Version, s.VersionFile, s.Hidden, wantVer, wantFile, wantHidden, es.VersionIndex)
		}
		if s.Local != (es.HasVersion && es.VersionIndex.Index() == 0) {
			t.Errorf("symbol %d %s: Local = %v, versym %d", i+1, s.Name, s.Local, es.VersionIndex)
		}
		if s.Version != "" {
			versioned++
		}
		if s.Hidden {
			hidden++
		}
	}
	rs := relocsOfFile(t, f, path)
	t.Logf("%d symbols (%d versioned, %d hidden), %d rela, %d jmprel, %d relr",
		len(d.Symbols), versioned, hidden, len(rs.Rela), len(rs.JmpRel), len(rs.Relr))

	compareRela(t, "DT_RELA", rs.Rela, ef.Section(".rela.dyn"))
	compareRela(t, "DT_JMPREL", rs.JmpRel, ef.Section(".rela.plt"))
	if sec := ef.Section(".relr.dyn"); sec != nil {
		data, err := sec.Data()
		if err != nil {
			t.Fatal(err)
		}
		if len(rs.Relr) != len(data)/8 {
			t.Errorf("%d RELR entries, section .relr.dyn has %d", len(rs.Relr), len(data)/8)
		}
		for i := range rs.Relr {
			if want := binary.LittleEndian.Uint64(data[8*i:]); rs.Relr[i] != want {
				t.Errorf("Relr[%d] = %#x, want %#x", i, rs.Relr[i], want)
			}
		}
	} else if len(rs.Relr) != 0 {
		t.Errorf("%d RELR entries, no .relr.dyn section", len(rs.Relr))
	}
	for _, c := range []struct {
		tag  elf.DynTag
		got  uint64
		name string
	}{
		{elf.DT_INIT, d.Init, "Init"},
		{elf.DT_FINI, d.Fini, "Fini"},
		{elf.DT_INIT_ARRAY, d.InitArray, "InitArray"},
		{elf.DT_INIT_ARRAYSZ, d.InitArrayLen * 8, "InitArrayLen*8"},
		{elf.DT_FINI_ARRAY, d.FiniArray, "FiniArray"},
		{elf.DT_FINI_ARRAYSZ, d.FiniArrayLen * 8, "FiniArrayLen*8"},
		{elf.DT_FLAGS, uint64(d.Flags), "Flags"},
		{elf.DT_FLAGS_1, uint64(d.Flags1), "Flags1"},
		{elf.DT_RELACOUNT, d.RelaCount, "RelaCount"},
	} {
		vals, _ := ef.DynValue(c.tag)
		var want uint64
		if len(vals) > 0 {
			want = vals[0]
		}
		if c.got != want {
			t.Errorf("%s = %#x, debug/elf %v = %#x", c.name, c.got, c.tag, want)
		}
	}
	if vals, _ := ef.DynValue(elf.DT_VERSYM); d.HasVersioning != (len(vals) > 0) {
		t.Errorf("HasVersioning = %v, DT_VERSYM %v", d.HasVersioning, vals)
	}
}

// compareRela checks a relocation table against the section holding it.
func compareRela(t *testing.T, what string, got []Rela, sec *elf.Section) {
	t.Helper()
	if sec == nil {
		if len(got) != 0 {
			t.Errorf("%s: %d relocations, no section", what, len(got))
		}
		return
	}
	data, err := sec.Data()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(data)/24 {
		t.Fatalf("%s: %d relocations, section %s has %d", what, len(got), sec.Name, len(data)/24)
	}
	for i, r := range got {
		b := data[24*i:]
		info := binary.LittleEndian.Uint64(b[8:])
		want := Rela{Off: binary.LittleEndian.Uint64(b), Type: uint32(info), Sym: uint32(info >> 32), Addend: int64(binary.LittleEndian.Uint64(b[16:]))}
		if r != want {
			t.Errorf("%s[%d] = %+v, want %+v", what, i, r, want)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestParseStrippedSectionHeaders checks that the section header table is
// never consulted: zeroed or pointing outside the file, the result is the
// same as for the intact file.
func TestParseStrippedSectionHeaders(t *testing.T) {
	path := plugintest.Build(t, "basic")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Parse(bytes.NewReader(orig), int64(len(orig)))
	if err != nil {
		t.Fatal(err)
	}
	shoff := binary.LittleEndian.Uint64(orig[40:])
	cases := []struct {
		name  string
		patch func(b []byte) []byte
	}{
		{"zeroed", func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[40:], 0) // e_shoff
			binary.LittleEndian.PutUint16(b[60:], 0) // e_shnum
			binary.LittleEndian.PutUint16(b[62:], 0) // e_shstrndx
			return b
		}},
		{"garbage e_shoff", func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[40:], 0xdeadbeefcafe)
			return b
		}},
		{"garbage table", func(b []byte) []byte {
			for i := shoff; i < uint64(len(b)); i++ {
				b[i] = 0xa5
			}
			return b
		}},
		{"table cut off", func(b []byte) []byte { return b[:shoff] }},
		{"garbage e_shentsize", func(b []byte) []byte {
			binary.LittleEndian.PutUint16(b[58:], 7)
			binary.LittleEndian.PutUint16(b[60:], 0xffff)
			return b
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.patch(append([]byte(nil), orig...))
			f, err := Parse(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(f.Dynamic.Symbols) != len(want.Dynamic.Symbols) || f.Dynamic.RelaTab != want.Dynamic.RelaTab ||
				!equalStrings(f.Dynamic.Needed, want.Dynamic.Needed) || len(f.Progs) != len(want.Progs) {
				t.Errorf("result differs from the intact file's")
			}
			for i := range f.Dynamic.Symbols {
				if f.Dynamic.Symbols[i] != want.Dynamic.Symbols[i] {
					t.Errorf("symbol %d = %+v, want %+v", i, f.Dynamic.Symbols[i], want.Dynamic.Symbols[i])
				}
			}
		})
	}
}

// TestVaddrToOffset checks the translation and SegmentAt on a parsed
// library against its program headers.
func TestVaddrToOffset(t *testing.T) {
	f, err := ParseFile(plugintest.Build(t, "basic"))
	if err != nil {
		t.Fatal(err)
	}
	last := f.Loads[len(f.Loads)-1]
	if last.Memsz <= last.Filesz {
		t.Fatalf("basic's last segment has no .bss: %+v", last)
	}
	type tc struct {
		name       string
		vaddr, sz  uint64
		off        uint64
		ok         bool
		seg        int
		segOK      bool
		segAtVaddr bool
	}
	var cases []tc
	for i, ld := range f.Loads {
		cases = append(cases,
			tc{"start", ld.Vaddr, 1, ld.Off, true, i, true, true},
			tc{"last file byte", ld.Vaddr + ld.Filesz - 1, 1, ld.Off + ld.Filesz - 1, true, i, true, true},
			tc{"whole file bytes", ld.Vaddr, ld.Filesz, ld.Off, true, i, true, true},
			tc{"one past file bytes", ld.Vaddr, ld.Filesz + 1, 0, false, i, true, true},
			tc{"last memory byte", ld.Vaddr + ld.Memsz - 1, 0, ld.Off + ld.Memsz - 1, ld.Memsz == ld.Filesz, i, true, true},
		)
	}
	cases = append(cases,
		tc{"bss", last.Vaddr + last.Filesz + 8, 8, 0, false, len(f.Loads) - 1, true, true},
		tc{"past the image", last.Vaddr + last.Memsz, 1, 0, false, -1, false, true},
		tc{"overflow", last.Vaddr, ^uint64(0), 0, false, len(f.Loads) - 1, true, true},
	)
	if f.Loads[0].Vaddr > 0 {
		cases = append(cases, tc{"before the image", f.Loads[0].Vaddr - 1, 1, 0, false, -1, false, true})
	}
	for _, c := range cases {
		off, ok := f.VaddrToOffset(c.vaddr, c.sz)
		if ok != c.ok || (ok && off != c.off) {
			t.Errorf("%s: VaddrToOffset(%#x, %#x) = %#x, %v; want %#x, %v", c.name, c.vaddr, c.sz, off, ok, c.off, c.ok)
		}
		seg, ok := f.SegmentAt(c.vaddr)
		if ok != c.segOK || (ok && seg != c.seg) {
			t.Errorf("%s: SegmentAt(%#x) = %d, %v; want %d, %v", c.name, c.vaddr, seg, ok, c.seg, c.segOK)
		}
	}
	// Gaps between segments belong to none.
	for i := 1; i < len(f.Loads); i++ {
		prevEnd := f.Loads[i-1].Vaddr + f.Loads[i-1].Memsz
		if prevEnd < f.Loads[i].Vaddr {
			if _, ok := f.SegmentAt(prevEnd); ok {
				t.Errorf("SegmentAt(%#x) in the gap before segment %d: ok", prevEnd, i)
			}
		}
	}
}

// TestParseFileErrors checks ParseFile on what is not an ELF file at all.
func TestParseFileErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.so")
	text := filepath.Join(dir, "text.so")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(text, bytes.Repeat([]byte("not an ELF file\n"), 10), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path  string
		field string // "" for an I/O error
	}{
		{filepath.Join(dir, "missing.so"), ""},
		{dir, ""},
		{empty, "file size"},
		{text, "e_ident[EI_MAG]"},
	}
	for _, c := range cases {
		f, err := ParseFile(c.path)
		if f != nil || err == nil {
			t.Errorf("%s: got %v, %v; want an error", c.path, f, err)
			continue
		}
		var fe *FormatError
		if c.field == "" {
			if errors.As(err, &fe) {
				t.Errorf("%s: %v is a FormatError, want an I/O error", c.path, err)
			}
			continue
		}
		if !errors.As(err, &fe) || fe.Field != c.field || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: error %v, want a malformed FormatError on %s", c.path, err, c.field)
		}
	}
}

// TestFormatErrorText checks the message layout and unwrapping.
func TestFormatErrorText(t *testing.T) {
	cases := []struct {
		err  *FormatError
		want string
	}{
		{&FormatError{Off: 0x98, Field: "phdr[2].p_filesz", Value: 0x5000, Msg: "exceeds p_memsz 0x4000", Err: ErrMalformed},
			"elfmap: phdr[2].p_filesz = 0x5000 at offset 0x98: exceeds p_memsz 0x4000"},
		{&FormatError{Off: -1, Field: "PT_LOAD", Value: 0, Msg: "the object has no loadable segment", Err: ErrMalformed},
			"elfmap: PT_LOAD = 0x0: the object has no loadable segment"},
	}
	for _, c := range cases {
		if got := c.err.Error(); got != c.want {
			t.Errorf("Error() = %q, want %q", got, c.want)
		}
		wrapped := errors.Join(errors.New("context"), c.err)
		if !errors.Is(wrapped, ErrMalformed) || errors.Is(wrapped, ErrUnsupported) {
			t.Errorf("errors.Is through wrapping fails for %v", c.err)
		}
	}
}

// failingReader fails every read that reaches failAt; it records the end
// of the furthest read it served.
type failingReader struct {
	data    []byte
	failAt  int64
	maxRead int64
}

var errDisk = errors.New("disk on fire")

func (r *failingReader) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > r.failAt {
		return 0, errDisk
	}
	r.maxRead = max(r.maxRead, off+int64(len(p)))
	return copy(p, r.data[off:]), nil
}

// TestParseReadErrors checks that a failing reader's error comes back
// wrapped, whichever read fails, and that data shorter than the size
// claimed is io.ErrUnexpectedEOF, not a panic or a silent success.
func TestParseReadErrors(t *testing.T) {
	b, err := os.ReadFile(plugintest.Build(t, "basic"))
	if err != nil {
		t.Fatal(err)
	}
	rec := &failingReader{data: b, failAt: int64(len(b))}
	if _, err := Parse(rec, int64(len(b))); err != nil {
		t.Fatal(err)
	}
	for _, frac := range []int64{0, 1, 2, 4, 8, 16, 32, 63} {
		at := rec.maxRead * frac / 64
		f, err := Parse(&failingReader{data: b, failAt: at}, int64(len(b)))
		if f != nil || !errors.Is(err, errDisk) {
			t.Errorf("reads failing from %d: %v, %v; want errDisk", at, f, err)
		}
		var fe *FormatError
		if errors.As(err, &fe) {
			t.Errorf("reads failing from %d: an I/O error reported as %v", at, fe)
		}
	}
	short := b[:rec.maxRead-1]
	if f, err := Parse(bytes.NewReader(short), int64(len(b))); f != nil || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("data cut short of the size claimed: %v, %v; want io.ErrUnexpectedEOF", f, err)
	}
	if f, err := Parse(bytes.NewReader(b), -1); f != nil || !errors.Is(err, ErrMalformed) {
		t.Errorf("Parse with size -1: %v, %v", f, err)
	}
}

// countingReader counts ReadAt calls and bytes, and records each read.
type countingReader struct {
	r            io.ReaderAt
	calls, bytes int
	reads        [][2]int64 // offset, length
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.calls++
	c.bytes += len(p)
	c.reads = append(c.reads, [2]int64{off, int64(len(p))})
	return c.r.ReadAt(p, off)
}

// parseCounted parses the file at path through a countingReader.
func parseCounted(t *testing.T, path string, inPlace bool) (*File, *countingReader, int64) {
	t.Helper()
	fh, size := openSized(t, path)
	c := &countingReader{r: fh}
	f, err := parse(c, size, inPlace)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return f, c, size
}

// openSized opens the file at path for the test and returns its size.
func openSized(t *testing.T, path string) (*os.File, int64) {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fh.Close() })
	st, err := fh.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return fh, st.Size()
}

// TestParseReadCount checks that Parse reads by table, not by entry: a
// bounded number of ReadAt calls whatever the number of symbols and
// relocations, and no more bytes than the file has.
func TestParseReadCount(t *testing.T) {
	const maxCalls = 24 // headers, dynamic, ~14 tables, a few window refills
	for _, path := range oracleFiles(t) {
		f, c, size := parseCounted(t, path, false)
		t.Logf("%s: %d ReadAt calls, %d bytes, for %d symbols and %d relocations", filepath.Base(path),
			c.calls, c.bytes, len(f.Dynamic.Symbols), (f.Dynamic.RelaTab.Size+f.Dynamic.JmpRelTab.Size)/relaSize)
		if c.calls > maxCalls || int64(c.bytes) > size {
			t.Errorf("%s: %d ReadAt calls, %d bytes (file %d)", path, c.calls, c.bytes, size)
		}
	}
}

// TestParseWindowsReused parses several objects in a row, in place and
// decoded, so that each parse takes the window buffers the one before
// released (windowBufs), then parses each again with the pool's buffers
// overwritten in between: the results must be equal. It fails if a parsed
// File kept bytes of a window.
func TestParseWindowsReused(t *testing.T) {
	files := oracleFiles(t)
	parseAll := func(inPlace bool) []*File {
		var out []*File
		for _, path := range files {
			fh, size := openSized(t, path)
			f, err := parse(fh, size, inPlace)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			out = append(out, f)
		}
		return out
	}
	for _, inPlace := range []bool{true, false} {
		first := parseAll(inPlace)
		// Scribble over whatever the pool holds now.
		for range 4 {
			b := windowBufs.Get().(*[windowSize]byte)
			for i := range b {
				b[i] = 0xa5
			}
			defer windowBufs.Put(b)
		}
		second := parseAll(inPlace)
		for i := range files {
			if !reflect.DeepEqual(first[i], second[i]) {
				t.Errorf("%s (in place %v): a second parse differs from the first", files[i], inPlace)
			}
		}
	}
}

// TestImportsBelowFirstHashed checks what the loader's import caches
// assume for their size (SymTab.FirstHashed, docs/ASSUMPTIONS.md): the
// linker puts a GNU-hashed object's undefined symbols below the table's
// symoffset. An import above it still links, only slower.
func TestImportsBelowFirstHashed(t *testing.T) {
	for _, path := range oracleFiles(t) {
		fh, size := openSized(t, path)
		f, err := Parse(fh, size)
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
		g := f.Dynamic.GNUHash
		if g == nil {
			continue
		}
		imports := 0
		for i, s := range f.Dynamic.Symbols {
			if i > 0 && s.Shndx == elf.SHN_UNDEF {
				imports++
				if i >= int(g.SymOffset) {
					t.Errorf("%s: import %q is symbol %d, at or above symoffset %d", filepath.Base(path), s.Name, i, g.SymOffset)
				}
			}
		}
		t.Logf("%s: %d imports below symoffset %d of %d symbols", filepath.Base(path), imports, g.SymOffset, len(f.Dynamic.Symbols))
	}
}

// TestStringWindowReadsAPage checks that an in-place parse reads the
// string table a page at a time: the names it needs are short and sit
// together, and in a fresh process each further page of a window buffer
// read into is a first-touch fault (docs/FIRSTLOAD.md, branch sqlite2).
// A read that starts inside the string table may only be longer when the
// window reads a hash chain or version list there (win, not strWin),
// which the parse of these files never does.
func TestStringWindowReadsAPage(t *testing.T) {
	inStr := 0 // reads starting inside a string table, every file
	for _, path := range oracleFiles(t) {
		f, log, _ := parseCounted(t, path, true)
		s := f.Dynamic.StrTab
		for _, r := range log.reads {
			if uint64(r[0]) < s.Off || uint64(r[0]) >= s.Off+s.Size {
				continue
			}
			inStr++
			if r[1] > windowSize {
				t.Errorf("%s: read of %d bytes at %#x, inside the string table [%#x, +%#x): want at most %d", path, r[1], r[0], s.Off, s.Size, windowSize)
			}
		}
	}
	// A small object's string table lies inside an earlier read; a large
	// library's does not.
	if inStr == 0 {
		t.Error("no read inside any string table: the test no longer sees the string window")
	}
}

// TestParseAllocations bounds the allocations of an in-place parse: in a
// fresh process each allocation of a size class not used before takes a
// new span of the Go heap, page faults that cost more than the parse's
// reads on a VM, so what a parse keeps is one block (fileBlock) and its
// windows read a page, and the names of fields in errors are built only
// for an error (docs/FIRSTLOAD.md, branch firstload4). basic.so has no
// version tables: its parse allocates the block and the parser (the
// windows, which also take the dynamic segment, come from their pool).
// libsqlite3 adds its needed libraries and its version and file names;
// its version entries and their table are in the block (80 allocations
// when every version entry built its error names, 26 with them in a slice
// of their own; 19 on x86-64, 20 for arm64's copy: the bound leaves that
// room).
func TestParseAllocations(t *testing.T) {
	sqlite := testenv.SystemLibPath("libsqlite3.so.0")
	testenv.NeedFile(t, sqlite, ".ci/run installs the system libraries")
	for _, tc := range []struct {
		path string
		max  float64
	}{
		{plugintest.Build(t, "basic"), 2},
		{sqlite, 22},
	} {
		fh, size := openSized(t, tc.path)
		n := testing.AllocsPerRun(10, func() {
			if _, err := ParseInPlace(fh, size); err != nil {
				t.Fatal(err)
			}
		})
		if n > tc.max {
			t.Errorf("%s: ParseInPlace makes %v allocations, want at most %v", filepath.Base(tc.path), n, tc.max)
		}
	}
}
