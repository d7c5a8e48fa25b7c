package loader

import (
	"context"
	"runtime"
	"testing"
)

// BenchmarkTLSAccess: the cost of one thread-local access in each model,
// from plugin code: a plugin function does 1000 accesses, each in a
// function of its own (so the address is computed every time), on one
// locked thread. Compare the ns/access of the variants in one run:
// general-dynamic (runplug's __tls_get_addr through the PLT), a dynamic
// TLS descriptor (rp_tlsdesc_dynamic's fast path), a static descriptor
// (rp_tlsdesc_static) and initial-exec (no call: %fs:OFF).
func BenchmarkTLSAccess(b *testing.B) {
	const n = 1000
	for _, v := range []struct{ name, plugin, fn string }{
		{"general-dynamic", "tls_basic", "tls_loop"},
		{"tlsdesc-dynamic", "tls_desc", "tls_desc_loop"},
		{"tlsdesc-static", "tls_desc_ie", "tls_desc_ie_loop"},
		{"initial-exec", "tls_ie", "tls_ie_loop"},
	} {
		b.Run(v.name, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			l := newLoader(b, Options{})
			p := load(b, l, v.plugin)
			f, err := p.Func(v.fn)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := f.Call(context.Background(), 1); err != nil { // the thread's block exists
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := f.Call(context.Background(), n); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/access")
		})
	}
}
