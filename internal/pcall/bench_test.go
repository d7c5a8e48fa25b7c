package pcall

import (
	"context"
	"runtime"
	"testing"

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
// C loop reading a PROT_NONE page, SIGSEGV, siglongjmp; FaultLoop).
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
