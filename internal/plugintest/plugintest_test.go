package plugintest

import (
	"debug/elf"
	"testing"
)

func TestBuildBasic(t *testing.T) {
	path := Build(t, "basic")
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Type != elf.ET_DYN {
		t.Fatalf("type = %v, want ET_DYN", f.Type)
	}
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range syms {
		if s.Name == "add" {
			found = true
		}
	}
	if !found {
		t.Fatal("basic.so does not export add")
	}
	// A second call returns the cached object without rebuilding.
	if again := Build(t, "basic"); again != path {
		t.Fatalf("second build gave %s, want %s", again, path)
	}
}
