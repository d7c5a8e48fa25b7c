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
	in, iso := inAndIsolated(t, "ffi_call")
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

// inAndIsolated loads plugin name in process and isolated (children
// without seccomp and namespaces under qemu-user).
func inAndIsolated(t *testing.T, name string) (in, iso *loader.Plugin) {
	t.Helper()
	l, _ := newBoundaryLoader(t, loader.Options{}, isolate.Options{})
	plain := loader.New(loader.Options{})
	t.Cleanup(func() { plain.Close(context.Background()) })
	return load(t, plain, name), load(t, l, name)
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

// TestCallbackRegisters: Go callbacks called by an isolated plugin get
// what a C callee gets in process, with the registers AAPCS64 adds: x6 and
// x7 in, an HFA of four doubles out (d0-d3), a 24-byte struct out through
// x8's buffer; a callback taking a struct by reference (arm64) is refused
// when passed, and the host survives. (Runs under qemu-user, with
// children without seccomp and namespaces.)
func TestCallbackRegisters(t *testing.T) {
	in, iso := inAndIsolated(t, "cb_regs")
	type d4 struct{ A, B, C, D float64 }
	type l3 struct{ A, B, C int64 }
	for _, tc := range []struct {
		caller, callee string
		ret            *abi.Type
		fn             any
	}{
		{"call_d4", "cb_d4", abi.Float64, func(a1, a2, a3, a4, a5, a6, a7, a8 int64, x float64) d4 {
			return d4{float64(a1 + 2*a2), float64(a3*a4) + 0.5, float64(a5 - 3*a6), float64(7*a7+a8) + x}
		}},
		{"call_l3", "cb_l3", abi.Int64, func(a int64, x float64) l3 { return l3{a, a * 2, int64(x * 4)} }},
	} {
		t.Run(tc.caller, func(t *testing.T) {
			sig, err := loader.NewSignature(tc.ret, abi.Pointer, abi.Int64)
			if err != nil {
				t.Fatal(err)
			}
			cb, err := loader.NewCallback(tc.fn)
			if err != nil {
				t.Fatal(err)
			}
			defer cb.Release()
			for _, seed := range []int64{1, -9} {
				want := make([]byte, 8)
				if err := fnSig(t, in, tc.caller, sig).CallSig(context.Background(), want, fn(t, in, tc.callee).Addr(), seed); err != nil {
					t.Fatal(err)
				}
				got := make([]byte, 8)
				if err := fnSig(t, iso, tc.caller, sig).CallSig(context.Background(), got, cb, seed); err != nil || !bytes.Equal(got, want) || bytes.Equal(want, make([]byte, 8)) {
					t.Errorf("seed %d: isolated with a Go callback % x, %v; in process with the C callee % x", seed, got, err, want)
				}
			}
		})
	}
	if callconv.Native != callconv.AAPCS64 {
		return
	}
	var ran atomic.Bool
	big, err := loader.NewCallback(func(s struct{ A, B, C int64 }) int64 { ran.Store(true); return s.A })
	if err != nil {
		t.Fatal(err)
	}
	defer big.Release()
	sig, err := loader.NewSignature(abi.Int64, abi.Pointer, abi.Int64)
	if err != nil {
		t.Fatal(err)
	}
	var r int64
	err = fnSig(t, iso, "call_l3", sig).CallSig(context.Background(), &r, big, 1)
	if !errors.Is(err, loader.ErrUnsupported) || !strings.Contains(err.Error(), "by reference") || ran.Load() {
		t.Errorf("a callback taking a struct by reference, isolated: %v (ran %v), want ErrUnsupported naming it", err, ran.Load())
	}
}
