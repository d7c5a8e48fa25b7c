package loader

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/runplug/runplug/internal/baseline"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/wire"
)

// BenchmarkCallback measures one call of a Go function from C, per op: a
// C loop (reached by one plain cgo call) calls add(i, 1) b.N times,
// through a typed Callback, a raw one, and, as the baseline, a cgo
// //export function (sandbox.LoopExport). in-plugin-call is the typed
// Callback called by a plugin's loop inside a protected call (nested,
// as a plugin's stored callback runs), in-plugin-call-export the cgo
// //export function called by the same loop.
//
//	go test -run '^$' -bench 'Callback$' -count 10 ./loader | benchstat -col /form -
func BenchmarkCallback(b *testing.B) {
	typed, err := NewCallback(func(a, b int64) int64 { return a + b })
	if err != nil {
		b.Fatal(err)
	}
	defer typed.Release()
	raw, err := NewCallback(wire.RawHostFunc(func(a *pcall.Args) pcall.Result { return pcall.Result{Int: a.Int[0] + a.Int[1]} }))
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Release()
	want := func(n int) int64 { return int64(n)*int64(n-1)/2 + int64(n) }
	b.Run("form=cgo-export", func(b *testing.B) {
		b.ReportAllocs()
		if got := baseline.LoopExport(int64(b.N)); got != want(b.N) {
			b.Fatal(got)
		}
	})
	b.Run("form=cgo-export-handle", func(b *testing.B) {
		b.ReportAllocs()
		if got := baseline.LoopExportHandle(func(a, b int64) int64 { return a + b }, int64(b.N)); got != want(b.N) {
			b.Fatal(got)
		}
	})
	b.Run("form=typed", func(b *testing.B) {
		b.ReportAllocs()
		if got := baseline.LoopUnprotected(typed.Ptr(), int64(b.N)); got != want(b.N) {
			b.Fatal(got)
		}
	})
	b.Run("form=raw", func(b *testing.B) {
		b.ReportAllocs()
		if got := baseline.LoopUnprotected(raw.Ptr(), int64(b.N)); got != want(b.N) {
			b.Fatal(got)
		}
	})
	inPlugin := func(b *testing.B, fn uintptr) {
		l := newLoader(b, Options{})
		p := load(b, l, "cb_store")
		store, err := Bind1[uintptr, Void](fnOf(b, p, "cb_store"))
		if err != nil {
			b.Fatal(err)
		}
		loop, err := Bind1[int64, int64](fnOf(b, p, "cb_loop"))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := store(context.Background(), fn); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		if got, err := loop(context.Background(), int64(b.N)); err != nil || got != want(b.N) {
			b.Fatal(got, err)
		}
	}
	b.Run("form=in-plugin-call", func(b *testing.B) { inPlugin(b, typed.Ptr()) })
	b.Run("form=in-plugin-call-export", func(b *testing.B) { inPlugin(b, baseline.ExportAddAddr()) })
}

// BenchmarkCallbackInterleaved compares the typed Callback with the cgo
// //export baseline in alternating blocks of 10,000 calls from C (each
// b.N iteration is one block of each), and reports the 10th percentile
// and the median of the per-call time of each, and their ratios: on a
// shared, noisy machine the noise then falls on both alike. The C caller
// is a loop reached by a plain cgo call (export, export-handle, typed)
// or a plugin's loop inside a protected call (in-plugin-*).
//
//	go test -run '^$' -bench CallbackInterleaved -benchtime 300x -count 5 ./loader
func BenchmarkCallbackInterleaved(b *testing.B) {
	typed, err := NewCallback(func(a, b int64) int64 { return a + b })
	if err != nil {
		b.Fatal(err)
	}
	defer typed.Release()
	add := func(a, b int64) int64 { return a + b }
	// Two instances of cb_store (separate data): one calls the Callback,
	// one the //export function, from its loop inside a protected call.
	l := newLoader(b, Options{})
	pluginLoop := func(fn uintptr) func(context.Context, int64) (int64, error) {
		p := load(b, l, "cb_store")
		store, err := Bind1[uintptr, Void](fnOf(b, p, "cb_store"))
		if err != nil {
			b.Fatal(err)
		}
		loop, err := Bind1[int64, int64](fnOf(b, p, "cb_loop"))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := store(context.Background(), fn); err != nil {
			b.Fatal(err)
		}
		return loop
	}
	loopCB, loopExp := pluginLoop(typed.Ptr()), pluginLoop(baseline.ExportAddAddr())
	const block = 10000
	var exp, hdl, cb, pcb, pexp, rec []float64
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / block }
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		baseline.LoopExport(block)
		t1 := time.Now()
		baseline.LoopUnprotected(typed.Ptr(), block)
		t2 := time.Now()
		baseline.LoopExportHandle(add, block)
		t3 := time.Now()
		loopCB(context.Background(), block)
		t4 := time.Now()
		loopExp(context.Background(), block)
		t5 := time.Now()
		baseline.LoopExportRecover(block)
		t6 := time.Now()
		rec = append(rec, per(t6.Sub(t5)))
		exp = append(exp, per(t1.Sub(t0)))
		cb = append(cb, per(t2.Sub(t1)))
		hdl = append(hdl, per(t3.Sub(t2)))
		pcb = append(pcb, per(t4.Sub(t3)))
		pexp = append(pexp, per(t5.Sub(t4)))
	}
	for _, xs := range [][]float64{exp, cb, hdl, pcb, pexp, rec} {
		slices.Sort(xs)
	}
	q := func(xs []float64, f float64) float64 { return xs[int(f*float64(len(xs)-1))] }
	b.ReportMetric(q(exp, 0.1), "export-p10-ns")
	b.ReportMetric(q(rec, 0.1), "export-recover-p10-ns")
	b.ReportMetric(q(cb, 0.1)/q(rec, 0.1), "typed/export-recover-p10")
	b.ReportMetric(q(cb, 0.5)/q(rec, 0.5), "typed/export-recover-p50")
	b.ReportMetric(q(hdl, 0.1), "export-handle-p10-ns")
	b.ReportMetric(q(cb, 0.1), "typed-p10-ns")
	b.ReportMetric(q(cb, 0.1)/q(exp, 0.1), "typed/export-p10")
	b.ReportMetric(q(cb, 0.1)/q(hdl, 0.1), "typed/export-handle-p10")
	b.ReportMetric(q(cb, 0.5)/q(exp, 0.5), "typed/export-p50")
	b.ReportMetric(q(cb, 0.5)/q(hdl, 0.5), "typed/export-handle-p50")
	b.ReportMetric(q(pcb, 0.1), "in-plugin-typed-p10-ns")
	b.ReportMetric(q(pexp, 0.1), "in-plugin-export-p10-ns")
	b.ReportMetric(q(pcb, 0.1)/q(pexp, 0.1), "in-plugin-typed/export-p10")
	b.ReportMetric(q(pcb, 0.5)/q(pexp, 0.5), "in-plugin-typed/export-p50")
}

// BenchmarkCallbackStruct: a plugin's loop calls a function taking four
// structs by value (one on the stack) and returning a 24-byte struct
// through the hidden pointer: a typed Go callback (the general form,
// through reflect) and, as the baseline, the C callee of the same
// signature.
//
//	go test -run '^$' -bench 'CallbackStruct$' -count 5 ./loader
func BenchmarkCallbackStruct(b *testing.B) {
	l := newLoader(b, Options{})
	p := load(b, l, "cb_struct")
	loop, err := Bind2[uintptr, int64, int64](fnOf(b, p, "loop_big"))
	if err != nil {
		b.Fatal(err)
	}
	cf, err := p.Func("cb_big")
	if err != nil {
		b.Fatal(err)
	}
	cb, err := NewCallback(func(p cbII, q cbDD, m cbMix, bg cbBig, x int64, y float64) cbBig {
		i := cbISum(p, m, bg, x)
		return cbBig{i, i * 2, int64(cbFSum(q, m, y))}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer cb.Release()
	for _, form := range []struct {
		name string
		fn   uintptr
	}{{"c", cf.Addr()}, {"typed", cb.Ptr()}} {
		b.Run("form="+form.name, func(b *testing.B) {
			b.ReportAllocs()
			if _, err := loop(context.Background(), form.fn, int64(b.N)); err != nil {
				b.Fatal(err)
			}
		})
	}
}
