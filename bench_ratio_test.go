package runplug_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/runplug/runplug/internal/baseline"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/loader"
)

// BenchmarkCallRatio measures protected calls against plain cgo calls of
// the same function through the same pointer, in alternating blocks of
// 1,000 calls (each b.N iteration is one block of each), and reports the
// median per-call time of each and the median of the per-block ratios: on
// a shared, noisy machine the noise then falls on both alike. call is
// Func.Call, bind a Bind2 binding (both with context.Background), struct
// a Bind1 of a 24-byte struct by value both ways (the general call).
//
//	go test -run '^$' -bench CallRatio -benchtime 300x -count 5 .
func BenchmarkCallRatio(b *testing.B) {
	ctx := context.Background()
	l := loader.New(loader.Options{})
	defer l.Close(ctx)
	tiny, err := l.Load(ctx, plugintest.Build(b, "bench_tiny"))
	if err != nil {
		b.Fatal(err)
	}
	ffi, err := l.Load(ctx, plugintest.Build(b, "ffi_call"))
	if err != nil {
		b.Fatal(err)
	}
	add := fnOf(b, tiny, "tiny_add")
	add2, err := loader.Bind2[int64, int64, int64](add)
	if err != nil {
		b.Fatal(err)
	}
	s24f := fnOf(b, ffi, "s24_fn")
	s24, err := loader.Bind1[baseline.S24, baseline.S24](s24f)
	if err != nil {
		b.Fatal(err)
	}
	in := baseline.S24{A: 1, B: 2, C: 3}
	const block = 1000
	for _, tc := range []struct {
		name      string
		protected func()
		cgo       func()
	}{
		{"call", func() {
			for range block {
				r, _ := add.Call(ctx, 1, 2)
				callSink += int64(r)
			}
		}, func() {
			for range block {
				callSink += baseline.CallUnprotected2(add.Addr(), 1, 2)
			}
		}},
		{"bind", func() {
			for range block {
				r, _ := add2(ctx, 1, 2)
				callSink += r
			}
		}, func() {
			for range block {
				callSink += baseline.CallUnprotected2(add.Addr(), 1, 2)
			}
		}},
		{"struct", func() {
			for range block {
				r, _ := s24(ctx, in)
				callSink += r.C
			}
		}, func() {
			for range block {
				callSink += baseline.CallUnprotectedS24(s24f.Addr(), in).C
			}
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var prot, cgo, ratio []float64
			for b.Loop() {
				t0 := time.Now()
				tc.protected()
				t1 := time.Now()
				tc.cgo()
				t2 := time.Now()
				p, c := float64(t1.Sub(t0))/block, float64(t2.Sub(t1))/block
				prot, cgo, ratio = append(prot, p), append(cgo, c), append(ratio, p/c)
			}
			med := func(xs []float64) float64 { slices.Sort(xs); return xs[len(xs)/2] }
			b.ReportMetric(med(prot), "protected-ns")
			b.ReportMetric(med(cgo), "cgo-ns")
			b.ReportMetric(med(ratio), "ratio")
		})
	}
}
