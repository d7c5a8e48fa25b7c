package loader

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/runplug/runplug/abi"
	"github.com/runplug/runplug/internal/callconv"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/testenv"
)

// ffiCase is one call of plugins/ffi_call.c, after libffi's
// testsuite/libffi.call: a signature, argument values, and (checked by
// TestSignatureFFI) the callee's result through runplug equal to the one
// its C direct caller gets.
type ffiCase struct {
	name   string
	ret    *abi.Type
	nfixed int // -1: not variadic
	args   []*abi.Type
	vals   []any
}

func mustStruct(ts ...*abi.Type) *abi.Type { return callconv.MustStructOf(ts...) }

func mustArray(e *abi.Type, n uint64) *abi.Type {
	a, err := callconv.ArrayOf(e, n)
	if err != nil {
		panic(err)
	}
	return a
}

// seq returns n values f(0..n-1).
func seq[T any](n int, f func(i int) T) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

func rep(t *abi.Type, n int) []*abi.Type { return slices.Repeat([]*abi.Type{t}, n) }

var (
	tS3b     = mustStruct(abi.Uint8, abi.Uint8, abi.Uint8)
	tS3      = mustStruct(abi.Uint32, abi.Uint32, abi.Uint32)
	tS3f     = mustStruct(abi.Float32, abi.Float32, abi.Float32)
	tS4      = mustStruct(abi.Uint32, abi.Uint32, abi.Uint32, abi.Uint32)
	tS4f     = mustStruct(abi.Float32, abi.Float32, abi.Float32, abi.Float32)
	tSbig    = mustStruct(mustArray(abi.Uint32, 17))
	tIntFl   = mustStruct(abi.Uint64, abi.Float32)
	tDL      = mustStruct(abi.Float64, abi.Int64)
	tLD      = mustStruct(abi.Int64, abi.Float64)
	tSmall   = mustStruct(abi.Int32, abi.Int32)
	tBig     = mustStruct(mustArray(abi.Uint8, 32))
	tPair    = mustStruct(abi.Int64, abi.Int64)
	tS24     = mustStruct(abi.Int64, abi.Int64, abi.Int64)
	tSmTag   = mustStruct(abi.Uint8, abi.Uint8)
	tLargeTg = mustStruct(abi.Uint32, abi.Uint32, abi.Uint32, abi.Uint32, abi.Uint32)
)

// Go types with the C layouts above.
type (
	goS3b   struct{ A, B, C uint8 }
	goS3    struct{ A, B, C uint32 }
	goS3f   struct{ A, B, C float32 }
	goS4    struct{ A, B, C, D uint32 }
	goS4f   struct{ A, B, C, D float32 }
	goSbig  struct{ U [17]uint32 }
	goIntFl struct {
		I uint64
		F float32
	}
	goDL struct {
		D float64
		L int64
	}
	goLD struct {
		L int64
		D float64
	}
	goSmall struct{ A, B int32 }
	goBig   struct{ B [32]uint8 }
	goPair  struct{ X, Y int64 }
	goS24   struct{ A, B, C int64 }
	goSmTag struct{ A, B uint8 }
	goLarge struct{ A, B, C, D, E uint32 }
)

var ffiCases = []ffiCase{
	{"many_f", abi.Float32, -1, rep(abi.Float32, 13), seq(13, func(i int) float32 { return float32(i) + 0.25 })},
	{"many_d", abi.Float64, -1, rep(abi.Float64, 13), seq(13, func(i int) float64 { return float64(i+1) * 1.5 })},
	{"many_mixed", abi.Float64, -1,
		[]*abi.Type{abi.Float64, abi.Int64, abi.Float64, abi.Int64, abi.Float64, abi.Int64, abi.Float64, abi.Int64, abi.Float64, abi.Int64,
			abi.Float64, abi.Int64, abi.Float64, abi.Int64, abi.Float64, abi.Int64, abi.Float64, abi.Float64, abi.Int64},
		seq(19, func(i int) any {
			if i%2 == 0 && i < 16 || i == 16 || i == 17 {
				return float64(i) + 0.5
			}
			return int64(-i * 1000)
		})},
	{"many_ints", abi.Int64, -1,
		[]*abi.Type{abi.Int8, abi.Int16, abi.Int32, abi.Int64, abi.Uint8, abi.Uint16, abi.Uint32, abi.Uint64,
			abi.Int8, abi.Int16, abi.Int32, abi.Int64, abi.Uint8, abi.Uint16, abi.Uint32, abi.Uint64},
		[]any{int8(-1), int16(-300), int32(-70000), int64(-1 << 40), uint8(255), uint16(65535), uint32(1 << 31), uint64(1 << 50),
			int8(-128), int16(-32768), int32(-2), int64(3), uint8(200), uint16(40000), uint32(4000000000), uint64(7)}},
	{"promotion", abi.Int32, -1, []*abi.Type{abi.Int8, abi.Int16, abi.Uint8, abi.Uint16}, []any{int8(-127), int16(-32000), uint8(250), uint16(65000)}},
	{"return_sc", abi.Int8, -1, []*abi.Type{abi.Int8}, []any{int8(-128)}},
	{"return_us", abi.Uint16, -1, []*abi.Type{abi.Uint16}, []any{uint16(65534)}},
	{"return_fl", abi.Float32, -1, rep(abi.Float32, 4), []any{float32(1.5), float32(-2.25), float32(3e30), float32(1e-30)}},
	{"float_mix", abi.Float64, -1, []*abi.Type{abi.Float32, abi.Float64, abi.Int32, abi.Float32, abi.Int64, abi.Float64, abi.Uint8},
		[]any{float32(1.25), 2.5, int32(-3), float32(4.75), int64(-5), 6.125, uint8(200)}},
	{"s3b_fn", tS3b, -1, []*abi.Type{tS3b, tS3b}, []any{goS3b{1, 2, 3}, []byte{10, 20, 30}}},
	{"s3_fn", tS3, -1, []*abi.Type{tS3}, []any{goS3{7, 1 << 30, 9}}},
	{"s3f_fn", tS3f, -1, []*abi.Type{tS3f}, []any{goS3f{1.5, 2.5, -3.5}}},
	{"s4_fn", tS4, -1, []*abi.Type{tS4, tS4}, []any{goS4{1, 2, 3, 4}, goS4{10, 20, 30, 40}}},
	{"s4f_fn", tS4f, -1, []*abi.Type{tS4f, abi.Float32}, []any{goS4f{1, 2, 3, 4}, float32(0.5)}},
	{"sbig_fn", tSbig, -1, []*abi.Type{tSbig}, []any{goSbig{[17]uint32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}}}},
	{"int_float_fn", abi.Float32, -1, rep(tIntFl, 5), seq(5, func(i int) goIntFl { return goIntFl{uint64(i + 1), float32(i) + 0.5} })},
	{"dl_fn", tDL, -1, []*abi.Type{tLD, tDL, abi.Float32}, []any{goLD{-3, 2.5}, goDL{0.25, 100}, float32(4)}},
	{"ld_fn", tLD, -1, []*abi.Type{tDL, abi.Int32}, []any{goDL{9.5, 41}, int32(2)}},
	{"many_small", tSmall, -1, rep(tSmall, 40), seq(40, func(i int) goSmall { return goSmall{int32(i), int32(-2 * i)} })},
	{"sum_big", abi.Int32, -1, rep(tBig, 16), seq(16, func(i int) goBig {
		var b goBig
		for j := range b.B {
			b.B[j] = uint8(i*7 + j)
		}
		return b
	})},
	{"no_room", abi.Int64, -1, append(rep(abi.Int64, 5), tPair, abi.Int64), []any{int64(1), int64(2), int64(3), int64(4), int64(5), goPair{60, 70}, int64(800)}},
	{"i128_fn", abi.Int128, -1, []*abi.Type{abi.Int64, abi.Int128, abi.Int64, abi.Int64, abi.Int128, abi.Int64, abi.Int128},
		[]any{int64(1), abi.Int128Value{Lo: 1 << 63, Hi: 5}, int64(-3), int64(4), abi.Int128Value{Lo: 7, Hi: -1}, int64(6), abi.Int128Value{Lo: 1 << 40, Hi: 1 << 40}}},
	{"float_va", abi.Float64, 2, append([]*abi.Type{abi.Uint32}, rep(abi.Float64, 11)...),
		append([]any{uint32(10)}, seq(11, func(i int) float64 { return float64(i) + 0.125 })...)},
	{"va_struct", abi.Int64, 1, []*abi.Type{abi.Int32, tSmTag, tLargeTg, abi.Int8, abi.Float32, tSmTag, abi.Int16},
		[]any{int32(5), goSmTag{3, 4}, goLarge{1, 2, 3, 4, 5}, int8(-6), float32(2.5), goSmTag{7, 8}, int16(-300)}},
	{"s24_fn", tS24, -1, []*abi.Type{tS24}, []any{goS24{1, 2, 3}}},
	{"ld_arg", abi.Float64, -1, []*abi.Type{abi.Int32, abi.LongDouble, abi.Float64},
		[]any{int32(3), ldBytes(1.5), 0.25}},
	{"ld_ret", abi.LongDouble, -1, []*abi.Type{abi.LongDouble, abi.Int32, abi.Float64},
		[]any{ldBytes(1.5), int32(-3), 0.125}},
	{"ld_many", abi.LongDouble, -1, append(rep(abi.LongDouble, 10), abi.Float64),
		append(seq(10, func(i int) []byte { return ldBytes(float64(i) + 0.5) }), 0.25)},
	{"ld_hfa", tLD3, -1, []*abi.Type{abi.Float32, tLD3, tLD2, abi.Int32},
		[]any{float32(0.5), slices.Concat(ldBytes(1.25), ldBytes(-2), ldBytes(3e100)), slices.Concat(ldBytes(7), ldBytes(0.125)), int32(3)}},
	{"ld_va", abi.LongDouble, 1, []*abi.Type{abi.Int32, abi.LongDouble, abi.LongDouble, abi.LongDouble},
		[]any{int32(3), ldBytes(1.5), ldBytes(-0.75), ldBytes(1e-300)}},
}

var (
	tLD3 = mustStruct(abi.LongDouble, abi.LongDouble, abi.LongDouble)
	tLD2 = mustStruct(abi.LongDouble, abi.LongDouble)
)

// ldBytes returns the 16 bytes of the long double x (a float64, so exact)
// as this architecture lays it out: the x87 extended format on amd64 (the
// significand with its explicit integer bit, then sign and exponent, then
// six bytes of padding), IEEE binary128 on arm64 (sign, 15-bit exponent,
// 112-bit fraction). x must be zero or normal.
func ldBytes(x float64) []byte {
	b := make([]byte, 16)
	bits := math.Float64bits(x)
	sign, exp, frac := bits>>63, (bits>>52)&0x7FF, bits&(1<<52-1)
	if exp == 0 { // zero (no subnormal is used)
		binary.LittleEndian.PutUint64(b[8:], sign<<63)
		if callconv.Native == callconv.SysV {
			binary.LittleEndian.PutUint16(b[8:], uint16(sign<<15))
			b[15] = 0
		}
		return b
	}
	e := exp - 1023 + 16383
	if callconv.Native == callconv.AAPCS64 {
		binary.LittleEndian.PutUint64(b, frac<<60)
		binary.LittleEndian.PutUint64(b[8:], sign<<63|e<<48|frac>>4)
		return b
	}
	binary.LittleEndian.PutUint64(b, 1<<63|frac<<11)
	binary.LittleEndian.PutUint16(b[8:], uint16(sign<<15|e))
	return b
}

// dataMask marks the bytes of a value of type t that hold data, not
// padding (which a call need not preserve).
func dataMask(t *abi.Type) []bool {
	m := make([]bool, t.Size())
	var mark func(t *abi.Type, off uint64)
	mark = func(t *abi.Type, off uint64) {
		switch callconv.KindOf(t) {
		case callconv.KindStruct, callconv.KindUnion:
			for _, f := range callconv.FieldsOf(t) {
				mark(f.Type, off+f.Offset)
			}
		case callconv.KindArray:
			for i := uint64(0); i < callconv.LenOf(t); i++ {
				mark(callconv.ElemOf(t), off+i*callconv.ElemOf(t).Size())
			}
		case callconv.KindLongDouble:
			n := t.Size() // IEEE binary128 on arm64
			if callconv.Native == callconv.SysV {
				n = 10 // x87 extended, then padding
			}
			for i := uint64(0); i < n; i++ {
				m[off+i] = true
			}
		default:
			for i := uint64(0); i < t.Size(); i++ {
				m[off+i] = true
			}
		}
	}
	mark(t, 0)
	return m
}

// maskedEqual reports whether the data bytes of two values of type t are
// equal (dataMask: not the padding, such as an x87 long double's).
func maskedEqual(t *abi.Type, a, b []byte) bool {
	for i, data := range dataMask(t) {
		if data && a[i] != b[i] {
			return false
		}
	}
	return true
}

// direct calls NAME_direct(argv, ret), the C caller of NAME, with the
// arguments laid out as C has them, and returns the result bytes.
func direct(t *testing.T, p *Plugin, c ffiCase) []byte {
	t.Helper()
	call, err := Bind2[unsafe.Pointer, unsafe.Pointer, Void](fnOf(t, p, c.name+"_direct"))
	if err != nil {
		t.Fatal(err)
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	argv := make([]unsafe.Pointer, len(c.vals))
	for i, v := range c.vals {
		ptr, err := cValue(c.args[i], v, &pin, nil)
		if err != nil {
			t.Fatalf("argument %d: %v", i, err)
		}
		pin.Pin(ptr)
		argv[i] = ptr
	}
	ret := make([]byte, c.ret.Size()+1)
	pin.Pin(&argv[0])
	pin.Pin(&ret[0])
	if _, err := call(context.Background(), unsafe.Pointer(&argv[0]), unsafe.Pointer(&ret[0])); err != nil {
		t.Fatal(err)
	}
	return ret[:c.ret.Size()]
}

// TestSignatureFFI calls each case through a run-time Signature and
// compares the result with the C direct caller's.
func TestSignatureFFI(t *testing.T) {
	testenv.NeedPort(t, pcall.FramesSupported, "general calls (the AAPCS64 frame thunk)")
	p := load(t, newLoader(t, Options{}), "ffi_call")
	for _, c := range ffiCases {
		t.Run(c.name, func(t *testing.T) {
			var sig *Signature
			var err error
			if c.nfixed >= 0 {
				sig, err = NewVariadicSignature(c.ret, c.nfixed, c.args...)
			} else {
				sig, err = NewSignature(c.ret, c.args...)
			}
			if err != nil {
				t.Fatal(err)
			}
			f, err := p.FuncSig(c.name, sig)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]byte, c.ret.Size())
			if err := f.CallSig(context.Background(), got, c.vals...); err != nil {
				t.Fatal(err)
			}
			want := direct(t, p, c)
			mask := dataMask(c.ret)
			nonzero := false
			for i := range want {
				if mask[i] && got[i] != want[i] {
					t.Fatalf("%v: runplug's call gives % x, C's % x", sig, got, want)
				}
				nonzero = nonzero || want[i] != 0
			}
			if !nonzero {
				t.Fatalf("%v: the result is all zero bytes: the case checks nothing", sig)
			}
		})
	}
}

// TestSignatureKnownValues checks results against values computed here,
// so that a direct caller that agreed with a wrong call would be seen.
func TestSignatureKnownValues(t *testing.T) {
	testenv.NeedPort(t, pcall.FramesSupported, "general calls (the AAPCS64 frame thunk)")
	p := load(t, newLoader(t, Options{}), "ffi_call")
	call := func(name string, ret any, c ffiCase) {
		t.Helper()
		sig, err := NewSignature(c.ret, c.args...)
		if c.nfixed >= 0 {
			sig, err = NewVariadicSignature(c.ret, c.nfixed, c.args...)
		}
		if err != nil {
			t.Fatal(err)
		}
		f, err := p.FuncSig(name, sig)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.CallSig(context.Background(), ret, c.vals...); err != nil {
			t.Fatal(err)
		}
	}
	byName := map[string]ffiCase{}
	for _, c := range ffiCases {
		byName[c.name] = c
	}
	var f32 float32
	call("many_f", &f32, byName["many_f"])
	want := float32(0)
	for i := 0; i < 13; i++ {
		want += float32(i+1) * (float32(i) + 0.25)
	}
	if f32 != want {
		t.Errorf("many_f = %v, want %v", f32, want)
	}
	var s3 goS3f
	call("s3f_fn", &s3, byName["s3f_fn"])
	if s3 != (goS3f{2.5, 5, -9}) {
		t.Errorf("s3f_fn = %v", s3)
	}
	var big goSbig
	call("sbig_fn", &big, byName["sbig_fn"])
	for i, u := range big.U {
		if w := uint32(i+1)*uint32(i+1) + uint32(17-i); u != w {
			t.Errorf("sbig_fn u[%d] = %d, want %d", i, u, w)
		}
	}
	var n int64
	call("no_room", &n, byName["no_room"])
	if n != 1+4+9+16+25+360+490+6400 {
		t.Errorf("no_room = %d", n)
	}
	var sc int32 // a signed char result read into a wider Go integer: sign-extended
	call("return_sc", &sc, byName["return_sc"])
	if sc != 127 { // (signed char)(-128 - 1)
		t.Errorf("return_sc = %d, want 127", sc)
	}
	var ld float64
	call("ld_arg", &ld, byName["ld_arg"])
	if ld != 4.75 { // 1.5*3 + 0.25
		t.Errorf("ld_arg = %v, want 4.75", ld)
	}
	// -4.375 = -1.0001100 (binary) x 2^2: on amd64 the significand
	// 0x8C00000000000000, sign and exponent 0xC001 (ldBytes is checked
	// against these bytes); on arm64 IEEE binary128.
	if x87 := []byte{0, 0, 0, 0, 0, 0, 0, 0x8C, 0x01, 0xC0, 0, 0, 0, 0, 0, 0}; callconv.Native == callconv.SysV && !bytes.Equal(ldBytes(-4.375), x87) {
		t.Fatalf("ldBytes(-4.375) = % x, want % x", ldBytes(-4.375), x87)
	}
	ld2 := make([]byte, 16)
	// Twenty calls: st0 is popped after each (eight left on the x87
	// stack would overflow it, and the ninth result would be a NaN).
	for i := 0; i < 20; i++ {
		call("ld_ret", ld2, byName["ld_ret"])
		if want := ldBytes(-4.375); !bytes.Equal(ld2, want) {
			t.Fatalf("call %d: ld_ret = % x, want % x", i, ld2, want)
		}
	}
	// A long double as an abi.LongDoubleValue both ways, and through a
	// typed binding.
	var ldv abi.LongDoubleValue
	c := byName["ld_ret"]
	call("ld_ret", &ldv, ffiCase{ret: c.ret, nfixed: -1, args: c.args, vals: []any{ldValue(1.5), int32(-3), 0.125}})
	if ldv != ldValue(-4.375) {
		t.Errorf("ld_ret = %#x, want %#x", ldv, ldValue(-4.375))
	}
	bound, err := Bind3[int32, abi.LongDoubleValue, float64, float64](fnOf(t, p, "ld_arg"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := bound(context.Background(), 3, ldValue(1.5), 0.25); err != nil || got != 4.75 {
		t.Errorf("bound ld_arg = %v, %v; want 4.75", got, err)
	}
	// The sum of (i+1)(i+0.5) for i < 10 (330 + 27.5), plus 11*0.25.
	call("ld_many", ld2, byName["ld_many"])
	if want := ldBytes(360.25); !bytes.Equal(ld2, want) {
		t.Errorf("ld_many = % x, want % x", ld2, want)
	}
	// ld_hfa: {1.25*3 + 7, -2 - 0.125*0.5, 3e100 + 1.25}, the last rounded
	// as long double arithmetic rounds it: checked through its direct
	// caller (TestSignatureFFI); the first two are exact.
	hfa := make([]byte, 48)
	call("ld_hfa", hfa, byName["ld_hfa"])
	if want := slices.Concat(ldBytes(10.75), ldBytes(-2.0625)); !maskedEqual(mustStruct(abi.LongDouble, abi.LongDouble), hfa[:32], want) {
		t.Errorf("ld_hfa = % x, want % x first", hfa[:32], want)
	}
}

// TestSignatureVariadicLibc formats through a plugin's snprintf-like
// function, whose variable part goes on to glibc's vsnprintf: integers,
// a string, a double, a char promoted to int, a float promoted to double.
func TestSignatureVariadicLibc(t *testing.T) {
	testenv.NeedPort(t, pcall.FramesSupported, "general calls (the AAPCS64 frame thunk)")
	p := load(t, newLoader(t, Options{}), "ffi_call")
	sig, err := NewVariadicSignature(abi.Int32, 3,
		abi.Pointer, abi.Uint64, abi.Pointer, // buf, n, format
		abi.Int32, abi.Pointer, abi.Float64, abi.Int8, abi.Int64, abi.Float32)
	if err != nil {
		t.Fatal(err)
	}
	f, err := p.FuncSig("fmt_str", sig)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64) // a slice for a pointer: pinned for the call by CallSig
	var n int32
	err = f.CallSig(context.Background(), &n, buf, len(buf), "%d %s %.3f %c %lld %.2f",
		int32(-42), "runplug", 3.14159, int8('x'), int64(1)<<40, float32(0.25))
	if err != nil {
		t.Fatal(err)
	}
	const want = "-42 runplug 3.142 x 1099511627776 0.25"
	if got := string(buf[:bytes.IndexByte(buf, 0)]); got != want || n != int32(len(want)) {
		t.Errorf("fmt_str = %q (%d), want %q", got, n, want)
	}
	if s := sig.String(); !strings.Contains(s, "...") {
		t.Errorf("String() = %q, no ...", s)
	}
}

// TestBindStructs calls through typed bindings: structs by value both
// ways, more arguments than registers, __int128.
func TestBindStructs(t *testing.T) {
	testenv.NeedPort(t, pcall.FramesSupported, "general calls (the AAPCS64 frame thunk)")
	p := load(t, newLoader(t, Options{}), "ffi_call")
	s3f, err := Bind1[goS3f, goS3f](fnOf(t, p, "s3f_fn"))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := s3f(context.Background(), goS3f{1.5, 2.5, -3.5}); err != nil || r != (goS3f{2.5, 5, -9}) {
		t.Errorf("s3f_fn = %v, %v", r, err)
	}
	dl, err := Bind3[goLD, goDL, float32, goDL](fnOf(t, p, "dl_fn"))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := dl(context.Background(), goLD{-3, 2.5}, goDL{0.25, 100}, 4); err != nil || r != (goDL{10.25, 91}) {
		t.Errorf("dl_fn = %v, %v", r, err)
	}
	s24, err := Bind1[goS24, goS24](fnOf(t, p, "s24_fn"))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := s24(context.Background(), goS24{1, 2, 3}); err != nil || r != (goS24{2, 3, 1}) {
		t.Errorf("s24_fn = %v, %v", r, err)
	}
	noRoom, err := Bind7[int64, int64, int64, int64, int64, goPair, int64, int64](fnOf(t, p, "no_room"))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := noRoom(context.Background(), 1, 2, 3, 4, 5, goPair{60, 70}, 800); err != nil || r != 1+4+9+16+25+360+490+6400 {
		t.Errorf("no_room = %d, %v", r, err)
	}
	i128, err := Bind7[int64, abi.Int128Value, int64, int64, abi.Int128Value, int64, abi.Int128Value, abi.Int128Value](fnOf(t, p, "i128_fn"))
	if err != nil {
		t.Fatal(err)
	}
	// 1 + 2*(5<<64) + 3*(-3) + 4*4 + 5*(-1<<64 + 7) + 6*6 + 7*0 = 79 + (10-5)<<64
	if r, err := i128(context.Background(), 1, abi.Int128Value{Hi: 5}, -3, 4, abi.Int128Value{Lo: 7, Hi: -1}, 6, abi.Int128Value{}); err != nil || r != (abi.Int128Value{Lo: 79, Hi: 5}) {
		t.Errorf("i128_fn = %+v, %v", r, err)
	}
	var manyF func(ctx context.Context, a, b, c, d, e, f, g, h, i, j, k, l, m float32) (float32, error)
	if err := Bind(fnOf(t, p, "many_f"), &manyF); err != nil {
		t.Fatal(err)
	}
	if r, err := manyF(context.Background(), 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2); err != nil || r != 78+2*13 {
		t.Errorf("many_f = %v, %v", r, err)
	}
	var big func(context.Context, goSbig) (goSbig, error)
	if err := Bind(fnOf(t, p, "sbig_fn"), &big); err != nil {
		t.Fatal(err)
	}
	var in goSbig
	in.U[0], in.U[16] = 3, 5
	if r, err := big(context.Background(), in); err != nil || r.U[0] != 3+5 || r.U[16] != 17*5+3 {
		t.Errorf("sbig_fn = %v, %v", r, err)
	}
}

// TestGeneralCallProtection: a fault and a deadline on the general path
// end the call as on the register path.
func TestGeneralCallProtection(t *testing.T) {
	testenv.NeedPort(t, pcall.FramesSupported, "general calls (the AAPCS64 frame thunk)")
	p := load(t, newLoader(t, Options{KeepAfterFault: true}), "ffi_call")
	crash, err := Bind7[goS24, int64, int64, int64, int64, int64, unsafe.Pointer, goS24](fnOf(t, p, "s24_crash"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = crash(context.Background(), goS24{1, 2, 3}, 1, 2, 3, 4, 5, nil)
	var fe *pcall.FaultError
	if !errors.As(err, &fe) || !strings.HasPrefix(fe.Symbol, "s24_crash+") {
		t.Fatalf("s24_crash: %v, want a fault in s24_crash", err)
	}
	sig, err := NewSignature(abi.Int64, rep(abi.Int64, 7)...)
	if err != nil {
		t.Fatal(err)
	}
	f, err := p.FuncSig("spin_stack", sig)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err = f.CallSig(ctx, nil, seq(7, func(i int) int64 { return int64(i) })...)
	if !errors.Is(err, pcall.ErrDeadline) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("spin_stack: %v, want a deadline error", err)
	}
	// The plugin still answers (KeepAfterFault) on both paths.
	s24, _ := Bind1[goS24, goS24](fnOf(t, p, "s24_fn"))
	if r, err := s24(context.Background(), goS24{1, 2, 3}); err != nil || r.A != 2 {
		t.Errorf("s24_fn after a fault: %v, %v", r, err)
	}
}

// TestSignatureRefusals: what cannot be passed is refused when the
// signature is made or bound, naming the argument and the field.
func TestSignatureRefusals(t *testing.T) {
	testenv.NeedPort(t, pcall.FramesSupported, "general calls (the AAPCS64 frame thunk)")
	if _, err := NewSignature(abi.Void, mustArray(abi.Int32, 4)); !errors.Is(err, ErrSignature) {
		t.Errorf("array argument: %v", err)
	}
	if _, err := NewVariadicSignature(abi.Void, 3, abi.Int32); !errors.Is(err, ErrSignature) {
		t.Errorf("nfixed past the arguments: %v", err)
	}
	p := load(t, newLoader(t, Options{}), "ffi_call")
	type withString struct {
		N    int32
		Name string
	}
	_, err := Bind2[int32, withString, int32](fnOf(t, p, "s3_fn"))
	var se *SignatureError
	var te *abi.TypeError
	if !errors.As(err, &se) || se.Index != 1 || !errors.As(err, &te) || te.Field != "Name" {
		t.Errorf("struct with a string: %v", err)
	}
	sig, _ := NewSignature(tS3, tS3)
	f, _ := p.FuncSig("s3_fn", sig)
	if err := f.CallSig(context.Background(), nil, goS3{1, 2, 3}); err != nil { // caches goS3 as matching
		t.Errorf("s3_fn(goS3): %v", err)
	}
	if err := f.CallSig(context.Background(), nil, goS3f{}); err == nil || !strings.Contains(err.Error(), "layout") {
		t.Errorf("a float struct for an int struct: %v", err)
	}
	if err := f.CallSig(context.Background(), nil); err == nil {
		t.Error("missing argument accepted")
	}
	ptrSig, _ := NewSignature(abi.Void, abi.Pointer)
	pf, _ := p.FuncSig("s3_fn", ptrSig)
	if err := pf.CallSig(context.Background(), nil, []*int{new(int)}); err == nil || !strings.Contains(err.Error(), "Go pointer") {
		t.Errorf("a slice of Go pointers for a pointer: %v", err)
	}
	plain, _ := p.Func("s3_fn")
	if err := plain.CallSig(context.Background(), nil, goS3{}); err == nil {
		t.Error("CallSig without a signature accepted")
	}
}

// growStackFrames recurses through n frames of 1 KiB each, so that the
// goroutine's stack is copied to a larger one.
//
//go:noinline
func growStackFrames(n int) int {
	var pad [1024]byte
	pad[n%len(pad)] = byte(n)
	if n == 0 {
		return int(pad[0])
	}
	return growStackFrames(n-1) + int(pad[n%len(pad)])
}

// TestGeneralCallStackMoves: a callback into Go grows the calling
// goroutine's stack during a general call, which moves the call's record
// and the Go variable the result in memory is copied to; the result still
// arrives, where the variable now is.
func TestGeneralCallStackMoves(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	p := load(t, newLoader(t, Options{}), "ffi_call")
	cb, err := pcall.NewCallback("grow", func(a *pcall.Args) pcall.Result {
		return pcall.Result{Int: a.Int[0]*10 + uint64(growStackFrames(200)&0)}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Free()
	var via func(context.Context, goS24, int64, int64, int64, int64, int64, int64, int64, uintptr) (goS24, error)
	err = Bind(fnOf(t, p, "s24_via"), &via)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { // a fresh goroutine: a small stack that the callback must grow
		var marker int
		before := uintptr(unsafe.Pointer(&marker))
		r, err := via(context.Background(), goS24{3, 4, 5}, 1, 2, 3, 4, 5, 600, 7000, cb.Addr())
		if err == nil && r != (goS24{33, 7000 + 4 + 15, 605}) {
			err = fmt.Errorf("s24_via = %+v", r)
		}
		if err == nil && uintptr(unsafe.Pointer(&marker)) == before {
			err = errors.New("the goroutine's stack did not move: the test checks nothing")
		}
		done <- err
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestBindVariadic binds the plugin's snprintf-like function with a typed
// variable part: a float32 there travels as a double, an int8 as an int.
func TestBindVariadic(t *testing.T) {
	testenv.NeedPort(t, pcall.FramesSupported, "general calls (the AAPCS64 frame thunk)")
	p := load(t, newLoader(t, Options{}), "ffi_call")
	var format func(ctx context.Context, buf unsafe.Pointer, n uint64, format string, c int8, f float32, s string, i int64) (int32, error)
	if err := BindVariadic(fnOf(t, p, "fmt_str"), 3, &format); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	var pin runtime.Pinner
	pin.Pin(&buf[0])
	defer pin.Unpin()
	n, err := format(context.Background(), unsafe.Pointer(&buf[0]), 64, "%c|%.3f|%s|%ld", 'q', 0.125, "x y", -1<<40)
	const want = "q|0.125|x y|-1099511627776"
	if got := string(buf[:bytes.IndexByte(buf, 0)]); err != nil || got != want || n != int32(len(want)) {
		t.Errorf("fmt_str = %q, %d, %v; want %q", got, n, err, want)
	}
	var bad func(context.Context, int32) error
	if err := BindVariadic(fnOf(t, p, "fmt_str"), 2, &bad); !errors.Is(err, ErrSignature) {
		t.Errorf("nfixed past the arguments: %v", err)
	}
}

// TestCallFrameSRet drives pcall.CallFrame by hand on a plugin function
// that takes a 24-byte struct (on the stack, or by reference on arm64) and
// returns one in memory (rdi, or x8): the Frame path of the trampoline,
// which the bindings do not use.
func TestCallFrameSRet(t *testing.T) {
	testenv.NeedPort(t, pcall.FramesSupported, "general calls (the AAPCS64 frame thunk)")
	p := load(t, newLoader(t, Options{}), "ffi_call")
	f, err := p.Func("s24_fn")
	if err != nil {
		t.Fatal(err)
	}
	var out goS24
	in := goS24{5, 6, 7}
	fr := pcall.Frame{SRet: unsafe.Pointer(&out), SRetSize: unsafe.Sizeof(out)}
	if callconv.Native == callconv.AAPCS64 {
		// A 24-byte struct goes by reference: the address of a copy, in x0.
		var pin runtime.Pinner
		pin.Pin(&in)
		defer pin.Unpin()
		fr.Int[0] = uint64(uintptr(unsafe.Pointer(&in)))
	} else {
		fr.Stack = (*[3]uint64)(unsafe.Pointer(&in))[:]
	}
	if _, err := pcall.CallFrame(nil, f.Addr(), &fr); err != nil {
		t.Fatal(err)
	}
	if out != (goS24{6, 11, 1}) { // {a+1, b+a, c^b}
		t.Errorf("s24_fn = %+v", out)
	}
}
