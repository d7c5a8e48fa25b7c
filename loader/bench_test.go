package loader

import (
	"testing"

	"github.com/runplug/runplug/internal/plugintest"
)

// The side-by-side benchmarks of the issue (load/unload, lookup and call
// against glibc's dlopen, dlsym and a plain cgo call) live in the root
// package's bench_test.go; this file keeps what is about the loader alone.

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
