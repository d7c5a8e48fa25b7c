//go:build linux && (amd64 || arm64) && cgo

package isolate_test

import (
	"bytes"
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

// TestGeneralCallRegisters: general calls of plugins/ffi_call.c through a
// Signature give the same result in process and isolated, with the
// argument registers each convention adds to the frame's words: floats
// and doubles among integers (on arm64 d0-d7 come after x6 and x7 there),
// integers in x6 and x7, strings (buffers in the shared memory) in x6 and
// x7 of a variadic call, and an HFA of four floats back in v0-v3. (Runs
// under qemu-user, with children without seccomp and namespaces.)
func TestGeneralCallRegisters(t *testing.T) {
	l, _ := newBoundaryLoader(t, loader.Options{}, isolate.Options{})
	iso := load(t, l, "ffi_call")
	plain := loader.New(loader.Options{})
	t.Cleanup(func() { plain.Close(context.Background()) })
	in := load(t, plain, "ffi_call")
	s4f, err := abi.StructOf(abi.Float32, abi.Float32, abi.Float32, abi.Float32)
	if err != nil {
		t.Fatal(err)
	}
	type goS4f struct{ A, B, C, D float32 }
	mixed := []*abi.Type{abi.Float64, abi.Int64}
	var mixedVals []any
	for i := 0; i < 8; i++ {
		mixedVals = append(mixedVals, float64(i)+0.5, int64(-3*i-1))
	}
	for _, tc := range []struct {
		name string
		ret  *abi.Type
		args []*abi.Type
		vals []any
	}{
		{"float_mix", abi.Float64, []*abi.Type{abi.Float32, abi.Float64, abi.Int32, abi.Float32, abi.Int64, abi.Float64, abi.Uint8},
			[]any{float32(1.25), 2.5, int32(-3), float32(4.75), int64(-5), 6.125, uint8(200)}},
		{"many_mixed", abi.Float64, append(rep(mixed, 8), abi.Float64, abi.Float64, abi.Int64),
			append(mixedVals, 8.5, 9.5, int64(-28))},
		{"many_ints", abi.Int64, []*abi.Type{abi.Int8, abi.Int16, abi.Int32, abi.Int64, abi.Uint8, abi.Uint16, abi.Uint32, abi.Uint64,
			abi.Int8, abi.Int16, abi.Int32, abi.Int64, abi.Uint8, abi.Uint16, abi.Uint32, abi.Uint64},
			[]any{int8(-1), int16(-2), int32(-3), int64(-4), uint8(5), uint16(6), uint32(7), uint64(8),
				int8(-9), int16(-10), int32(-11), int64(-12), uint8(13), uint16(14), uint32(15), uint64(16)}},
		{"s4f_fn", s4f, []*abi.Type{s4f, abi.Float32}, []any{goS4f{1, 2, 3, 4}, float32(0.5)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sig, err := loader.NewSignature(tc.ret, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			var got [2][]byte
			for i, p := range []*loader.Plugin{in, iso} {
				got[i] = make([]byte, tc.ret.Size())
				if err := fnSig(t, p, tc.name, sig).CallSig(context.Background(), got[i], tc.vals...); err != nil {
					t.Fatalf("isolated %v: %v", p.Isolated(), err)
				}
			}
			if !bytes.Equal(got[0], got[1]) || bytes.Count(got[0], []byte{0}) == len(got[0]) {
				t.Errorf("%v: in process % x, isolated % x", sig, got[0], got[1])
			}
		})
	}
	t.Run("fmt_str", func(t *testing.T) {
		sig, err := loader.NewVariadicSignature(abi.Int32, 3, abi.Pointer, abi.Uint64, abi.Pointer, abi.Int32, abi.Int32, abi.Int32, abi.Pointer, abi.Pointer)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 32)
		var n int32
		if err := fnSig(t, iso, "fmt_str", sig).CallSig(context.Background(), &n, buf, uint64(len(buf)), "%d %d %d %s %s", 1, 2, 3, "sixth", "seventh"); err != nil {
			t.Fatal(err)
		}
		if want := "1 2 3 sixth seventh"; string(buf[:n]) != want {
			t.Errorf("fmt_str isolated = %q (%d), want %q", buf[:max(n, 0)], n, want)
		}
	})
}

func rep(ts []*abi.Type, n int) (out []*abi.Type) {
	for i := 0; i < n; i++ {
		out = append(out, ts...)
	}
	return out
}

func fnSig(t *testing.T, p *loader.Plugin, name string, sig *loader.Signature) *loader.Func {
	t.Helper()
	f, err := p.FuncSig(name, sig)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

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
