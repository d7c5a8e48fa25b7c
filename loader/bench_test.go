package loader

import (
	"testing"

	"github.com/runplug/runplug/internal/plugintest"
)

// benchTargets are the objects of BenchmarkLoadUnload: a tiny test plugin
// and two distribution libraries (libsqlite3: thousands of relocations).
var benchTargets = []struct {
	name string
	path func(testing.TB) string
	sym  string
}{
	{"tiny", func(tb testing.TB) string { return plugintest.Build(tb, "bench_tiny") }, "tiny_add"},
	{"libz", func(tb testing.TB) string { return systemLib(tb, "libz.so.1") }, "crc32"},
	{"libsqlite3", func(tb testing.TB) string { return systemLib(tb, "libsqlite3.so.0") }, "sqlite3_libversion"},
}

// BenchmarkLoadUnload loads an object, looks up one symbol and closes it,
// with default options (closed images become tombstones until the budget
// is reached). The dlopen side is added by the benchmark work in cgo code.
func BenchmarkLoadUnload(b *testing.B) {
	for _, tc := range benchTargets {
		b.Run(tc.name+"/runplug", func(b *testing.B) {
			path := tc.path(b)
			l := New(Options{})
			defer l.Close()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p, err := l.Load(path)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := p.Lookup(tc.sym); err != nil {
					b.Fatal(err)
				}
				if err := p.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLookup looks up one symbol of a loaded libsqlite3.
func BenchmarkLookup(b *testing.B) {
	b.Run("runplug", func(b *testing.B) {
		l := New(Options{})
		defer l.Close()
		p, err := l.Load(systemLib(b, "libsqlite3.so.0"))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := p.Lookup("sqlite3_prepare_v2"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCall calls add(a, b) of the tiny plugin through Func.Call.
func BenchmarkCall(b *testing.B) {
	l := New(Options{})
	defer l.Close()
	p, err := l.Load(plugintest.Build(b, "bench_tiny"))
	if err != nil {
		b.Fatal(err)
	}
	f, err := p.Func("tiny_add")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.Call(1, 2); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCallParallel calls add(a, b) of one plugin instance from every
// P at once: what the per-call bookkeeping that Close relies on costs when
// several cores call the same plugin (a shared in-flight counter would
// bounce its cache line between them; the plugin's sandbox.Gate keeps it
// per thread).
func BenchmarkCallParallel(b *testing.B) {
	l := New(Options{})
	defer l.Close()
	p, err := l.Load(plugintest.Build(b, "bench_tiny"))
	if err != nil {
		b.Fatal(err)
	}
	f, err := p.Func("tiny_add")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r, err := f.Call(1, 2); err != nil || r != 4 { // 1 + 2 + tiny_counter
				b.Errorf("tiny_add(1, 2) = %d, %v", r, err)
				return
			}
		}
	})
}
