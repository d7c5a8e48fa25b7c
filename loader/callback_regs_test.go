package loader

import (
	"bytes"
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"testing"
	"unsafe"

	"github.com/runplug/runplug/abi"
	"github.com/runplug/runplug/internal/callconv"
	"github.com/runplug/runplug/internal/pcall"
)

// Struct shapes for TestCallbackRegisterABI: narrow integers with padding,
// float pairs, bools, nesting, one-element arrays, MEMORY-class structs.
type (
	rgNarrow struct {
		A int8
		B int16
		C int32
		D int64
	}
	rgFF  struct{ X, Y float32 }
	rgMix struct {
		B bool
		F float64
		U uint16
	}
	rgNest struct {
		In struct {
			P unsafe.Pointer
			N uint32
		}
		Arr [1]float32
	}
	rgIII  struct{ A, B, C int64 }
	rgDDDD struct{ X, Y, Z, W float64 }
	rgArr2 struct{ A [2]int64 }
)

// TestCallbackRegisterABI checks the register form of general callbacks
// (regFrameCall, which calls a func through Go's internal register ABI
// with structs passed field by field, see docs/ASSUMPTIONS.md) against
// the reflect form: the same registers and stack arguments in, the same
// values seen by the Go function and the same result registers or
// result buffer out, for structs of every class, strings, arguments on
// the C stack, and the register limits exactly reached.
func TestCallbackRegisterABI(t *testing.T) {
	var seen string
	see := func(v ...any) { seen = fmt.Sprint(v...) }
	fns := []any{
		func(a rgNarrow, b rgFF, s string, c rgMix) rgMix {
			see(a, b, s, c)
			return rgMix{!c.B, c.F + float64(b.X), uint16(a.A) + c.U}
		},
		func(d rgNest, e rgIII, x float32, y int8) rgFF {
			see(d.In.N, uintptr(d.In.P), d.Arr, e, x, y)
			return rgFF{x * 2, d.Arr[0] + float32(y)}
		},
		func(f rgDDDD, e rgIII, i abi.Int128Value) rgIII {
			see(f, e, i)
			return rgIII{e.C + i.Hi, int64(f.W), int64(i.Lo)}
		},
		func(a, b, c, d, e, f, g int64, x rgFF) int32 { // g and x's bits: past the C registers? x is SSE: xmm0
			see(a, b, c, d, e, f, g, x)
			return int32(a - g)
		},
		func(x0, x1, x2, x3, x4, x5, x6, x7, x8 float64, s string) float32 { // x8 on the C stack
			see(x0, x1, x2, x3, x4, x5, x6, x7, x8, s)
			return float32(x8 - x0)
		},
		func(a rgNarrow, b rgNarrow, c int8) rgNarrow { // 9 integer registers
			see(a, b, c)
			return rgNarrow{a.A + c, b.B, a.C ^ b.C, a.D - b.D}
		},
		func(f, g, h rgDDDD, x, y, z float64) rgDDDD { // 15 float registers; 12 of the 15 on the C stack
			see(f, g, h, x, y, z)
			return rgDDDD{f.X + x, g.Y + y, h.Z + z, f.W * g.W}
		},
		func(s1, s2, s3, s4 string, b bool) uint8 { // 9 integer registers with strings
			see(s1, s2, s3, s4, b)
			return uint8(len(s1) + len(s4))
		},
		func(p rgMix, q rgIII) { see(p, q) },
		func(m rgMix) int16 { see(m); return int16(m.U) - 7 },
		func(i abi.Int128Value, x float64) abi.Int128Value {
			see(i, x)
			return abi.Int128Value{Lo: i.Lo + 1, Hi: i.Hi - int64(x)}
		},
	}
	strs := [][]byte{[]byte("hello\x00"), []byte("\x00"), []byte("runplug callbacks\x00")}
	rng := rand.New(rand.NewSource(1))
	for fi, fn := range fns {
		fv := reflect.ValueOf(fn)
		ft := fv.Type()
		args := make([]reflect.Type, ft.NumIn())
		for j := range args {
			args[j] = ft.In(j)
		}
		var res reflect.Type
		if ft.NumOut() == 1 {
			res = ft.Out(0)
		}
		plan, cres, resKind, err := framePlan("f", ft, args, res)
		if err != nil {
			t.Fatalf("%T: %v", fn, err)
		}
		rc := newRegFrameCall(fv, args, res, resKind, plan)
		if rc == nil && !regFormServes(plan) {
			continue // arm64: a value the register form does not reach (x6, x7, x8, d2, d3, by reference)
		}
		if rc == nil {
			t.Fatalf("%T: no register form", fn)
		}
		slow := reflectFrameFunc(fv, args, res, resKind, cres, plan)
		for round := 0; round < 20; round++ {
			var a pcall.Args
			for j := range a.Int {
				a.Int[j] = rng.Uint64()
			}
			for j := range a.Float {
				a.Float[j] = math.Float64frombits(uint64(rng.Uint32())<<32 | uint64(math.Float32bits(rng.Float32()*100)))
				if rng.Intn(2) == 0 {
					a.Float[j] = rng.NormFloat64()
				}
			}
			stack := make([]uint64, 64)
			for j := range stack {
				stack[j] = rng.Uint64()
			}
			// Each struct's bool: C passes 0 or 1; each string: a C string.
			for j, loc := range plan.Args {
				word := func(off uint64) *uint64 {
					if loc.OnStack {
						return &stack[(loc.Offset+off)/8]
					}
					for _, part := range loc.Parts {
						if uint64(part.Offset) == off&^7 && part.Class == callconv.Integer {
							return &a.Int[part.Reg]
						}
					}
					return nil
				}
				switch args[j] {
				case reflect.TypeFor[string]():
					*word(0) = uint64(addrOf(strs[rng.Intn(len(strs))]))
				case reflect.TypeFor[rgMix]():
					*word(0) = uint64(rng.Intn(2)) // B, alone in its eightbyte's first byte... and U at 16
				}
			}
			b := a
			var bufA, bufB [64]byte
			if plan.Result.InMemory {
				a.Int[0] = uint64(addrOf(bufA[:]))
				b.Int[0] = uint64(addrOf(bufB[:]))
			}
			stackB := append([]uint64(nil), stack...)
			seen = ""
			got := rc.call(&a, uint64Addr(stack))
			gotSeen := seen
			seen = ""
			want := slow(&b, uint64Addr(stackB))
			keep(strs)
			if gotSeen != seen {
				t.Errorf("%d %T: register form saw %q, reflect form %q", fi, fn, gotSeen, seen)
			}
			switch {
			case plan.Result.InMemory:
				if got.Int != a.Int[0] || want.Int != b.Int[0] || !bytes.Equal(bufA[:cres.Size()], bufB[:cres.Size()]) {
					t.Errorf("%d %T: result in memory %x (rax %#x), reflect form %x", fi, fn, bufA[:cres.Size()], got.Int, bufB[:cres.Size()])
				}
			case resKind == kF32:
				if uint32(math.Float64bits(got.Float)) != uint32(math.Float64bits(want.Float)) {
					t.Errorf("%d %T: result %v, reflect form %v", fi, fn, got, want)
				}
			case resKind == kI32 || resKind == kU32:
				if uint32(got.Int) != uint32(want.Int) {
					t.Errorf("%d %T: result %v, reflect form %v", fi, fn, got, want)
				}
			case resKind != kVoid:
				if got != want {
					t.Errorf("%d %T: result %v, reflect form %v", fi, fn, got, want)
				}
			case res != nil: // a struct in registers: every part the plan fills
				for _, part := range plan.Result.Parts {
					var g, w uint64
					switch {
					case part.Class == callconv.Integer && part.Reg == 0:
						g, w = got.Int, want.Int
					case part.Class == callconv.Integer:
						g, w = a.Int[1], b.Int[1]
					case part.Reg == 0:
						g, w = math.Float64bits(got.Float), math.Float64bits(want.Float)
					default:
						g, w = math.Float64bits(a.Float[1]), math.Float64bits(b.Float[1])
					}
					if g != w {
						t.Errorf("%d %T: result part %+v %#x, reflect form %#x", fi, fn, part, g, w)
					}
				}
			}
		}
	}
	// What ABIInternal does not pass in registers takes the reflect form.
	for _, fn := range []any{
		func(a rgArr2) {},                                        // an array of two
		func(a, b rgNarrow, c, d int8) {},                        // 10 integer registers
		func(f, g, h, i rgDDDD) {},                               // 16 float registers
		func(a rgIII) rgArr2 { return rgArr2{} },                 // a result with an array
		func(s1, s2, s3, s4, s5 string) {},                       // 10 integer registers
		func(a rgNarrow, b rgNarrow, s string) int8 { return 0 }, // 10 with the string
	} {
		fv := reflect.ValueOf(fn)
		ft := fv.Type()
		args := make([]reflect.Type, ft.NumIn())
		for j := range args {
			args[j] = ft.In(j)
		}
		var res reflect.Type
		if ft.NumOut() == 1 {
			res = ft.Out(0)
		}
		plan, _, resKind, err := framePlan("f", ft, args, res)
		if err != nil {
			t.Fatalf("%T: %v", fn, err)
		}
		if newRegFrameCall(fv, args, res, resKind, plan) != nil {
			t.Errorf("%T: got a register form", fn)
		}
	}
}

// uint64Addr returns the address of the first word of s.
func uint64Addr(s []uint64) uintptr { return uintptr(unsafe.Pointer(&s[0])) }
