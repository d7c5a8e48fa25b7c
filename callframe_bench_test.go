package runplug_test

import (
	"context"
	"testing"

	"github.com/runplug/runplug/abi"
	"github.com/runplug/runplug/internal/baseline"
	"github.com/runplug/runplug/internal/callconv"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/loader"
)

// BenchmarkCallStruct calls s24_fn of plugins/ffi_call.c, which takes and
// returns a 24-byte struct by value (class MEMORY: the argument on the
// stack, the result through the hidden pointer), through the general call:
// a typed binding ("bind"), a run-time Signature ("sig") and against a plain
// cgo call of the same function through the same pointer ("cgo").
//
//	go test -run '^$' -bench 'Call$|CallStruct$' -count 10 .
func BenchmarkCallStruct(b *testing.B) {
	l := loader.New(loader.Options{})
	defer l.Close(context.Background())
	p, err := l.Load(context.Background(), plugintest.Build(b, "ffi_call"))
	if err != nil {
		b.Fatal(err)
	}
	s24, err := loader.Bind1[baseline.S24, baseline.S24](p, "s24_fn")
	if err != nil {
		b.Fatal(err)
	}
	in := baseline.S24{A: 1, B: 2, C: 3}
	b.Run("bind", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r, err := s24(in)
			if err != nil {
				b.Fatal(err)
			}
			callSink += r.C
		}
	})
	t24 := callconv.MustStructOf(abi.Int64, abi.Int64, abi.Int64)
	sig, err := loader.NewSignature(t24, t24)
	if err != nil {
		b.Fatal(err)
	}
	f, err := p.FuncSig("s24_fn", sig)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("sig", func(b *testing.B) {
		b.ReportAllocs()
		var r baseline.S24
		for b.Loop() {
			if err := f.CallSig(nil, &r, in); err != nil {
				b.Fatal(err)
			}
			callSink += r.C
		}
	})
	b.Run("cgo", func(b *testing.B) {
		b.ReportAllocs()
		addr := f.Addr()
		for b.Loop() {
			callSink += baseline.CallUnprotectedS24(addr, in).C
		}
	})
}
