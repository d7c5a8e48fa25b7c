package plugintest

import (
	"debug/elf"
	"runtime"
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

// C++ and Rust sources build by their Build lines too, for the running
// architecture (Rust on arm64 by its own rule), and export their extern
// "C" functions.
func TestBuildCXXAndRust(t *testing.T) {
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[runtime.GOARCH]
	for _, c := range []struct{ plugin, sym string }{
		{"cxx_exc", "throw_catch"},
		{"rs_panic", "rs_catch"},
	} {
		f, err := elf.Open(Build(t, c.plugin))
		if err != nil {
			t.Fatal(err)
		}
		if f.Machine != machine {
			t.Errorf("%s built for %v, want %v", c.plugin, f.Machine, machine)
		}
		syms, err := f.DynamicSymbols()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, s := range syms {
			found = found || (s.Name == c.sym && s.Section != elf.SHN_UNDEF)
		}
		if !found {
			t.Errorf("%s does not export %s", c.plugin, c.sym)
		}
	}
}

func TestHeaderTools(t *testing.T) {
	for _, c := range []struct {
		src, tool string
		ok        bool
	}{
		{"// Build: cc -shared -o a.so a.c\n", "cc", true},
		{"// Build: c++ -shared -o a.so a.cpp\n", "c++", true},
		{"//! doc\n// Build: rustc --crate-type cdylib -o liba.so a.rs\n", "rustc", true},
		{"// Build: clang -shared -o a.so a.c\n", "", false},
		{"int x;\n// Build: cc -o a.so a.c\n", "", false},
	} {
		tool, _, _, err := header("a", []byte(c.src))
		if (err == nil) != c.ok || tool != c.tool {
			t.Errorf("header(%q) = %q, %v; want %q, ok %v", c.src, tool, err, c.tool, c.ok)
		}
	}
}
