package loader

import (
	"context"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/elfimage"
	"github.com/runplug/runplug/internal/ldso"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
)

// systemDirs are the directories the tests look for distribution
// libraries in: ld.so's default ones.
var systemDirs = ldso.DefaultDirs

// TestNeederChain: the search sees the needer, then its needers up the
// chain (for DT_RPATH), each with its own $ORIGIN and DF_1_NODEFLIB.
func TestNeederChain(t *testing.T) {
	mk := func(path string, d elfimage.Dynamic) *object {
		return &object{path: path, p: &parsed{file: &elfimage.File{Dynamic: &d}}}
	}
	root := mk("/a/root.so", elfimage.Dynamic{Rpath: []string{"$ORIGIN/r"}})
	mid := mk("/b/mid.so", elfimage.Dynamic{Runpath: []string{"/run"}, Flags1: elf1NoDefLib()})
	leaf := mk("", elfimage.Dynamic{Rpath: []string{"/x"}})
	parents := map[*object]*object{leaf: mid, mid: root}
	n := needer(leaf, parents)
	var got []ldso.Needer
	for m := n; m != nil; m = m.Parent {
		c := *m
		c.Parent = nil
		got = append(got, c)
	}
	want := []ldso.Needer{
		{Rpath: []string{"/x"}},
		{Runpath: []string{"/run"}, Origin: "/b", NoDefaultLib: true},
		{Rpath: []string{"$ORIGIN/r"}, Origin: "/a"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("needer chain = %+v\nwant %+v", got, want)
	}
}

func elf1NoDefLib() elf.DynFlag1 { return elfDF1NoDefLib }

func TestIsHostLibrary(t *testing.T) {
	for name, want := range map[string]bool{
		"libc.so.6": true, "libm.so.6": true, path.Base(ldso.Interp): true, "libpthread.so.0": true,
		"libresolv.so.2": true, "libnss_files.so.2": true,
		"libz.so.1": false, "libc.so": false, "libcrypt.so.1": false,
	} {
		if got := isHostLibrary(name); got != want {
			t.Errorf("isHostLibrary(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestLoadByName: a name without a slash is searched for as dlopen does
// (here found through the ld.so cache or the default directories).
func TestLoadByName(t *testing.T) {
	systemLib(t, "libz.so.1")
	l := newLoader(t, Options{})
	p, err := l.Load(context.Background(), "libz.so.1")
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(p.Path()) || filepath.Base(p.Path()) != "libz.so.1" {
		t.Errorf("Path() = %q", p.Path())
	}
	v, err := p.Func("zlibVersion")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Call(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestLoadByNameNotFound: every place tried is listed, and the message has
// one package prefix.
func TestLoadByNameNotFound(t *testing.T) {
	l := newLoader(t, Options{})
	_, err := l.Load(context.Background(), "libno-such-library.so.9")
	var nf *NotFoundError
	if !errors.As(err, &nf) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want a *NotFoundError", err)
	}
	if len(nf.Tried) < len(ldso.DefaultDirs) {
		t.Errorf("tried %q", nf.Tried)
	}
	onePrefix(t, err)
}

// onePrefix fails unless err's message has "loader: " exactly once.
func onePrefix(t *testing.T, err error) {
	t.Helper()
	if n := strings.Count(err.Error(), "loader: "); n != 1 {
		t.Errorf("%q has %d \"loader: \" prefixes, want 1", err, n)
	}
}

// TestErrorsOnce: a failed load and a failed lookup say "loader:" once.
func TestErrorsOnce(t *testing.T) {
	l := newLoader(t, Options{})
	_, err := l.Load(context.Background(), plugintest.Build(t, "weak_strong_missing"))
	if !errors.Is(err, ErrSymbolNotFound) {
		t.Fatalf("err = %v", err)
	}
	onePrefix(t, err)
	p := load(t, l, "basic")
	_, err = p.Lookup("no_such_symbol")
	if !errors.Is(err, ErrSymbolNotFound) {
		t.Fatalf("err = %v", err)
	}
	onePrefix(t, err)
}

// TestRefusedDependency: a needed library that is found but refused is
// reported with its path and the reason, not as not found.
func TestRefusedDependency(t *testing.T) {
	path := plugintest.Build(t, "search_refused_dep")
	l := newLoader(t, Options{})
	_, err := l.Load(context.Background(), path)
	var re *RefusedError
	if !errors.As(err, &re) || !errors.Is(err, elfimage.ErrUnsupported) || errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want a *RefusedError wrapping ErrUnsupported", err)
	}
	if want := filepath.Join(filepath.Dir(path), "reloc_textrel.so"); re.Path != want {
		t.Errorf("Path = %q, want %q", re.Path, want)
	}
	if !strings.Contains(err.Error(), "DT_TEXTREL") {
		t.Errorf("err = %v, want the reason", err)
	}
	onePrefix(t, err)
}

// TestExecutableRefusedByLoader: Load of a PIE says it is an executable.
func TestExecutableRefusedByLoader(t *testing.T) {
	exe, err := os.Executable() // the test binary: a Go PIE or ET_EXEC
	if err != nil {
		t.Fatal(err)
	}
	l := newLoader(t, Options{})
	if _, err := l.Load(context.Background(), exe); !errors.Is(err, elfimage.ErrExecutable) {
		t.Fatalf("Load(test binary) = %v, want ErrExecutable", err)
	}
}

// TestHostLibraryPlugin: Load of one of glibc's libraries, by name or by
// the path of the host's copy, gives the host's library, called through
// the sandbox.
func TestHostLibraryPlugin(t *testing.T) {
	l := newLoader(t, Options{})
	names := []string{"libm.so.6"}
	for _, d := range systemDirs {
		if p := filepath.Join(d, "libm.so.6"); fileExists(p) {
			names = append(names, p)
			break
		}
	}
	for _, name := range names {
		p, err := l.Load(context.Background(), name)
		if err != nil {
			t.Fatalf("Load(%s): %v", name, err)
		}
		if p.Name() != "libm.so.6" || p.Path() == "" {
			t.Errorf("Name, Path = %q, %q", p.Name(), p.Path())
		}
		cos, err := p.Func("cos")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := callFloat(cos, nil, []float64{0}); err != nil || got != 1 {
			t.Errorf("cos(0) = %v, %v", got, err)
		}
		pow, err := Bind2[float64, float64, float64](fnOf(t, p, "pow"))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := pow(context.Background(), 2, 10); err != nil || got != 1024 {
			t.Errorf("pow(2, 10) = %v, %v", got, err)
		}
		if s, err := p.Lookup("signgam"); err != nil || s.Func {
			t.Errorf("Lookup(signgam) = %+v, %v; want data", s, err)
		}
		if _, err := p.Func("signgam"); err == nil {
			t.Error("Func(signgam) accepted a data symbol")
		}
		if err := p.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := callFloat(cos, nil, []float64{0}); !errors.Is(err, ErrClosed) {
			t.Errorf("call after Close = %v", err)
		}
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestGlibcDependencyFromHost: a plugin needing libresolv (which runplug
// could not load: DF_STATIC_TLS) gets the host's, loaded by glibc.
func TestGlibcDependencyFromHost(t *testing.T) {
	l := newLoader(t, Options{})
	p := load(t, l, "search_resolv")
	f, err := p.Func("search_b64")
	if err != nil {
		t.Fatal(err)
	}
	in := []byte("hi")
	out := make([]byte, 16)
	n, err := f.Call(context.Background(), uint64(addrOf(in)), uint64(len(in)), uint64(addrOf(out)), uint64(len(out)))
	keep(in, out)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out[:n]); got != "aGk=" {
		t.Errorf("b64(hi) = %q (%d)", got, int32(n))
	}
}

// TestCtorOnly: an object that exports nothing loads, and its constructor
// and destructor run (they set and unset an environment variable, read
// back through the host's getenv).
func TestCtorOnly(t *testing.T) {
	l := newLoader(t, Options{})
	libc, err := l.Load(context.Background(), "libc.so.6")
	if err != nil {
		t.Fatal(err)
	}
	getenv, err := libc.Func("getenv")
	if err != nil {
		t.Fatal(err)
	}
	name := []byte("RUNPLUG_CTOR_ONLY\x00")
	set := func() bool {
		r, err := getenv.Call(context.Background(), uint64(addrOf(name)))
		keep(name)
		if err != nil {
			t.Fatal(err)
		}
		return r != 0
	}
	p := load(t, l, "ctor_only")
	if !set() {
		t.Error("the constructor did not run")
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if set() {
		t.Error("the destructor did not run")
	}
}

// TestDependenciesHwcaps: a library in a glibc-hwcaps subdirectory the CPU
// supports is preferred, as ld.so prefers it; Dependencies and Load agree.
func TestDependenciesHwcaps(t *testing.T) {
	testenv.NeedPort(t, runtime.GOARCH == "amd64", "glibc-hwcaps subdirectories (the x86-64 levels)")
	hw := ldso.HwcapsSubdirs()
	if len(hw) == 0 {
		testenv.Skipf(t, "this CPU supports no glibc-hwcaps level (below x86-64-v2)")
	}
	dir := t.TempDir()
	copyTo := func(src, dst string) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(dst), 0o755)
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a := plugintest.Build(t, "dep_a")
	copyTo(a, filepath.Join(dir, "dep_a.so"))
	copyTo(filepath.Join(filepath.Dir(a), "dep_b.so"), filepath.Join(dir, "dep_b.so"))
	want := filepath.Join(dir, "glibc-hwcaps", hw[len(hw)-1], "dep_b.so")
	copyTo(filepath.Join(filepath.Dir(a), "dep_b.so"), want)
	l := newLoader(t, Options{})
	root, err := l.Dependencies(filepath.Join(dir, "dep_a.so"))
	if err != nil {
		t.Fatal(err)
	}
	if len(root.Needs) == 0 || root.Needs[0].Path != want || root.Needs[0].From != ldso.FromRunpath {
		t.Fatalf("dep_b: %+v, want %s", root.Needs, want)
	}
	p, err := l.Load(context.Background(), filepath.Join(dir, "dep_a.so"))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.closure[0].path; got != want {
		t.Errorf("Load took %s, want %s", got, want)
	}
}

// TestLoadThroughCache: a library only the ld.so cache knows of (as one in
// /usr/local/lib is) is found, by name and as a dependency; the cache is
// one written by the machine's ldconfig.
func TestLoadThroughCache(t *testing.T) {
	testenv.NeedNative(t, "the machine's own cc and ldconfig")
	cc := testenv.LookPath(t, "cc", "gcc")
	ldconfig, err := exec.LookPath("ldconfig")
	if err != nil {
		ldconfig = "/sbin/ldconfig"
	}
	testenv.NeedFile(t, ldconfig, "libc-bin")
	dir := t.TempDir()
	lib := filepath.Join(dir, "lib")
	os.MkdirAll(lib, 0o755)
	src := filepath.Join(dir, "sc.c")
	os.WriteFile(src, []byte("int sc(void) { return 42; }\n"), 0o644)
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-Wl,-soname,libsearchcache.so.1", "-o", filepath.Join(lib, "libsearchcache.so.1"), src).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	user := filepath.Join(dir, "user.c")
	os.WriteFile(user, []byte("int sc(void);\nint user(void) { return sc() + 1; }\n"), 0o644)
	userSO := filepath.Join(dir, "user.so")
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-o", userSO, user, "-L"+lib, "-l:libsearchcache.so.1").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	conf := filepath.Join(dir, "ld.so.conf")
	os.WriteFile(conf, []byte(lib+"\n"), 0o644)
	cache := filepath.Join(dir, "ld.so.cache")
	if out, err := exec.Command(ldconfig, "-X", "-C", cache, "-f", conf).CombinedOutput(); err != nil {
		t.Fatalf("ldconfig: %v: %s", err, out)
	}
	l := newLoader(t, Options{})
	l.search.CachePath = cache // as /etc/ld.so.cache
	for name, want := range map[string]uint64{"libsearchcache.so.1": 42, userSO: 43} {
		sym := map[string]string{"libsearchcache.so.1": "sc", userSO: "user"}[name]
		p, err := l.Load(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := p.Func(sym)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := f.Call(context.Background()); err != nil || got != want {
			t.Errorf("%s: %s() = %d, %v; want %d", name, sym, got, err, want)
		}
	}
}

// TestDependenciesUndefined: Dependencies names a strong import nothing
// defines, as the load would fail on it, and not one the host provides.
func TestDependenciesUndefined(t *testing.T) {
	path := plugintest.Build(t, "weak_strong_missing")
	l := newLoader(t, Options{})
	root, err := l.Dependencies(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(root.Undefined) != 1 || root.Undefined[0] != "runplug_nowhere_defined" || !errors.Is(root.Err, ErrSymbolNotFound) {
		t.Fatalf("Undefined %q, Err %v", root.Undefined, root.Err)
	}
	_, lerr := l.Load(context.Background(), path)
	var ue *UndefinedSymbolError
	if !errors.As(lerr, &ue) || ue.Symbol != "runplug_nowhere_defined" {
		t.Errorf("Load: %v", lerr)
	}
	l2 := newLoader(t, Options{HostSymbols: map[string]uintptr{"runplug_nowhere_defined": 1}})
	if root, err := l2.Dependencies(path); err != nil || root.Err != nil || len(root.Undefined) != 0 {
		t.Errorf("with the host symbol: %v, %+v", err, root)
	}
}
