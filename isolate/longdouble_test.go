//go:build linux && (amd64 || arm64) && cgo

package isolate_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/runplug/runplug/abi"
	"github.com/runplug/runplug/internal/callconv"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// TestLongDoubleBoundary: an isolated plugin's frames carry the low 64
// bits of each vector register only, so on arm64, where a long double is
// IEEE binary128 in a whole q register, a signature with one is refused
// when bound, and a callback taking one when passed, each with an error
// that wraps ErrUnsupported and names the long double; nothing runs. On
// amd64 a long double argument travels in memory and crosses: the
// isolated call and callback give what the C callee gives in process.
// (Runs under qemu-user, with children without seccomp and namespaces.)
func TestLongDoubleBoundary(t *testing.T) {
	l, _ := newBoundaryLoader(t, loader.Options{}, isolate.Options{})
	p := load(t, l, "cb_ld")
	quad := callconv.Native == callconv.AAPCS64
	pairT, err := abi.StructOf(abi.LongDouble, abi.LongDouble)
	if err != nil {
		t.Fatal(err)
	}
	args, err := loader.NewSignature(abi.Float64, abi.Int32, abi.LongDouble, abi.Float64, pairT, abi.LongDouble)
	if err != nil {
		t.Fatal(err)
	}
	f, err := p.FuncSig("ld_args", args)
	if quad {
		if !errors.Is(err, loader.ErrUnsupported) || !strings.Contains(err.Error(), "long double") {
			t.Errorf("a long double in a q register, isolated: %v, want ErrUnsupported naming it", err)
		}
	} else if err != nil {
		t.Fatal(err)
	}
	sig, err := loader.NewSignature(abi.Float64, abi.Pointer, abi.Int64)
	if err != nil {
		t.Fatal(err)
	}
	caller, err := p.FuncSig("call_ld_args", sig)
	if err != nil {
		t.Fatal(err)
	}
	var ran atomic.Bool
	cb, err := loader.NewCallback(func(k int32, a abi.LongDoubleValue, d float64, s struct{ A, B abi.LongDoubleValue }, c abi.LongDoubleValue) float64 {
		ran.Store(true)
		return float64(k) + d*3 // a's, s's and c's bytes are checked through the C callee below
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Release()
	var got float64
	err = caller.CallSig(context.Background(), &got, cb, int64(2))
	if quad {
		if !errors.Is(err, loader.ErrUnsupported) || !strings.Contains(err.Error(), "long double") || ran.Load() {
			t.Errorf("a callback taking a long double in a q register, isolated: %v (ran %v), want ErrUnsupported naming it", err, ran.Load())
		}
		return
	}
	if err != nil || got != 2+0.375 || !ran.Load() {
		t.Fatalf("call_ld_args(Go callback, 2) isolated = %v, %v (ran %v), want 2.375", got, err, ran.Load())
	}
	// The C callee, called isolated with the long doubles call_ld_args
	// passes (2.5, {1, -0.25}, 8): 2 + 5 + 0.375 + 4 - 1.25 + 48.
	var direct float64
	ldf := func(x float64) abi.LongDoubleValue { // x87 extended, x normal
		b := math.Float64bits(x)
		return abi.LongDoubleValue{Lo: 1<<63 | b<<12>>1, Hi: b>>63<<15 | (b>>52&0x7FF - 1023 + 16383)}
	}
	pair := struct{ A, B abi.LongDoubleValue }{ldf(1), ldf(-0.25)}
	if err := f.CallSig(context.Background(), &direct, int32(2), ldf(2.5), 0.125, pair, ldf(8)); err != nil || direct != 58.125 {
		t.Errorf("ld_args isolated = %v, %v; want 58.125", direct, err)
	}
}
