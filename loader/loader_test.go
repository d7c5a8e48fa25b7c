package loader

import (
	"context"
	"debug/elf"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/errs"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/sysmaps"
)

// newLoader returns a Loader closed at the end of the test.
func newLoader(t testing.TB, opts Options) *Loader {
	t.Helper()
	l := New(opts)
	t.Cleanup(func() {
		if err := l.Close(context.Background()); err != nil {
			t.Errorf("Loader.Close: %v", err)
		}
	})
	return l
}

// load builds plugin name and loads it.
func load(t testing.TB, l *Loader, name string) *Plugin {
	t.Helper()
	p, err := l.Load(context.Background(), plugintest.Build(t, name))
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return p
}

// call looks up fn in p and calls it with args.
func call(t testing.TB, p *Plugin, fn string, args ...uint64) uint64 {
	t.Helper()
	f, err := p.Func(fn)
	if err != nil {
		t.Fatalf("%s: %v", fn, err)
	}
	r, err := f.Call(context.Background(), args...)
	if err != nil {
		t.Fatalf("call %s: %v", fn, err)
	}
	return r
}

// lookup returns the address of symbol name in p.
func lookup(t testing.TB, p *Plugin, name string) uintptr {
	t.Helper()
	s, err := p.Lookup(name)
	if err != nil {
		t.Fatalf("lookup %s: %v", name, err)
	}
	return s.Addr
}

// relaInfos returns the r_info of every relocation in the SHT_RELA
// sections of the object at path and its dynamic symbols, read with
// debug/elf (an independent reader).
func relaInfos(t *testing.T, path string) ([]uint64, []elf.Symbol) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	var infos []uint64
	for _, s := range f.Sections {
		if s.Type != elf.SHT_RELA {
			continue
		}
		data, err := s.Data()
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+24 <= len(data); i += 24 {
			infos = append(infos, f.ByteOrder.Uint64(data[i+8:]))
		}
	}
	return infos, syms
}

// relocTypes returns the set of relocation type names in the object at
// path.
func relocTypes(t *testing.T, path string) map[string]bool {
	t.Helper()
	infos, _ := relaInfos(t, path)
	out := map[string]bool{}
	for _, info := range infos {
		out[errs.RelocTypeName(uint32(info))] = true
	}
	return out
}

// ifuncRelocs counts the relocations of path that call an ifunc
// resolver: IRELATIVEs and those against STT_GNU_IFUNC symbols.
func ifuncRelocs(t *testing.T, path string) int64 {
	t.Helper()
	infos, syms := relaInfos(t, path)
	const sttGNUIFunc = 10
	var n int64
	for _, info := range infos {
		sym := int(info >> 32)
		if uint32(info) == rt.IRelative || sym > 0 && sym <= len(syms) && elf.ST_TYPE(syms[sym-1].Info) == sttGNUIFunc {
			n++
		}
	}
	return n
}

// symValue returns the st_value of a dynamic symbol, read with debug/elf.
func elfSymValue(t *testing.T, path, name string) uint64 {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Name == name {
			return s.Value
		}
	}
	t.Fatalf("%s: no dynamic symbol %s", path, name)
	return 0
}

func TestRelocationTypes(t *testing.T) {
	l := newLoader(t, Options{})
	t.Run("RELATIVE/64/GLOB_DAT", func(t *testing.T) {
		path := plugintest.Build(t, "reloc_types")
		types := relocTypes(t, path)
		for _, want := range []string{errs.RelocTypeName(rt.Relative), errs.RelocTypeName(rt.Abs), errs.RelocTypeName(rt.GlobDat)} {
			if !types[want] {
				t.Fatalf("%s has no %s relocation (has %v): the fixture no longer tests it", path, want, types)
			}
		}
		p := load(t, l, "reloc_types")
		for i, want := range []string{"zero", "one", "two"} {
			if got := cString(uintptr(call(t, p, "rt_local_string", uint64(i)))); got != want {
				t.Errorf("rt_local_string(%d) = %q, want %q (RELATIVE)", i, got, want)
			}
		}
		arr := lookup(t, p, "rt_array")
		if got, want := uintptr(call(t, p, "rt_array_addr")), arr+5*4; got != want {
			t.Errorf("rt_array_ptr = %#x, want rt_array+20 = %#x (64-bit absolute with addend)", got, want)
		}
		if got := call(t, p, "rt_array_elem"); got != 15 {
			t.Errorf("*rt_array_ptr = %d, want 15", got)
		}
		val := lookup(t, p, "rt_value")
		if got := uintptr(call(t, p, "rt_value_addr")); got != val {
			t.Errorf("&rt_value through the GOT = %#x, want %#x (GLOB_DAT)", got, val)
		}
		if got := call(t, p, "rt_value_get"); got != 1234 {
			t.Errorf("rt_value = %d, want 1234", got)
		}
		if got := call(t, p, "rt_call", 5); got != 16 {
			t.Errorf("rt_call(5) = %d, want 16", got)
		}
	})
	t.Run("JUMP_SLOT", func(t *testing.T) {
		path := plugintest.Build(t, "reloc_plt")
		if !relocTypes(t, path)[errs.RelocTypeName(rt.JumpSlot)] {
			t.Fatalf("%s has no JUMP_SLOT relocation", path)
		}
		p := load(t, l, "reloc_plt")
		if got := call(t, p, "plt_chain", 20); got != 41 {
			t.Errorf("plt_chain(20) = %d, want 41", got)
		}
		if got := call(t, p, "plt_via_pointer", 9); got != 10 {
			t.Errorf("plt_via_pointer(9) = %d, want 10", got)
		}
		fp := lookup(t, p, "plt_fp")
		if got, want := uintptr(peek64(fp)), lookup(t, p, "plt_inc"); got != want {
			t.Errorf("plt_fp = %#x, want plt_inc %#x", got, want)
		}
	})
}

func TestIFunc(t *testing.T) {
	path := plugintest.Build(t, "ifunc")
	if !relocTypes(t, path)[errs.RelocTypeName(rt.IRelative)] {
		t.Fatalf("%s has no IRELATIVE relocation", path)
	}
	l := newLoader(t, Options{})
	p := load(t, l, "ifunc")
	calls := lookup(t, p, "ifunc_resolver_calls")
	// One resolver call per relocation that needs one, as in glibc: 2 on
	// x86-64 (an IRELATIVE and the JUMP_SLOT to ifunc_scaled); AArch64's
	// gcc makes an IRELATIVE more.
	if got, want := peek64(calls), ifuncRelocs(t, path); got != want {
		t.Errorf("resolvers ran %d times during the load, want %d (IRELATIVEs and relocations against ifunc_scaled)", got, want)
	}
	if got := call(t, p, "ifunc_call_local", 5); got != 12 {
		t.Errorf("ifunc_call_local(5) = %d, want 12 (IRELATIVE)", got)
	}
	if got := call(t, p, "ifunc_call_exported", 5); got != 500 {
		t.Errorf("ifunc_call_exported(5) = %d, want 500", got)
	}
	s, err := p.Lookup("ifunc_scaled")
	if err != nil {
		t.Fatal(err)
	}
	base := p.Base()
	if s.Addr == base+uintptr(elfSymValue(t, path, "ifunc_scaled")) {
		t.Errorf("Lookup(ifunc_scaled) returned the resolver, not its result")
	}
	if !s.Func {
		t.Errorf("Lookup(ifunc_scaled).Func = false")
	}
	f, err := p.Func("ifunc_scaled")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := f.Call(context.Background(), 3); err != nil || got != 300 {
		t.Errorf("ifunc_scaled(3) = %d, %v; want 300", got, err)
	}
}

func TestWeakUndefined(t *testing.T) {
	hostVar := int64(77)
	for _, tc := range []struct {
		name     string
		host     map[string]uintptr
		wantHost int64
	}{
		{"unprovided", nil, -1},
		{"host-supplied", map[string]uintptr{"weak_host_var": addrOfU64((*uint64)(unsafePointerInt64(&hostVar)))}, 77},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoader(t, Options{HostSymbols: tc.host})
			p := load(t, l, "weak_undef")
			if got := call(t, p, "weak_func_is_null"); got != 1 {
				t.Errorf("weak_missing_func != NULL")
			}
			if got := call(t, p, "weak_var_addr"); got != 0 {
				t.Errorf("&weak_missing_var = %#x, want 0", got)
			}
			if got := int64(call(t, p, "weak_host_get")); got != tc.wantHost {
				t.Errorf("weak_host_get() = %d, want %d", got, tc.wantHost)
			}
			keep(&hostVar)
		})
	}
}

func TestMissingStrongSymbol(t *testing.T) {
	l := newLoader(t, Options{})
	_, err := l.Load(context.Background(), plugintest.Build(t, "weak_strong_missing"))
	var ue *UndefinedSymbolError
	if !errors.As(err, &ue) || !errors.Is(err, ErrSymbolNotFound) {
		t.Fatalf("load: %v, want an *UndefinedSymbolError", err)
	}
	if ue.Symbol != "runplug_nowhere_defined" || ue.Object != "weak_strong_missing.so" {
		t.Errorf("error names symbol %q of %q", ue.Symbol, ue.Object)
	}
	if !strings.Contains(err.Error(), "runplug_nowhere_defined") || !strings.Contains(err.Error(), "weak_strong_missing.so") {
		t.Errorf("error %q does not name the symbol and the object", err)
	}
}

func TestVersionedSymbols(t *testing.T) {
	l := newLoader(t, Options{})
	p := load(t, l, "ver_user")
	if got := call(t, p, "ver_user_old"); got != 1 {
		t.Errorf("import bound to ver_answer@VER_1 returned %d, want 1", got)
	}
	if got := call(t, p, "ver_user_new"); got != 2 {
		t.Errorf("import bound to ver_answer@@VER_2 returned %d, want 2", got)
	}
	lib := load(t, l, "ver_lib")
	for _, tc := range []struct {
		version string
		want    uint64
	}{{"", 2}, {"VER_2", 2}, {"VER_1", 1}} {
		s, err := lib.LookupVersion("ver_answer", tc.version)
		if err != nil {
			t.Fatalf("LookupVersion(ver_answer, %q): %v", tc.version, err)
		}
		f := &Func{p: lib, name: s.Name, addr: s.Addr}
		if got, err := f.Call(context.Background()); err != nil || got != tc.want {
			t.Errorf("ver_answer@%q() = %d, %v; want %d", tc.version, got, err, tc.want)
		}
	}
	if _, err := lib.LookupVersion("ver_answer", "VER_3"); !errors.Is(err, ErrSymbolNotFound) {
		t.Errorf("LookupVersion(ver_answer, VER_3): %v, want ErrSymbolNotFound", err)
	}
}

func TestDependencyChain(t *testing.T) {
	l := newLoader(t, Options{})
	a1 := load(t, l, "dep_a")
	if got := call(t, a1, "dep_a_value", 4); got != 44 {
		t.Errorf("dep_a_value(4) = %d, want 44", got)
	}
	a2 := load(t, l, "dep_a")
	// dep_b is loaded once per Loader: both instances bump one counter.
	if got := call(t, a1, "dep_a_bump_b"); got != 1 {
		t.Errorf("first bump = %d, want 1", got)
	}
	if got := call(t, a2, "dep_a_bump_b"); got != 2 {
		t.Errorf("second bump through another instance = %d, want 2 (dep_b shared)", got)
	}
	if n := len(l.byKey); n != 1 {
		t.Errorf("loader holds %d shared objects, want 1", n)
	}
	if err := a1.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := call(t, a2, "dep_a_bump_b"); got != 3 {
		t.Errorf("bump after closing the other instance = %d, want 3 (dep_b still loaded)", got)
	}
	if err := a2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(l.byKey); n != 0 {
		t.Errorf("loader holds %d shared objects after the last user closed, want 0", n)
	}
	a3 := load(t, l, "dep_a")
	if got := call(t, a3, "dep_a_bump_b"); got != 1 {
		t.Errorf("bump after reload = %d, want 1 (dep_b unloaded and loaded afresh)", got)
	}
}

func TestDependencyCycle(t *testing.T) {
	l := newLoader(t, Options{})
	p := load(t, l, "dep_cycle_a")
	if got := call(t, p, "cyc_a_total"); got != 121 {
		t.Errorf("cyc_a_total() = %d, want 121", got)
	}
	// As glibc: dep_cycle_b's DT_NEEDED dep_cycle_a.so is the plugin
	// itself, not a second copy; so dep_cycle_b, which needs the
	// instance, is private to it (instance.go), not shared by the Loader.
	if n := len(l.byKey); n != 0 {
		t.Errorf("loader holds %d shared objects, want 0 (dep_cycle_b is private to the instance)", n)
	}
	b := p.obj.inst.byName["dep_cycle_b.so"]
	if b == nil || len(p.obj.inst.byKey) != 1 {
		t.Fatalf("instance holds %v, want dep_cycle_b.so alone", p.obj.inst.byName)
	}
	if len(b.deps) != 1 || b.deps[0] != p.obj {
		t.Errorf("dep_cycle_b's dependency is %v, want the plugin instance itself", b.deps)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(l.byKey) + len(p.obj.inst.byKey); n != 0 {
		t.Errorf("the cycle kept %d shared objects alive after close", n)
	}
}

func TestMissingLibrary(t *testing.T) {
	path := plugintest.Build(t, "dep_a")
	image, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("LD_LIBRARY_PATH", "")
	l := newLoader(t, Options{SearchPath: []string{t.TempDir()}})
	// From memory, $ORIGIN is unknown: dep_b.so cannot be found.
	_, err = l.LoadBytes(context.Background(), "dep_a.so", image)
	var nf *NotFoundError
	if !errors.As(err, &nf) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("LoadBytes: %v, want a *NotFoundError", err)
	}
	if nf.Name != "dep_b.so" || nf.Needer != "dep_a.so" || len(nf.Tried) == 0 {
		t.Errorf("NotFoundError = %+v", nf)
	}
	if !strings.Contains(err.Error(), `"dep_b.so"`) {
		t.Errorf("error %q does not name the library", err)
	}
	// With the search path pointing at dep_b's directory it loads.
	l2 := newLoader(t, Options{SearchPath: []string{filepath.Dir(plugintest.Build(t, "dep_b"))}})
	p, err := l2.LoadBytes(context.Background(), "dep_a.so", image)
	if err != nil {
		t.Fatalf("LoadBytes with SearchPath: %v", err)
	}
	if got := call(t, p, "dep_a_value", 1); got != 14 {
		t.Errorf("dep_a_value(1) = %d, want 14", got)
	}
	if _, err := l.Load(context.Background(), filepath.Join(t.TempDir(), "nothing.so")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load of a missing file: %v, want ErrNotFound", err)
	}
}

// ctorLog is the buffer the ctor_* plugins import as ctor_log.
var ctorLog [512]byte

func ctorLogString() string {
	s := string(ctorLog[:])
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return s
}

func TestConstructorOrder(t *testing.T) {
	ctorLog = [512]byte{}
	l := newLoader(t, Options{HostSymbols: map[string]uintptr{"ctor_log": addrOf(ctorLog[:])}})
	p := load(t, l, "ctor_order")
	// The order glibc's dlopen and dlclose give for the same objects
	// (checked with a C host: dependency first; DT_INIT before
	// DT_INIT_ARRAY; destructors in reverse, then DT_FINI).
	if got, want := ctorLogString(), "dep:init;dep:ctor;top:init;top:ctor101;top:ctor102;top:ctor;"; got != want {
		t.Errorf("constructors ran as\n%s\nwant\n%s", got, want)
	}
	if got := int(int32(call(t, p, "co_argc"))); got != len(os.Args) {
		t.Errorf("constructor saw argc %d, want %d", got, len(os.Args))
	}
	if got := call(t, p, "co_dep_id"); got != 7 {
		t.Errorf("co_dep_id() = %d", got)
	}
	ctorLog = [512]byte{}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := ctorLogString(), "top:dtor;top:dtor102;top:dtor101;top:fini;dep:dtor;dep:fini;"; got != want {
		t.Errorf("destructors ran as\n%s\nwant\n%s", got, want)
	}
}

func TestConstructorFault(t *testing.T) {
	l := newLoader(t, Options{})
	_, err := l.Load(context.Background(), plugintest.Build(t, "ctor_fault"))
	if err == nil || !strings.Contains(err.Error(), "DT_INIT_ARRAY") || !strings.Contains(err.Error(), "SIGSEGV") {
		t.Fatalf("load: %v, want a constructor fault", err)
	}
	if len(l.plugins) != 0 || len(l.tombs) != 0 {
		t.Errorf("a failed load left %d plugins and %d tombstones", len(l.plugins), len(l.tombs))
	}
}

func TestInstancesHaveSeparateState(t *testing.T) {
	l := newLoader(t, Options{})
	a := load(t, l, "basic")
	b := load(t, l, "basic")
	if a.Base() == b.Base() {
		t.Fatalf("two instances at one base %#x", a.Base())
	}
	for i, want := range []uint64{43, 44, 45} {
		if got := call(t, a, "bump"); got != want {
			t.Errorf("a.bump() #%d = %d, want %d", i, got, want)
		}
	}
	if got := call(t, b, "bump"); got != 43 {
		t.Errorf("b.bump() = %d, want 43: the instances share state", got)
	}
	// Exported data read and written from Go.
	ca, cb := lookup(t, a, "basic_counter"), lookup(t, b, "basic_counter")
	if peek64(ca) != 45 || peek64(cb) != 43 {
		t.Errorf("basic_counter = %d and %d, want 45 and 43", peek64(ca), peek64(cb))
	}
	poke64(ca, 1000)
	if got := call(t, a, "bump"); got != 1001 {
		t.Errorf("bump after writing basic_counter = %d, want 1001", got)
	}
	s, err := a.Lookup("basic_counter")
	if err != nil || s.Func || s.Size != 8 {
		t.Errorf("Lookup(basic_counter) = %+v, %v; want 8-byte data", s, err)
	}
	if _, err := a.Func("basic_counter"); err == nil {
		t.Errorf("Func(basic_counter) accepted a data symbol")
	}
	if _, err := a.Lookup("no_such_symbol"); !errors.Is(err, ErrSymbolNotFound) {
		t.Errorf("Lookup(no_such_symbol): %v", err)
	}
	f, err := a.Func("scale")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := callFloat(f, nil, []float64{1.5, -4}); err != nil || got != -6 {
		t.Errorf("scale(1.5, -4) = %v, %v", got, err)
	}
}

func TestRELROProtected(t *testing.T) {
	path := plugintest.Build(t, "reloc_types")
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var relro *elf.Prog
	for _, p := range f.Progs {
		if p.Type == elf.PT_GNU_RELRO {
			relro = p
		}
	}
	f.Close()
	if relro == nil {
		t.Fatal("reloc_types.so has no PT_GNU_RELRO")
	}
	l := newLoader(t, Options{})
	p := load(t, l, "reloc_types")
	// ld.so protects [pagedown(vaddr), pagedown(vaddr+memsz)): the linker
	// pads RELRO so that it ends on a page boundary.
	ps := uint64(os.Getpagesize())
	start, end := relro.Vaddr&^(ps-1), (relro.Vaddr+relro.Memsz)&^(ps-1)
	if start >= end {
		t.Fatalf("RELRO [%#x,+%#x) covers no whole page", relro.Vaddr, relro.Memsz)
	}
	m, ok, err := sysmaps.Lookup(p.Base() + uintptr(start))
	if err != nil || !ok {
		t.Fatalf("no mapping at the RELRO page: %v", err)
	}
	if m.Perms != "r--p" {
		t.Errorf("RELRO page mapped %s, want r--p (read-only after relocation)", m.Perms)
	}
	// The data after RELRO stays writable.
	m, ok, err = sysmaps.Lookup(lookup(t, p, "rt_value"))
	if err != nil || !ok || m.Perms != "rw-p" {
		t.Errorf("rt_value's page: %v %v %v, want rw-p", m.Perms, ok, err)
	}
}
