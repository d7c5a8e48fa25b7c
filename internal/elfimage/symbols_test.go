package elfimage

import (
	"debug/elf"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/runplug/runplug/internal/elfbuild"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
)

// exported reports whether s is a definition Lookup may return.
func exported(s *Symbol) bool {
	if !s.Defined() || s.Type == elf.STT_SECTION || s.Type == elf.STT_FILE {
		return false
	}
	return s.Bind == elf.STB_GLOBAL || s.Bind == elf.STB_WEAK || s.Bind == stbGNUUnique
}

// checkLookupAll looks up every exported symbol of d, at its own version
// and unversioned, and every import that the object does not define.
func checkLookupAll(t *testing.T, d *Dynamic) (found int) {
	t.Helper()
	defined := map[string]bool{}
	for i := range d.Symbols {
		if exported(&d.Symbols[i]) {
			defined[d.Symbols[i].Name] = true
		}
	}
	for i := range d.Symbols {
		s := &d.Symbols[i]
		if !exported(s) {
			if s.Name != "" && s.Shndx == elf.SHN_UNDEF && !defined[s.Name] {
				if j, ok := d.Lookup(s.Name, ""); ok {
					t.Errorf("Lookup(%q) of an import found %d", s.Name, j)
				}
			}
			continue
		}
		j, ok := d.Lookup(s.Name, s.Version)
		if !ok {
			t.Errorf("Lookup(%q, %q) of symbol %d: not found", s.Name, s.Version, i)
			continue
		}
		found++
		if got := &d.Symbols[j]; got.Name != s.Name || got.Version != s.Version {
			t.Errorf("Lookup(%q, %q) = %d (%q@%q)", s.Name, s.Version, j, got.Name, got.Version)
		}
		if gj, gok := d.LookupHashed(s.Name, GNUHashOf(s.Name), SysVHashOf(s.Name), s.Version); gj != j || gok != ok {
			t.Errorf("LookupHashed(%q) = %d, %v; Lookup %d, %v", s.Name, gj, gok, j, ok)
		}
		u, ok := d.Lookup(s.Name, "")
		if s.Hidden {
			if ok && d.Symbols[u].Hidden {
				t.Errorf("Lookup(%q, \"\") = hidden %d", s.Name, u)
			}
			continue
		}
		if !ok {
			t.Errorf("Lookup(%q, \"\") of default symbol %d: not found", s.Name, i)
		} else if d.Symbols[u].Name != s.Name || d.Symbols[u].Hidden {
			t.Errorf("Lookup(%q, \"\") = %d (%+v)", s.Name, u, d.Symbols[u])
		}
	}
	for _, name := range []string{"", "no_such_symbol_in_here", "\x00"} {
		if j, ok := d.Lookup(name, ""); ok {
			t.Errorf("Lookup(%q) found %d", name, j)
		}
	}
	return found
}

// TestLookupRealObjects finds every exported symbol of the oracle
// libraries and a plugin linked with both hash tables, through the GNU
// hash and, where present, through DT_HASH alone.
func TestLookupRealObjects(t *testing.T) {
	for _, path := range oracleFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			d := f.Dynamic
			n := checkLookupAll(t, d)
			if n == 0 {
				t.Fatalf("no exported symbol found")
			}
			t.Logf("%d exports found by the GNU hash", n)
			if d.Hash != nil && d.GNUHash != nil {
				// The same lookups through DT_HASH alone.
				if m := checkLookupAll(t, sysvOnly(t, d, path)); m != n {
					t.Errorf("DT_HASH found %d exports, DT_GNU_HASH %d", m, n)
				}
			}
		})
	}
}

// TestLookupHashes checks both hash functions against the tables a real
// linker wrote: every symbol's GNU chain entry is its hash (low bit
// aside), and every symbol sits in the DT_HASH chain of its bucket.
func TestLookupHashes(t *testing.T) {
	path := plugintest.Build(t, "parse_hashboth")
	f, err := ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := f.Dynamic
	if d.GNUHash == nil || d.Hash == nil {
		t.Fatalf("parse_hashboth lacks a hash table: gnu %v sysv %v", d.GNUHash, d.Hash)
	}
	g, gchain := d.GNUHash, words32(d.hash.chain)
	for i := int(g.SymOffset); i < len(d.Symbols); i++ {
		if got, want := GNUHashOf(d.Symbols[i].Name)|1, gchain[i-int(g.SymOffset)]|1; got != want {
			t.Errorf("GNUHashOf(%q) = %#x, linker wrote %#x", d.Symbols[i].Name, got, want)
		}
	}
	h := sysvOnly(t, d, path).hash
	buckets, chains := words32(h.buckets), words32(h.chain)
	for i := 1; i < len(d.Symbols); i++ {
		if d.Symbols[i].Bind == elf.STB_LOCAL {
			continue // AArch64's section symbols: in no hash chain
		}
		k := SysVHashOf(d.Symbols[i].Name) % uint32(len(buckets))
		found := false
		for j, steps := buckets[k], 0; j != 0 && steps < len(chains); j, steps = chains[j], steps+1 {
			if int(j) == i {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("symbol %d %q is not in the DT_HASH chain of bucket %d (SysVHashOf %#x)", i, d.Symbols[i].Name, k, SysVHashOf(d.Symbols[i].Name))
		}
	}
	// The builder's independent implementations agree on more names.
	for _, name := range []string{"", "a", "printf", "memcpy", "\xff\xfe\x80", "a_very_long_symbol_name_that_overflows_32_bits_many_times"} {
		if GNUHashOf(name) != elfbuild.GNUHash(name) || SysVHashOf(name) != elfbuild.SysVHash(name) {
			t.Errorf("%q: GNU %#x/%#x SysV %#x/%#x", name, GNUHashOf(name), elfbuild.GNUHash(name), SysVHashOf(name), elfbuild.SysVHash(name))
		}
	}
}

// TestLookupLibcVersions checks the versioned lookups of libc against
// debug/elf: memcpy's default version and its hidden older one.
func TestLookupLibcVersions(t *testing.T) {
	libc := testenv.SystemLibPath("libc.so.6")
	testenv.NeedFile(t, libc, "libc6")
	f, err := ParseFile(libc)
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.Open(libc)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	syms, err := ef.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"memcpy", "realpath", "posix_spawn", "pthread_cond_wait"} {
		var def string
		var hidden []string
		for _, s := range syms {
			if s.Name != name || s.Section == elf.SHN_UNDEF {
				continue
			}
			if s.VersionIndex.IsHidden() {
				hidden = append(hidden, s.Version)
			} else {
				def = s.Version
			}
		}
		if def == "" || len(hidden) == 0 {
			t.Logf("%s: default %q hidden %q: not a two-version symbol here", name, def, hidden)
			continue
		}
		i, ok := f.Dynamic.Lookup(name, "")
		if !ok || f.Dynamic.Symbols[i].Version != def {
			t.Errorf("Lookup(%q, \"\") = %d, %v; want version %s", name, i, ok, def)
		}
		for _, v := range append(hidden, def) {
			i, ok := f.Dynamic.Lookup(name, v)
			if !ok || f.Dynamic.Symbols[i].Version != v {
				t.Errorf("Lookup(%q, %q) = %d, %v", name, v, i, ok)
			}
		}
		if i, ok := f.Dynamic.Lookup(name, "GLIBC_0.0"); ok {
			t.Errorf("Lookup(%q, GLIBC_0.0) = %d: no such version, and no unversioned definition", name, i)
		}
	}
}

// TestLookupRules checks check_match's rules on a built object, through
// the GNU hash, DT_HASH and both.
func TestLookupRules(t *testing.T) {
	syms := []elfbuild.Sym{
		{Name: "plain"},
		{Name: "weakdef", Bind: elf.STB_WEAK},
		{Name: "unique", Bind: stbGNUUnique, Type: elf.STT_OBJECT},
		{Name: "localdef", Local: true},
		{Name: "sect", Type: elf.STT_SECTION},
		{Name: "filesym", Type: elf.STT_FILE},
		{Name: "import", Undef: true},
		{Name: "vfunc", Version: "V1", Hidden: true},
		{Name: "vfunc", Version: "V2"},
		{Name: "only_hidden", Version: "V1", Hidden: true},
		{Name: "only_v1", Version: "V1"},
		{Name: "both", Version: "V1", Hidden: true},
		{Name: "both"},
	}
	type want struct {
		name, version string
		ok            bool
		gotVersion    string
		gotHidden     bool
	}
	wants := []want{
		{"plain", "", true, "", false},
		{"plain", "V1", true, "", false}, // unversioned fallback
		{"weakdef", "", true, "", false},
		{"unique", "", true, "", false},
		{"localdef", "", false, "", false},
		{"sect", "", false, "", false},
		{"filesym", "", false, "", false},
		{"import", "", false, "", false},
		{"missing", "", false, "", false},
		{"vfunc", "", true, "V2", false},
		{"vfunc", "V1", true, "V1", true},
		{"vfunc", "V2", true, "V2", false},
		{"vfunc", "V3", false, "", false}, // no such version and no unversioned one
		{"only_hidden", "", false, "", false},
		{"only_hidden", "V1", true, "V1", true},
		{"only_v1", "", true, "V1", false},
		{"only_v1", "V2", false, "", false},
		{"both", "", true, "", false},
		{"both", "V1", true, "V1", true}, // the exact version wins over the fallback
		{"both", "V9", true, "", false},
	}
	for _, hashes := range []struct {
		name       string
		noGNU, sys bool
	}{{"gnu", false, false}, {"sysv", true, true}, {"both", false, true}} {
		t.Run(hashes.name, func(t *testing.T) {
			o, err := elfbuild.Build(elfbuild.Spec{Syms: syms, NoGNUHash: hashes.noGNU, SysVHash: hashes.sys})
			if err != nil {
				t.Fatal(err)
			}
			f, err := parseBytes(o.Data)
			if err != nil {
				t.Fatal(err)
			}
			d := f.Dynamic
			if (d.GNUHash == nil) != hashes.noGNU || (d.Hash != nil) != hashes.sys {
				t.Fatalf("hash tables: gnu %v sysv %v", d.GNUHash != nil, d.Hash != nil)
			}
			for _, w := range wants {
				i, ok := d.Lookup(w.name, w.version)
				if ok != w.ok {
					t.Errorf("Lookup(%q, %q) = %d, %v; want ok %v", w.name, w.version, i, ok, w.ok)
					continue
				}
				if !ok {
					if i != -1 {
						t.Errorf("Lookup(%q, %q) failed with index %d, want -1", w.name, w.version, i)
					}
					continue
				}
				s := d.Symbols[i]
				if s.Name != w.name || s.Version != w.gotVersion || s.Hidden != w.gotHidden {
					t.Errorf("Lookup(%q, %q) = %+v; want version %q hidden %v", w.name, w.version, s, w.gotVersion, w.gotHidden)
				}
			}
		})
	}
}

// TestLookupVersymLocal checks that a definition whose versym is
// VER_NDX_LOCAL is not found.
func TestLookupVersymLocal(t *testing.T) {
	o, err := elfbuild.Build(elfbuild.Spec{Syms: []elfbuild.Sym{{Name: "a", Version: "V1"}, {Name: "b"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		p := o.Clone()
		p.Put16(p.Tables["versym"].Off+2*int64(p.SymIndex(name)), 0)
		f, err := parseBytes(p.Data)
		if err != nil {
			t.Fatal(err)
		}
		i := p.SymIndex(name)
		if !f.Dynamic.Symbols[i].Local || f.Dynamic.Symbols[i].Defined() {
			t.Errorf("%s: %+v, want Local", name, f.Dynamic.Symbols[i])
		}
		for _, v := range []string{"", "V1"} {
			if j, ok := f.Dynamic.Lookup(name, v); ok {
				t.Errorf("Lookup(%q, %q) of a local symbol = %d", name, v, j)
			}
		}
	}
}

// TestLookupHandBuilt checks that Lookup on inconsistent hand-built tables
// (not from Parse) fails rather than panicking or looping.
func TestLookupHandBuilt(t *testing.T) {
	syms := []Symbol{{}, {Name: "x", Shndx: 1, Bind: elf.STB_GLOBAL}}
	gnu := func(v hashView) *Dynamic {
		d := &Dynamic{Symbols: syms, hash: v}
		if v.gnu {
			d.GNUHash = &GNUHash{}
		}
		return d
	}
	cases := []struct {
		name string
		d    *Dynamic
	}{
		{"empty", &Dynamic{}},
		{"no buckets", gnu(hashView{gnu: true, bloom: words64(^uint64(0))})},
		{"no bloom", gnu(hashView{gnu: true, buckets: words(1)})},
		{"bucket past chain", gnu(hashView{gnu: true, symoff: 1, bloom: words64(^uint64(0)), buckets: words(9)})},
		{"bucket below symoffset", gnu(hashView{gnu: true, symoff: 2, bloom: words64(^uint64(0)), buckets: words(1), chain: words(0)})},
		{"chain past symbols", gnu(hashView{gnu: true, symoff: 1, bloom: words64(^uint64(0)), buckets: words(1), chain: words(0, 0, 0, 0)})},
		{"odd bytes", gnu(hashView{gnu: true, symoff: 1, bloom: words64(^uint64(0))[:7], buckets: words(1)[:3], chain: words(0)[:2]})},
		{"sysv no buckets", gnu(hashView{chain: words(0, 0)})},
		{"sysv cycle", gnu(hashView{buckets: words(1), chain: words(1, 1)})},
		{"sysv past symbols", gnu(hashView{buckets: words(5), chain: words(0, 0, 0, 0, 0, 5)})},
	}
	for _, c := range cases {
		if i, ok := c.d.Lookup("nope", ""); ok {
			t.Errorf("%s: Lookup(nope) = %d", c.name, i)
		}
		c.d.Lookup("x", "")
		c.d.Lookup("x", "V")
	}
}

// BenchmarkParse parses oracle libraries from memory-backed file reads
// (the page cache): with Parse (the decoded model) and with ParseInPlace
// (the loader's parse, which copies no large table).
func BenchmarkParse(b *testing.B) {
	paths := []string{testenv.SystemLibPath("libsqlite3.so.0"), testenv.SystemLibPath("libc.so.6"), testenv.SystemLibPath("libLLVM-15.so.1")}
	for _, path := range paths {
		for _, parse := range []struct {
			name string
			fn   func(io.ReaderAt, int64) (*File, error)
		}{{"decoded", Parse}, {"inplace", ParseInPlace}} {
			b.Run(filepath.Base(path)+"/"+parse.name, func(b *testing.B) {
				testenv.NeedFile(b, path, "Debian's libsqlite3-0, libc6 and libllvm15 (.ci/run installs the first two)")
				fh, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				defer fh.Close()
				st, _ := fh.Stat()
				b.ReportAllocs()
				for range b.N {
					if _, err := parse.fn(fh, st.Size()); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkLookup looks up every export of libc once per iteration.
func BenchmarkLookup(b *testing.B) {
	f, err := ParseFile(testenv.SystemLibPath("libc.so.6"))
	if err != nil {
		b.Fatal(err)
	}
	d := f.Dynamic
	var names []string
	for i := range d.Symbols {
		if exported(&d.Symbols[i]) && !d.Symbols[i].Hidden {
			names = append(names, d.Symbols[i].Name)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, n := range names {
			if _, ok := d.Lookup(n, ""); !ok {
				b.Fatal(n)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(names)), "ns/lookup")
}

// words32 decodes little-endian 32-bit words.
func words32(b []byte) []uint32 {
	w := make([]uint32, len(b)/4)
	for i := range w {
		w[i] = le.Uint32(b[4*i:])
	}
	return w
}

// words encodes little-endian 32-bit words.
func words(w ...uint32) []byte {
	b := make([]byte, 4*len(w))
	for i, v := range w {
		le.PutUint32(b[4*i:], v)
	}
	return b
}

// words64 encodes little-endian 64-bit words.
func words64(w ...uint64) []byte {
	b := make([]byte, 8*len(w))
	for i, v := range w {
		le.PutUint64(b[8*i:], v)
	}
	return b
}

// sysvOnly returns d, parsed from the file at path, as if it had only its
// DT_HASH table, which Lookup then walks.
func sysvOnly(t *testing.T, d *Dynamic, path string) *Dynamic {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sysv := *d
	sysv.GNUHash = nil
	if sysv.hash, err = sysv.hashViewOf(func(name string, tab Table) ([]byte, error) {
		b := make([]byte, tab.Size)
		_, err := fh.ReadAt(b, int64(tab.Off))
		return b, err
	}); err != nil {
		t.Fatal(err)
	}
	return &sysv
}
