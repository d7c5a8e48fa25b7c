package pcall

import (
	"context"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/runplug/runplug/internal/baseline"
)

var sink uint64

// BenchmarkCall compares a protected call of add(a, b) with a plain cgo
// call of the same C function through the same pointer.
func BenchmarkCall(b *testing.B) {
	add := fixtureAdd()
	b.Run("protected", func(b *testing.B) {
		args := &Args{Int: [6]uint64{1, 2}}
		for i := 0; i < b.N; i++ {
			r, err := Call(add, args)
			if err != nil {
				b.Fatal(err)
			}
			sink += r.Int
		}
	})
	b.Run("gated", func(b *testing.B) {
		// Through a Gate: the per-thread slot bookkeeping Close relies on.
		g := NewGate()
		args := &Args{Int: [6]uint64{1, 2}}
		for i := 0; i < b.N; i++ {
			r, err := g.Call(add, args)
			if err != nil {
				b.Fatal(err)
			}
			sink += r.Int
		}
	})
	b.Run("cgo", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			sink += uint64(fixtureCall2(add, 1, 2))
		}
	})
	b.Run("context", func(b *testing.B) {
		// A context that can never be done: the same path as Call.
		args := &Args{Int: [6]uint64{1, 2}}
		ctx := context.Background()
		for i := 0; i < b.N; i++ {
			r, err := CallContext(ctx, add, args)
			if err != nil {
				b.Fatal(err)
			}
			sink += r.Int
		}
	})
}

// BenchmarkFault measures one trapped fault end to end: the NULL read, the
// signal, recovery, and the *FaultError with symbol and Where (runplug),
// against the kernel's own round trip measured in the same run (kernel: a
// C loop reading a PROT_NONE page, SIGSEGV, siglongjmp; FaultLoop); see
// also BenchmarkFaultRatio.
//
//	go test ./internal/pcall -run '^$' -bench 'Fault$' -count 10
func BenchmarkFault(b *testing.B) {
	b.Run("runplug", func(b *testing.B) {
		m := newTestImage(b, "bench.so")
		fn := m.fn("null_read")
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := Call(fn, nil); err == nil {
				b.Fatal("no fault")
			}
		}
	})
	b.Run("kernel", func(b *testing.B) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		b.ReportAllocs()
		if n := baseline.FaultLoop(int64(b.N)); n != int64(b.N) {
			b.Fatalf("baseline.FaultLoop(%d) took %d faults", b.N, n)
		}
	})
}

// BenchmarkFaultRatio alternates BenchmarkFault's two sides in blocks of
// 100 faults, so that both see the same machine, and reports the median
// of the blocks' ratios, which holds still on a loaded machine where the
// two sub-benchmarks of BenchmarkFault, run one after the other, drift
// apart. An iteration is one block of each.
//
//	go test ./internal/pcall -run '^$' -bench 'FaultRatio' -benchtime 300x
func BenchmarkFaultRatio(b *testing.B) {
	const faultBlock = 100
	m := newTestImage(b, "bench.so")
	fn := m.fn("null_read")
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var rp, kern, ratio []float64
	for b.Loop() {
		t0 := time.Now()
		for range faultBlock {
			if _, err := Call(fn, nil); err == nil {
				b.Fatal("no fault")
			}
		}
		t1 := time.Now()
		if n := baseline.FaultLoop(faultBlock); n != faultBlock {
			b.Fatalf("baseline.FaultLoop(%d) took %d faults", faultBlock, n)
		}
		t2 := time.Now()
		r, k := float64(t1.Sub(t0))/faultBlock, float64(t2.Sub(t1))/faultBlock
		rp, kern, ratio = append(rp, r), append(kern, k), append(ratio, r/k)
	}
	med := func(xs []float64) float64 { slices.Sort(xs); return xs[len(xs)/2] }
	b.ReportMetric(med(rp), "runplug-ns")
	b.ReportMetric(med(kern), "kernel-ns")
	b.ReportMetric(med(ratio), "ratio")
}
