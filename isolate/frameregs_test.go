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
// x7 of a variadic call, an HFA of four floats back in v0-v3, and a
// struct of 68 bytes (on arm64 passed by reference: the isolated plugin
// gets a copy in the shared memory). (Runs
// under qemu-user, with children without seccomp and namespaces.)
func TestGeneralCallRegisters(t *testing.T) {
	in, iso := inAndIsolated(t, "ffi_call")
	s4f, err := abi.StructOf(abi.Float32, abi.Float32, abi.Float32, abi.Float32)
	if err != nil {
		t.Fatal(err)
	}
	type goS4f struct{ A, B, C, D float32 }
	u17, err := abi.ArrayOf(abi.Uint32, 17)
	if err != nil {
		t.Fatal(err)
	}
	sbig, err := abi.StructOf(u17)
	if err != nil {
		t.Fatal(err)
	}
	type goSbig struct{ U [17]uint32 }
	var big goSbig
	for i := range big.U {
		big.U[i] = uint32(3*i + 1)
	}
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
		// 68 bytes: on arm64 passed by reference (a copy in the shared
		// memory for the isolated plugin), on amd64 copied to the stack.
		{"sbig_fn", sbig, []*abi.Type{sbig}, []any{big}},
	} {
		t.Run(tc.name, func(t *testing.T) { sameBothWays(t, in, iso, tc.name, tc.ret, tc.args, tc.vals) })
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

// sameBothWays calls name (ret and args, given vals) in process and
// isolated through a Signature: the result bytes must be the same, and
// not all zero.
func sameBothWays(t *testing.T, in, iso *loader.Plugin, name string, ret *abi.Type, args []*abi.Type, vals []any) {
	t.Helper()
	sig, err := loader.NewSignature(ret, args...)
	if err != nil {
		t.Fatal(err)
	}
	var got [2][]byte
	for i, p := range []*loader.Plugin{in, iso} {
		got[i] = make([]byte, ret.Size())
		if err := fnSig(t, p, name, sig).CallSig(context.Background(), got[i], vals...); err != nil {
			t.Fatalf("isolated %v: %v", p.Isolated(), err)
		}
	}
	if !bytes.Equal(got[0], got[1]) || bytes.Equal(got[0], make([]byte, len(got[0]))) {
		t.Errorf("%v: in process % x, isolated % x", sig, got[0], got[1])
	}
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

// TestLongDoubleBoundary: long doubles cross to an isolated plugin: a
// call with some (on arm64 IEEE binary128 in whole q registers, the
// frame's VHi; on amd64 in memory) gives the bytes the same call gives
// in process, and on arm64 so does a long double result (q0; amd64's
// comes in x87's st0, refused at bind); Go callbacks the plugin calls
// receive them (and on arm64 return one) unchanged.
// (Runs under qemu-user, with children without seccomp and namespaces.)
func TestLongDoubleBoundary(t *testing.T) {
	in, iso := inAndIsolated(t, "cb_ld")
	quad := callconv.Native == callconv.AAPCS64
	pairT, err := abi.StructOf(abi.LongDouble, abi.LongDouble)
	if err != nil {
		t.Fatal(err)
	}
	type pair struct{ A, B abi.LongDoubleValue }
	for _, tc := range []struct {
		name string
		ret  *abi.Type
		args []*abi.Type
		vals []any
	}{
		{"ld_args", abi.Float64, []*abi.Type{abi.Int32, abi.LongDouble, abi.Float64, pairT, abi.LongDouble},
			[]any{int32(2), ldOf(2.5), 0.125, pair{ldOf(1), ldOf(-0.25)}, ldOf(8)}}, // 58.125
		{"ld_scale", abi.LongDouble, []*abi.Type{abi.LongDouble, abi.Int32}, []any{ldOf(-1.25), int32(3)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !quad && tc.ret == abi.LongDouble {
				sig, err := loader.NewSignature(tc.ret, tc.args...)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := iso.FuncSig(tc.name, sig); !errors.Is(err, loader.ErrUnsupported) {
					t.Fatalf("an x87 long double result, isolated: %v, want ErrUnsupported", err)
				}
				return
			}
			sameBothWays(t, in, iso, tc.name, tc.ret, tc.args, tc.vals)
		})
	}
	// Go callbacks called by the isolated plugin with long doubles
	// (call_ld_args(f, 2): 2, 2.5, 0.125, {1, -0.25}, 8; call_ld_scale(f,
	// 2): 1.5, 3, and 1 added to the result), checked bytewise (on amd64
	// the 10 bytes of x87's format: the rest of a stack slot is padding).
	same := func(x, y abi.LongDoubleValue) bool {
		return x.Lo == y.Lo && (quad && x.Hi == y.Hi || !quad && uint16(x.Hi) == uint16(y.Hi))
	}
	sig, err := loader.NewSignature(abi.Float64, abi.Pointer, abi.Int64)
	if err != nil {
		t.Fatal(err)
	}
	args, err := loader.NewCallback(func(k int32, a abi.LongDoubleValue, d float64, s pair, c abi.LongDoubleValue) float64 {
		if !same(a, ldOf(2.5)) || !same(s.A, ldOf(1)) || !same(s.B, ldOf(-0.25)) || !same(c, ldOf(8)) {
			return -1
		}
		return float64(k) + d*3
	})
	if err != nil {
		t.Fatal(err)
	}
	defer args.Release()
	var got float64
	if err := fnSig(t, iso, "call_ld_args", sig).CallSig(context.Background(), &got, args, int64(2)); err != nil || got != 2.375 {
		t.Errorf("call_ld_args(Go callback, 2) isolated = %v, %v; want 2.375", got, err)
	}
	if !quad {
		return // a long double result would be x87's st0: no Go callback returns one
	}
	scale, err := loader.NewCallback(func(x abi.LongDoubleValue, k int32) abi.LongDoubleValue {
		if !same(x, ldOf(1.5)) || k != 3 {
			return ldOf(-1)
		}
		return ldOf(4.5)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer scale.Release()
	if err := fnSig(t, iso, "call_ld_scale", sig).CallSig(context.Background(), &got, scale, int64(2)); err != nil || got != 5.5 {
		t.Errorf("call_ld_scale(Go callback, 2) isolated = %v, %v; want 5.5", got, err)
	}
}

// ldOf returns the long double x (normal, or zero) as this architecture
// lays it out: x87 extended on amd64, IEEE binary128 on arm64.
func ldOf(x float64) abi.LongDoubleValue {
	b := math.Float64bits(x)
	sign, exp, frac := b>>63, b>>52&0x7FF, b&(1<<52-1)
	if exp != 0 {
		exp += 16383 - 1023
	}
	if callconv.Native == callconv.AAPCS64 {
		return abi.LongDoubleValue{Lo: frac << 60, Hi: sign<<63 | exp<<48 | frac>>4}
	}
	lo := frac << 11
	if exp != 0 {
		lo |= 1 << 63
	}
	return abi.LongDoubleValue{Lo: lo, Hi: sign<<15 | exp}
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
