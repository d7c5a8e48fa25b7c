package loader

import (
	"slices"
	"testing"
	"time"

	"github.com/runplug/runplug/sandbox"
)

// BenchmarkCallback measures one call of a Go function from C, per op: a
// C loop (reached by one plain cgo call) calls add(i, 1) b.N times,
// through a typed Callback, a raw one, and, as the baseline, a cgo
// //export function (sandbox.LoopExport). in-plugin-call is the typed
// Callback called by a plugin's loop inside a protected call (nested,
// as a plugin's stored callback runs).
//
//	go test -run '^$' -bench 'Callback$' -count 10 ./loader | benchstat -col /form -
func BenchmarkCallback(b *testing.B) {
	typed, err := NewCallback(func(a, b int64) int64 { return a + b })
	if err != nil {
		b.Fatal(err)
	}
	defer typed.Release()
	raw, err := NewCallback(RawHostFunc(func(a *sandbox.Args) sandbox.Result { return sandbox.Result{Int: a.Int[0] + a.Int[1]} }))
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Release()
	want := func(n int) int64 { return int64(n)*int64(n-1)/2 + int64(n) }
	b.Run("form=cgo-export", func(b *testing.B) {
		b.ReportAllocs()
		if got := sandbox.LoopExport(int64(b.N)); got != want(b.N) {
			b.Fatal(got)
		}
	})
	b.Run("form=cgo-export-handle", func(b *testing.B) {
		b.ReportAllocs()
		if got := sandbox.LoopExportHandle(func(a, b int64) int64 { return a + b }, int64(b.N)); got != want(b.N) {
			b.Fatal(got)
		}
	})
	b.Run("form=typed", func(b *testing.B) {
		b.ReportAllocs()
		if got := sandbox.LoopUnprotected(typed.Ptr(), int64(b.N)); got != want(b.N) {
			b.Fatal(got)
		}
	})
	b.Run("form=raw", func(b *testing.B) {
		b.ReportAllocs()
		if got := sandbox.LoopUnprotected(raw.Ptr(), int64(b.N)); got != want(b.N) {
			b.Fatal(got)
		}
	})
	b.Run("form=in-plugin-call", func(b *testing.B) {
		l := newLoader(b, Options{})
		p := load(b, l, "cb_store")
		store, err := BindVoid1[uintptr](p, "cb_store")
		if err != nil {
			b.Fatal(err)
		}
		loop, err := Bind1[int64, int64](p, "cb_loop")
		if err != nil {
			b.Fatal(err)
		}
		if err := store(typed.Ptr()); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		if got, err := loop(int64(b.N)); err != nil || got != want(b.N) {
			b.Fatal(got, err)
		}
	})
}

// BenchmarkCallbackInterleaved compares the typed Callback with the cgo
// //export baseline in alternating blocks of 10,000 calls from C (each
// b.N iteration is one block of each), and reports the 10th percentile
// and the median of the per-call time of each, and the ratio of the
// medians: on a shared, noisy machine the noise then falls on both alike.
//
//	go test -run '^$' -bench CallbackInterleaved -benchtime 300x -count 5 ./loader
func BenchmarkCallbackInterleaved(b *testing.B) {
	typed, err := NewCallback(func(a, b int64) int64 { return a + b })
	if err != nil {
		b.Fatal(err)
	}
	defer typed.Release()
	add := func(a, b int64) int64 { return a + b }
	const block = 10000
	var exp, hdl, cb []float64
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		sandbox.LoopExport(block)
		t1 := time.Now()
		sandbox.LoopUnprotected(typed.Ptr(), block)
		t2 := time.Now()
		sandbox.LoopExportHandle(add, block)
		t3 := time.Now()
		exp = append(exp, float64(t1.Sub(t0).Nanoseconds())/block)
		cb = append(cb, float64(t2.Sub(t1).Nanoseconds())/block)
		hdl = append(hdl, float64(t3.Sub(t2).Nanoseconds())/block)
	}
	slices.Sort(exp)
	slices.Sort(cb)
	slices.Sort(hdl)
	q := func(xs []float64, f float64) float64 { return xs[int(f*float64(len(xs)-1))] }
	b.ReportMetric(q(exp, 0.1), "export-p10-ns")
	b.ReportMetric(q(hdl, 0.1), "export-handle-p10-ns")
	b.ReportMetric(q(cb, 0.1), "typed-p10-ns")
	b.ReportMetric(q(cb, 0.1)/q(exp, 0.1), "typed/export-p10")
	b.ReportMetric(q(cb, 0.1)/q(hdl, 0.1), "typed/export-handle-p10")
	b.ReportMetric(q(cb, 0.5)/q(exp, 0.5), "typed/export-p50")
	b.ReportMetric(q(cb, 0.5)/q(hdl, 0.5), "typed/export-handle-p50")
}
