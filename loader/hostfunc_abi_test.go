package loader

import (
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"testing"
	"unsafe"

	"github.com/runplug/runplug/internal/pcall"
)

// TestHostFuncRegisterABI checks the fast form of typed host functions
// (regPlan, which calls a func through Go's internal register ABI, see
// docs/ASSUMPTIONS.md) against the reflect form: each kind at each
// position, strings taking two registers, floats mixed in, every result
// kind, with garbage in the upper bits of narrow arguments.
func TestHostFuncRegisterABI(t *testing.T) {
	var seen string
	see := func(v ...any) { seen = fmt.Sprint(v...) }
	type myInt int16
	fns := []any{
		func() {},
		func(a bool) bool { see(a); return !a },
		func(a int8, b int16, c int32, d int64, e int, f myInt) int8 { see(a, b, c, d, e, f); return a - 1 },
		func(a uint8, b uint16, c uint32, d uint64, e uint, f uintptr) uint16 {
			see(a, b, c, d, e, f)
			return b + 1
		},
		func(a unsafe.Pointer, x float32, b int32, y float64) float32 { see(uintptr(a), x, b, y); return x * 2 },
		func(s string, a int32, t string, b uint8) int32 { see(s, a, t, b); return a + int32(len(s)) },
		func(x0, x1, x2, x3, x4, x5, x6, x7 float64) float64 { see(x0, x1, x2, x3, x4, x5, x6, x7); return x7 },
		func(a, b, c string, d int64) int64 { see(a, b, c, d); return d },       // 7 of the 9 registers
		func(a, b, c, d string, e bool) uint32 { see(a, b, c, d, e); return 7 }, // all 9
		func(x float32, a int8, y float32, b bool, z float64) float64 { see(x, a, y, b, z); return z },
		func(a int64, b int64, c int64, d int64, e int64, f int64, x float32) uint64 {
			see(a, b, c, d, e, f, x)
			return uint64(a + f)
		},
		func(a uint32) bool { see(a); return a > 5 },
		func(a int16) int16 { see(a); return -a },
		func(a int32) uint8 { see(a); return uint8(a) },
		func(a int64) uintptr { see(a); return uintptr(a) },
		// The integer form (sandbox.IntFunc): 64-bit integer and pointer
		// arguments only, no float result.
		func(a, b int64) int64 { see(a, b); return a + b },
		func(a, b, c, d, e, f uint64) uint64 { see(a, b, c, d, e, f); return a ^ f },
		func(p unsafe.Pointer, n uint64) { see(uintptr(p), n) },
		func(a uint64, p unsafe.Pointer) uint32 { see(a, uintptr(p)); return uint32(a) },
	}
	strs := [][]byte{[]byte("hello\x00"), []byte("\x00"), []byte("runplug callbacks\x00")}
	rng := rand.New(rand.NewSource(1))
	for i, fn := range fns {
		fv := reflect.ValueOf(fn)
		hf, err := hostCallback(fmt.Sprint("f", i), fn)
		if err != nil {
			t.Fatalf("%T: %v", fn, err)
		}
		raw := hf.raw
		if hf.ints != nil { // as the sandbox's dispatcher calls it
			raw = func(a *pcall.Args) pcall.Result {
				i := &a.Int
				return pcall.Result{Int: hf.ints(i[0], i[1], i[2], i[3], i[4], i[5])}
			}
		}
		if hf.regs != nil { // as the sandbox's dispatcher calls it
			raw = func(a *pcall.Args) pcall.Result {
				i, f := &a.Int, &a.Float
				ri, rf := hf.regs(i[0], i[1], i[2], i[3], i[4], i[5], 0, 0, 0, f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7])
				return pcall.Result{Int: ri, Float: rf}
			}
		}
		ft := fv.Type()
		args := make([]reflect.Type, ft.NumIn())
		for j := range args {
			args[j] = ft.In(j)
		}
		var res reflect.Type
		if ft.NumOut() == 1 {
			res = ft.Out(0)
		}
		s, err := newSig("f", ft, args, res)
		if err != nil {
			t.Fatal(err)
		}
		if newRegPlan(s, fv) == nil {
			t.Fatalf("%T: no register plan", fn)
		}
		slow := reflectHostFunc(s, fv, args)
		for round := 0; round < 20; round++ {
			var a pcall.Args
			for j := range a.Int {
				a.Int[j] = rng.Uint64() // garbage above narrow values
			}
			for j := range a.Float {
				a.Float[j] = math.Float64frombits(uint64(rng.Uint32())<<32 | uint64(math.Float32bits(rng.Float32()*100)))
				if rng.Intn(2) == 0 {
					a.Float[j] = rng.NormFloat64()
				}
			}
			for j := 0; j < s.n; j++ {
				if s.kinds[j] == kString {
					a.Int[s.slots[j]] = uint64(addrOf(strs[rng.Intn(len(strs))]))
				}
			}
			b := a
			seen = ""
			got := raw(&a)
			gotSeen := seen
			seen = ""
			want := slow(&b)
			keep(strs)
			if gotSeen != seen {
				t.Errorf("%T: fast form saw %q, reflect form %q", fn, gotSeen, seen)
			}
			// Compare the bits the C caller reads: the low 32 of an int
			// (the psABI leaves the rest undefined) or a float, all 64
			// of a 64-bit integer or a double, and 8- and 16-bit results
			// extended to 64.
			var same bool
			switch s.res {
			case kVoid:
				same = true
			case kF32:
				same = uint32(math.Float64bits(got.Float)) == uint32(math.Float64bits(want.Float))
			case kF64:
				same = math.Float64bits(got.Float) == math.Float64bits(want.Float)
			case kI32, kU32:
				same = uint32(got.Int) == uint32(want.Int)
			default:
				same = got.Int == want.Int
			}
			if !same {
				t.Errorf("%T: fast form returned %+v, reflect form %+v", fn, got, want)
			}
		}
	}
	// Integer-only signatures take the integer form (so the cases above
	// test it); a float argument or result, or a narrow integer, does not.
	for _, c := range []struct {
		fn   any
		ints bool
	}{
		{func(a, b int64) int64 { return a + b }, true},
		{func(p unsafe.Pointer, n uint64) {}, true},
		{func() {}, true},
		{func(a int64, x float64) int64 { return a }, false},
		{func(a int64) float64 { return 0 }, false},
		{func(a int32) int64 { return 0 }, false},
	} {
		hf, err := hostCallback("f", c.fn)
		if err != nil || (hf.ints != nil) != c.ints {
			t.Errorf("%T: integer form %v (%v), want %v", c.fn, hf.ints != nil, err, c.ints)
		}
	}
	// Signatures past the registers take the reflect form.
	s, err := newSig("f", nil, []reflect.Type{reflect.TypeFor[string](), reflect.TypeFor[string](), reflect.TypeFor[string](), reflect.TypeFor[string](), reflect.TypeFor[string]()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if newRegPlan(s, reflect.ValueOf(func(a, b, c, d, e string) {})) != nil {
		t.Error("five strings (10 registers) got a register plan")
	}
}
