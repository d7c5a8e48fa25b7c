package elfimage

import (
	"bytes"
	"debug/elf"
	"testing"

	"github.com/runplug/runplug/internal/elfbuild"
	"github.com/runplug/runplug/internal/plugintest"
)

// An object that exports nothing has an empty DT_GNU_HASH: GNU ld writes
// symoffset 1 and no bucket even though its imports sit at indexes 1 and
// up. Parse must still see every symbol (the relocations name them).
func TestEmptyGNUHashImports(t *testing.T) {
	o, err := elfbuild.Build(elfbuild.Spec{
		Syms: []elfbuild.Sym{
			{Name: "setenv", Undef: true},
			{Name: "__gmon_start__", Undef: true, Bind: elf.STB_WEAK},
			{Name: "unsetenv", Undef: true},
		},
		Rela:      []elfbuild.Reloc{{Type: elf.R_X86_64_GLOB_DAT, Sym: "unsetenv"}},
		InitArray: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	// As GNU ld: symoffset 1 although three imports follow the null symbol.
	o.Put32(o.Tables["gnu.hash"].Off+4, 1)
	f, err := Parse(bytes.NewReader(o.Data), int64(len(o.Data)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(f.Dynamic.Symbols), len(o.Syms); got != want {
		t.Fatalf("%d symbols, want %d", got, want)
	}
	for i, name := range o.Syms {
		if f.Dynamic.Symbols[i].Name != name {
			t.Errorf("symbol %d is %q, want %q", i, f.Dynamic.Symbols[i].Name, name)
		}
	}
	if _, ok := f.Dynamic.Lookup("setenv", ""); ok {
		t.Error("Lookup found an import")
	}
}

// TestCtorOnlyPlugin parses the real thing, built by the system's compiler.
func TestCtorOnlyPlugin(t *testing.T) {
	path := plugintest.Build(t, "ctor_only")
	f, err := ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := f.Dynamic
	rs := relocsOfFile(t, f, path)
	if d.GNUHash == nil || !gnuHashEmpty(d.GNUHash) || d.Hash != nil {
		t.Fatal("the linker did not produce an empty GNU hash table alone: the plugin no longer tests what it should")
	}
	max := 0
	for _, r := range append(append([]Rela(nil), rs.Rela...), rs.JmpRel...) {
		max = maxInt(max, int(r.Sym))
	}
	if max >= len(d.Symbols) {
		t.Fatalf("a relocation names symbol %d of %d", max, len(d.Symbols))
	}
	found := false
	for _, s := range d.Symbols {
		found = found || s.Name == "setenv"
	}
	if !found {
		t.Errorf("setenv is not among the %d symbols", len(d.Symbols))
	}
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}
