package runplug_test

// Side-by-side benchmarks: runplug's own loader and protected calls
// against what a Go program would otherwise use, glibc's dlopen/dlsym/
// dlclose and a plain cgo call, in the same run. Every target is rebuilt or
// opened inside the benchmark, so `go test` without -bench pays nothing.
//
//	go test -run '^$' -bench . -count 5 . | benchstat -
//
// See docs/PERFORMANCE.md for the figures and the machine.

import (
	"context"
	"os"
	"testing"

	"github.com/runplug/runplug/internal/baseline"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
	"github.com/runplug/runplug/loader"
)

// benchLibDirs are where the distribution libraries of the benchmarks are
// looked for.
var benchLibDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64"}

// benchSystemLib returns the path of an installed library, or skips.
func benchSystemLib(b *testing.B, name string) string {
	b.Helper()
	for _, dir := range benchLibDirs {
		if p := dir + "/" + name; fileExists(p) {
			return p
		}
	}
	testenv.Skipf(b, "%s is not installed (.ci/run installs it)", name)
	return ""
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// loadTargets are the objects of BenchmarkLoadUnload, each with the symbol
// looked up once per iteration.
var loadTargets = []struct {
	name string
	path func(*testing.B) string
	sym  string
}{
	{"tiny", func(b *testing.B) string { return plugintest.Build(b, "bench_tiny") }, "tiny_add"},
	{"libz", func(b *testing.B) string { return benchSystemLib(b, "libz.so.1") }, "crc32"},
	{"libsqlite3", func(b *testing.B) string { return benchSystemLib(b, "libsqlite3.so.0") }, "sqlite3_libversion"},
}

// notLoaded fails the benchmark when the system loader already has path:
// dlopen would then only take a reference and dlclose unload nothing, and
// the comparison would be void.
func notLoaded(b *testing.B, path string) {
	b.Helper()
	if baseline.IsLoaded(path) {
		b.Fatalf("%s is already loaded in this process by the system loader: dlopen/dlclose would not load or unload it, the comparison is void", path)
	}
}

// BenchmarkLoadUnload loads an object, looks up one symbol and closes it:
// runplug with a default Loader (which keeps parsed tables and makes the
// closed image a tombstone, so that in the steady state each load reuses
// the range of the oldest tombstone), dlopen with RTLD_NOW|RTLD_LOCAL,
// dlsym and dlclose on the same file.
//
// runplug-fresh is the same with a Loader that keeps no tombstone
// (TombstoneBudget 1): every load reserves and maps a new range and every
// close unmaps it, as dlopen and dlclose do. It shows what the reuse of
// tombstones buys and what a first load of a file costs.
func BenchmarkLoadUnload(b *testing.B) {
	for _, tc := range loadTargets {
		for _, v := range []struct {
			name string
			opts loader.Options
		}{
			{"runplug", loader.Options{}},
			{"runplug-fresh", loader.Options{TombstoneBudget: 1}},
		} {
			b.Run(tc.name+"/"+v.name, func(b *testing.B) {
				benchLoadUnloadRunplug(b, tc.path(b), tc.sym, v.opts)
			})
		}
		b.Run(tc.name+"/dlopen", func(b *testing.B) {
			path := tc.path(b)
			notLoaded(b, path)
			b.ReportAllocs()
			for b.Loop() {
				h, err := baseline.DlopenNow(path)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := h.Dlsym(tc.sym); err != nil {
					b.Fatal(err)
				}
				if err := h.Close(); err != nil {
					b.Fatal(err)
				}
			}
			if baseline.IsLoaded(path) {
				b.Fatalf("%s is still loaded after dlclose", path)
			}
		})
	}
}

// benchLoadUnloadRunplug is runplug's side of BenchmarkLoadUnload.
func benchLoadUnloadRunplug(b *testing.B, path, sym string, opts loader.Options) {
	l := loader.New(opts)
	defer l.Close(context.Background())
	b.ReportAllocs()
	for b.Loop() {
		p, err := l.Load(context.Background(), path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Lookup(sym); err != nil {
			b.Fatal(err)
		}
		if err := p.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLookup looks one symbol up in a loaded libsqlite3: Plugin.Lookup
// against dlsym on a dlopen handle.
func BenchmarkLookup(b *testing.B) {
	const sym = "sqlite3_prepare_v2"
	b.Run("runplug", func(b *testing.B) {
		l := loader.New(loader.Options{})
		defer l.Close(context.Background())
		p, err := l.Load(context.Background(), benchSystemLib(b, "libsqlite3.so.0"))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Lookup(sym); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("dlsym", func(b *testing.B) {
		path := benchSystemLib(b, "libsqlite3.so.0")
		notLoaded(b, path)
		h, err := baseline.DlopenNow(path)
		if err != nil {
			b.Fatal(err)
		}
		defer h.Close()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := h.Dlsym(sym); err != nil {
				b.Fatal(err)
			}
		}
	})
}

var callSink int64

// BenchmarkCall calls add(a, b) of the tiny plugin: a protected call
// through Func.Call against a plain cgo call through the same function
// pointer (and, as "sandbox", sandbox.Call alone).
func BenchmarkCall(b *testing.B) {
	l := loader.New(loader.Options{})
	defer l.Close(context.Background())
	p, err := l.Load(context.Background(), plugintest.Build(b, "bench_tiny"))
	if err != nil {
		b.Fatal(err)
	}
	f, err := p.Func("tiny_add")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("protected", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r, err := f.Call(1, 2)
			if err != nil {
				b.Fatal(err)
			}
			callSink += int64(r)
		}
	})
	// The same protected call without the plugin's lifecycle accounting
	// (the count of calls in flight that Close waits for): what the
	// protection alone costs.
	b.Run("sandbox", func(b *testing.B) {
		b.ReportAllocs()
		addr := f.Addr()
		for b.Loop() {
			a := pcall.Args{Int: [6]uint64{1, 2}}
			r, err := pcall.Call(addr, &a)
			if err != nil {
				b.Fatal(err)
			}
			callSink += int64(r.Int)
		}
	})
	b.Run("cgo", func(b *testing.B) {
		b.ReportAllocs()
		addr := f.Addr()
		for b.Loop() {
			callSink += baseline.CallUnprotected2(addr, 1, 2)
		}
	})
}

// BenchmarkFault measures one trapped fault end to end: a NULL read in a
// plugin called through Func.Call, the signal, the recovery and the
// error naming plugin, symbol and address (KeepAfterFault keeps the plugin
// callable).
func BenchmarkFault(b *testing.B) {
	l := loader.New(loader.Options{KeepAfterFault: true})
	defer l.Close(context.Background())
	p, err := l.Load(context.Background(), plugintest.Build(b, "faults"))
	if err != nil {
		b.Fatal(err)
	}
	f, err := p.Func("fault_null_read")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Call(); err == nil {
			b.Fatal("no fault")
		}
	}
}
