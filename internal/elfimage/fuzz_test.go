package elfimage

import (
	"bytes"
	"errors"
	"strconv"
	"testing"

	"github.com/runplug/runplug/internal/elfbuild"
)

// The committed seeds made from the test plugins (testdata/fuzz/FuzzParse/plugin-*):
//
//go:generate go run ../cmd/fuzzseeds FuzzParse

// fuzzSeeds returns generated inputs for FuzzParse: the full elfbuild
// object, a minimal one, and every malformed variant of the table test.
func fuzzSeeds(tb testing.TB) map[string][]byte {
	seeds := map[string][]byte{}
	full := buildFull(tb)
	seeds["elfbuild-full"] = full.Data
	min, err := elfbuild.Build(elfbuild.Spec{Syms: []elfbuild.Sym{{Name: "f"}}})
	if err != nil {
		tb.Fatal(err)
	}
	seeds["elfbuild-min"] = min.Data
	sysv, err := elfbuild.Build(elfbuild.Spec{Syms: []elfbuild.Sym{{Name: "f"}, {Name: "g", Version: "V"}}, NoGNUHash: true, SysVHash: true})
	if err != nil {
		tb.Fatal(err)
	}
	seeds["elfbuild-sysv"] = sysv.Data
	for i, c := range builderCases(tb, full) {
		o := full.Clone()
		c.patch(o)
		seeds["elfbuild-bad-"+strconv.Itoa(i)] = o.Data
	}
	return seeds
}

// FuzzParse checks Parse's contract on arbitrary bytes: an error exactly
// when the result is nil, a *FormatError for every refusal (the reader
// never fails), never a panic, and every table of an accepted file within
// the file and the image. Lookup of every name of an accepted file must
// not panic and must return a symbol of that name.
func FuzzParse(f *testing.F) {
	for _, b := range fuzzSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkInPlace(t, data)
		file, err := Parse(bytes.NewReader(data), int64(len(data)))
		if (file == nil) == (err == nil) {
			t.Fatalf("Parse = %v, %v: exactly one must be nil", file, err)
		}
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("refusal %v (%T) is not a *FormatError", err, err)
			}
			if fe.Err != ErrMalformed && fe.Err != ErrUnsupported {
				t.Fatalf("FormatError %v wraps %v", fe, fe.Err)
			}
			if fe.Off >= int64(len(data)) {
				t.Fatalf("FormatError %v: offset %#x beyond the file", fe, fe.Off)
			}
			return
		}
		checkInvariants(t, file, uint64(len(data)))
		checkRelocViews(t, file, data)
		checkSymViews(t, file, data)
	})
}

// checkInvariants checks what Parse promises about an accepted file.
func checkInvariants(t *testing.T, f *File, size uint64) {
	t.Helper()
	if len(f.Loads) == 0 || f.Dynamic == nil {
		t.Fatalf("accepted without loads or dynamic: %+v", f)
	}
	var prevEnd uint64
	for i, ld := range f.Loads {
		if ld.Off > size || ld.Filesz > size-ld.Off || ld.Filesz > ld.Memsz {
			t.Fatalf("load %d %+v outside the file (%#x bytes)", i, ld, size)
		}
		if i > 0 && ld.Vaddr < prevEnd {
			t.Fatalf("load %d overlaps", i)
		}
		prevEnd = ld.Vaddr + ld.Memsz
		if prevEnd < ld.Vaddr || prevEnd > f.MaxVaddr || ld.Vaddr < f.MinVaddr {
			t.Fatalf("load %d %+v outside the image [%#x, %#x)", i, ld, f.MinVaddr, f.MaxVaddr)
		}
	}
	if f.MaxVaddr-f.MinVaddr > MaxSpan {
		t.Fatalf("span %#x", f.MaxVaddr-f.MinVaddr)
	}
	d := f.Dynamic
	n := uint64(len(d.Symbols))
	if n == 0 || n*symSize > size {
		t.Fatalf("symbol table larger than the file: %d symbols, %#x bytes", n, size)
	}
	for _, tab := range []Table{d.RelaTab, d.JmpRelTab, d.RelrTab} {
		if tab.Size > size || tab.Off > size-tab.Size {
			t.Fatalf("relocation table %+v outside the file (%#x bytes)", tab, size)
		}
		if tab.Size > 0 && (tab.Vaddr < f.MinVaddr || tab.Vaddr > f.MaxVaddr || tab.Size > f.MaxVaddr-tab.Vaddr) {
			t.Fatalf("relocation table %+v outside the image [%#x, %#x)", tab, f.MinVaddr, f.MaxVaddr)
		}
	}
	if g := d.GNUHash; g != nil {
		v := d.hash
		if uint64(g.SymOffset)+uint64(g.NChain) > n || g.NBuckets == 0 || g.NBloom == 0 ||
			len(v.chain) != 4*int(g.NChain) || len(v.buckets) != 4*int(g.NBuckets) || len(v.bloom) != 8*int(g.NBloom) {
			t.Fatalf("GNU hash %+v, view %d/%d/%d bytes, for %d symbols", g, len(v.bloom), len(v.buckets), len(v.chain), n)
		}
		for _, b := range words32(v.buckets) {
			if b != 0 && (b < g.SymOffset || uint64(b) >= n) {
				t.Fatalf("GNU bucket %d outside [%d, %d)", b, g.SymOffset, n)
			}
		}
	}
	if h := d.Hash; h != nil {
		if uint64(h.NChain) != n || h.NBucket == 0 || h.Tab.Size != 8+4*uint64(h.NBucket+h.NChain) {
			t.Fatalf("DT_HASH %+v for %d symbols", h, n)
		}
		if d.GNUHash == nil && (len(d.hash.buckets) != 4*int(h.NBucket) || len(d.hash.chain) != 4*int(h.NChain)) {
			t.Fatalf("DT_HASH %+v, view %d/%d bytes", h, len(d.hash.buckets), len(d.hash.chain))
		}
	}
	for _, s := range []struct {
		addr, n uint64
		exec    bool
	}{{d.Init, 1, true}, {d.Fini, 1, true}, {d.InitArray, 8 * d.InitArrayLen, false}, {d.FiniArray, 8 * d.FiniArrayLen, false}} {
		if s.addr != 0 && s.n != 0 && !f.inSegment(s.addr, s.n, s.exec) {
			t.Fatalf("init/fini %#x+%#x outside the image", s.addr, s.n)
		}
	}
	// Look up the names of the first symbols (a hostile table can make
	// every chain as long as the table: looking up all names would be
	// quadratic, which is the fuzz harness's cost, not Parse's).
	for i := range d.Symbols[:min(len(d.Symbols), 256)] {
		s := &d.Symbols[i]
		for _, v := range []string{"", s.Version} {
			if j, ok := d.Lookup(s.Name, v); ok && d.Symbols[j].Name != s.Name {
				t.Fatalf("Lookup(%q, %q) = %d named %q", s.Name, v, j, d.Symbols[j].Name)
			}
		}
	}
}

// FuzzLookup compares Lookup through the hash tables with a linear scan
// that applies the same matching rules, on objects with the GNU hash,
// DT_HASH, or both.
func FuzzLookup(f *testing.F) {
	spec := fullSpec()
	var dyns []*Dynamic
	for _, h := range []struct{ noGNU, sysv bool }{{false, false}, {true, true}, {false, true}} {
		spec.NoGNUHash, spec.SysVHash = h.noGNU, h.sysv
		o, err := elfbuild.Build(spec)
		if err != nil {
			f.Fatal(err)
		}
		file, err := Parse(bytes.NewReader(o.Data), int64(len(o.Data)))
		if err != nil {
			f.Fatal(err)
		}
		dyns = append(dyns, file.Dynamic)
	}
	for _, s := range spec.Syms {
		f.Add(s.Name, s.Version)
		f.Add(s.Name, "")
	}
	f.Add("vfunc", "NOPE")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, name, version string) {
		for _, d := range dyns {
			i, ok := d.Lookup(name, version)
			want := linearLookup(d, name, version)
			if ok != (want >= 0) {
				t.Fatalf("Lookup(%q, %q) = %d, %v; the linear scan finds %d", name, version, i, ok, want)
			}
			if ok {
				got, exp := d.Symbols[i], d.Symbols[want]
				if got.Name != exp.Name || got.Version != exp.Version || got.Hidden != exp.Hidden {
					t.Fatalf("Lookup(%q, %q) = %+v, the linear scan %+v", name, version, got, exp)
				}
			}
		}
	})
}

// linearLookup is Lookup without the hash tables.
func linearLookup(d *Dynamic, name, version string) int {
	fallback := -1
	for i := range d.Symbols {
		switch d.match(i, name, version) {
		case matchYes:
			return i
		case matchFallback:
			if fallback < 0 {
				fallback = i
			}
		}
	}
	return fallback
}
