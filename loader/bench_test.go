package loader

import (
	"context"
	"runtime"
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
	defer l.Close(context.Background())
	p, err := l.Load(context.Background(), plugintest.Build(b, "bench_tiny"))
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

// BenchmarkCallTLS compares a call of a function that bumps a global
// counter (basic's bump) with one that bumps a __thread counter
// (tls_basic's tls_bump, one __tls_get_addr call on runplug's fast path)
// from a goroutine locked to its thread.
func BenchmarkCallTLS(b *testing.B) {
	for _, bc := range []struct{ plugin, fn string }{
		{"basic", "bump"},
		{"tls_basic", "tls_bump"},
	} {
		b.Run(bc.fn, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			l := New(Options{})
			defer l.Close(context.Background())
			p, err := l.Load(context.Background(), plugintest.Build(b, bc.plugin))
			if err != nil {
				b.Fatal(err)
			}
			f, err := p.Func(bc.fn)
			if err != nil {
				b.Fatal(err)
			}
			first, err := f.Call()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := f.Call(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if r, err := f.Call(); err != nil || r != first+uint64(b.N)+1 {
				b.Fatalf("%s after %d calls = %d, %v; want %d", bc.fn, b.N, r, err, first+uint64(b.N)+1)
			}
		})
	}
}
