package elfimage

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// relocsOfFile decodes f's relocation tables from the file at path.
func relocsOfFile(t testing.TB, f *File, path string) *Relocs {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	rs, err := f.ReadRelocs(fh)
	if err != nil {
		t.Fatalf("ReadRelocs: %v", err)
	}
	return rs
}

// relocsOfBytes decodes f's relocation tables from the bytes it was
// parsed from.
func relocsOfBytes(t testing.TB, f *File, data []byte) *Relocs {
	t.Helper()
	rs, err := f.ReadRelocs(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("ReadRelocs: %v", err)
	}
	return rs
}

// checkRelocViews maps an accepted file (when its plan allows and its span
// is small) and checks that the tables read in place in the image are
// exactly what ReadRelocs decodes from the file: what the loader walks is
// what the file says.
func checkRelocViews(t testing.TB, f *File, data []byte) {
	t.Helper()
	rs := relocsOfBytes(t, f, data)
	if f.MaxVaddr-f.MinVaddr > 64<<20 {
		return
	}
	plan, err := NewPlan(f, PlanOptions{})
	if err != nil {
		return // refused when planning (writable and executable): not a view's business
	}
	img, err := MapBytes(plan, data)
	if err != nil {
		t.Fatalf("MapBytes of an accepted, planned file: %v", err)
	}
	defer img.Unmap()
	mem := img.Mem()
	d := f.Dynamic
	for _, c := range []struct {
		name string
		tab  Table
		want []Rela
	}{{"DT_RELA", d.RelaTab, rs.Rela}, {"DT_JMPREL", d.JmpRelTab, rs.JmpRel}} {
		b, ok := c.tab.In(mem, plan.MinVaddr)
		if !ok {
			t.Fatalf("%s %+v is not inside the mapped image (%#x bytes from %#x)", c.name, c.tab, len(mem), plan.MinVaddr)
		}
		v := RelaView(b)
		if v.Len() != len(c.want) {
			t.Fatalf("%s: %d entries in place, %d decoded", c.name, v.Len(), len(c.want))
		}
		for i := range c.want {
			if v.At(i) != c.want[i] {
				t.Fatalf("%s[%d] = %+v in place, %+v decoded", c.name, i, v.At(i), c.want[i])
			}
		}
	}
	b, ok := d.RelrTab.In(mem, plan.MinVaddr)
	if !ok {
		t.Fatalf("DT_RELR %+v is not inside the mapped image", d.RelrTab)
	}
	v := RelrView(b)
	if v.Len() != len(rs.Relr) {
		t.Fatalf("DT_RELR: %d entries in place, %d decoded", v.Len(), len(rs.Relr))
	}
	for i := range rs.Relr {
		if v.At(i) != rs.Relr[i] {
			t.Fatalf("DT_RELR[%d] = %#x in place, %#x decoded", i, v.At(i), rs.Relr[i])
		}
	}
}

// TestRelocViewsOfRealObjects checks the in-place views against the
// decoded tables of the system's libraries and the test plugins.
func TestRelocViewsOfRealObjects(t *testing.T) {
	for _, path := range oracleFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := Parse(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			checkRelocViews(t, f, data)
			checkSymViews(t, f, data)
		})
	}
}

// TestTableIn checks the bounds of Table.In.
func TestTableIn(t *testing.T) {
	mem := make([]byte, 0x100)
	for _, c := range []struct {
		tab Table
		ok  bool
	}{
		{Table{}, true},
		{Table{Vaddr: 0x1000, Size: 0x100}, true},
		{Table{Vaddr: 0x10f8, Size: 8}, true},
		{Table{Vaddr: 0x10f8, Size: 16}, false},
		{Table{Vaddr: 0xff8, Size: 8}, false},
		{Table{Vaddr: 0x1200, Size: 8}, false},
		{Table{Vaddr: 0x1008, Size: ^uint64(0) - 4}, false},
	} {
		b, ok := c.tab.In(mem, 0x1000)
		if ok != c.ok || (ok && uint64(len(b)) != c.tab.Size) {
			t.Errorf("%+v.In = %d bytes, %v; want ok %v", c.tab, len(b), ok, c.ok)
		}
	}
}

// checkSymViews checks ParseInPlace and SymTab against Parse's decoded
// model of an accepted file: the same File but for the symbols, and every
// symbol and every lookup in place the same as decoded.
func checkSymViews(t testing.TB, f *File, data []byte) {
	t.Helper()
	g, err := ParseInPlace(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("ParseInPlace refuses what Parse accepts: %v", err)
	}
	if g.Dynamic.Symbols != nil || g.Dynamic.hash.buckets != nil || g.Dynamic.hash.chain != nil {
		t.Fatal("ParseInPlace decoded the symbols or the hash table")
	}
	fd, gd := f.Dynamic, g.Dynamic
	if (gd.Hash == nil) != (fd.Hash == nil) || gd.Hash != nil && *gd.Hash != *fd.Hash {
		t.Fatalf("DT_HASH in place %+v, decoded %+v", gd.Hash, fd.Hash)
	}
	if (gd.GNUHash == nil) != (fd.GNUHash == nil) || gd.GNUHash != nil && fd.Hash == nil && *gd.GNUHash != *fd.GNUHash {
		// (With DT_HASH, ParseInPlace takes the count from it and does
		// not walk the GNU chain: only the lookups below must agree.)
		t.Fatalf("DT_GNU_HASH in place %+v, decoded %+v", gd.GNUHash, fd.GNUHash)
	}
	if gd.SymTab != fd.SymTab || gd.StrTab != fd.StrTab || gd.VersymTab != fd.VersymTab || gd.RelaTab != fd.RelaTab ||
		!equalStrings(gd.Needed, fd.Needed) || gd.Soname != fd.Soname || gd.HasVersioning != fd.HasVersioning {
		t.Fatalf("ParseInPlace's Dynamic differs from Parse's:\n%+v\n%+v", gd, fd)
	}
	if f.MaxVaddr-f.MinVaddr > 64<<20 {
		return
	}
	plan, err := NewPlan(g, PlanOptions{})
	if err != nil {
		return
	}
	img, err := MapBytes(plan, data)
	if err != nil {
		t.Fatalf("MapBytes: %v", err)
	}
	defer img.Unmap()
	st, err := gd.SymbolsIn(img.Mem(), plan.MinVaddr)
	if err != nil {
		t.Fatalf("SymbolsIn: %v", err)
	}
	if st.Len() != len(fd.Symbols) {
		t.Fatalf("%d symbols in place, %d decoded", st.Len(), len(fd.Symbols))
	}
	for i := range fd.Symbols {
		s, err := st.Symbol(i)
		if err != nil {
			t.Fatalf("symbol %d in place: %v", i, err)
		}
		if s != fd.Symbols[i] {
			t.Fatalf("symbol %d in place %+v, decoded %+v", i, s, fd.Symbols[i])
		}
		for _, name := range []string{s.Name, s.Name + "_"} {
			for _, ver := range []string{"", s.Version} {
				wi, wok := fd.Lookup(name, ver)
				gi, gok := st.Lookup(name, ver)
				if wi != gi || wok != gok {
					t.Fatalf("Lookup(%q, %q) in place = %d, %v; decoded %d, %v", name, ver, gi, gok, wi, wok)
				}
			}
		}
	}
}

// checkInPlace reads every symbol of a file ParseInPlace accepts (which
// may be one Parse refuses, for a symbol it never reads) in a mapped image:
// never a panic, every refusal a *FormatError.
func checkInPlace(t testing.TB, data []byte) {
	t.Helper()
	g, err := ParseInPlace(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Fatalf("ParseInPlace refusal %v (%T) is not a *FormatError", err, err)
		}
		return
	}
	if g.MaxVaddr-g.MinVaddr > 64<<20 {
		return
	}
	plan, err := NewPlan(g, PlanOptions{})
	if err != nil {
		return
	}
	img, err := MapBytes(plan, data)
	if err != nil {
		t.Fatalf("MapBytes: %v", err)
	}
	defer img.Unmap()
	st, err := g.Dynamic.SymbolsIn(img.Mem(), plan.MinVaddr)
	if err != nil {
		t.Fatalf("SymbolsIn of an accepted file: %v", err)
	}
	for i := 0; i < st.Len() && i < 1<<12; i++ {
		s, err := st.Symbol(i)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("symbol %d: %v is not a malformed *FormatError", i, err)
			}
			continue
		}
		if j, ok := st.Lookup(s.Name, s.Version); ok && j >= st.Len() {
			t.Fatalf("Lookup(%q) = %d of %d symbols", s.Name, j, st.Len())
		}
	}
}
