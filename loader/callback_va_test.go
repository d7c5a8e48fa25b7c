package loader

import (
	"context"
	"errors"
	"fmt"
	"github.com/runplug/runplug/internal/callconv"
	"math"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/runplug/runplug/abi"
	"github.com/runplug/runplug/internal/pcall"
)

// The structs of plugins/cb_va.c.
type (
	vaSmall struct{ A, B uint8 }
	vaLarge struct{ A, B, C, D, E uint32 }
)

// TestCallbackVariadic: Go callbacks of variadic C function types, their
// variable part read through a *VarArgs, each called by C code the way it
// calls the C callee of the same signature (which reads it with va_arg):
// both must give the same result, which weighs every argument
// differently. Cases after libffi's closure tests (cls_double_va,
// cls_uint_va, cls_ulong_va, cls_struct_va1), plus integers and doubles
// past the registers (from the stack, in order) and a fixed part that
// takes registers and a hidden result pointer.
func TestCallbackVariadic(t *testing.T) {
	l := newLoader(t, Options{})
	p := load(t, l, "cb_va")
	for _, seed := range []int64{1, 7, -12345} {
		t.Run("double", func(t *testing.T) {
			c, g := callStruct[int32](t, p, "call_dbl_va", "dbl_va", func(tag string, va *VarArgs) int32 {
				return int32(va.Float64()*100) + int32(len(tag))
			}, seed)
			if c != g || c == 0 {
				t.Errorf("seed %d: C callee %d, Go callback %d", seed, c, g)
			}
		})
		t.Run("uint", func(t *testing.T) {
			c, g := callStruct[uint32](t, p, "call_uint_va", "uint_va", func(a uint32, va *VarArgs) uint32 {
				return a*3 + uint32(va.Uint64())
			}, seed)
			if c != g || c == 0 {
				t.Errorf("seed %d: C callee %d, Go callback %d", seed, c, g)
			}
		})
		t.Run("ulong", func(t *testing.T) {
			c, g := callStruct[uint64](t, p, "call_ulong_va", "ulong_va", func(a uint64, va *VarArgs) uint64 {
				return a ^ va.Uint64()<<1
			}, seed)
			if c != g || c == 0 {
				t.Errorf("seed %d: C callee %d, Go callback %d", seed, c, g)
			}
		})
		t.Run("struct", func(t *testing.T) {
			c, g := callStruct[int64](t, p, "call_struct_va", "struct_va", func(n int32, va *VarArgs) int64 {
				var s1, s2 vaSmall
				var lg vaLarge
				var q cbDD
				must(t, va.Struct(&s1))
				must(t, va.Struct(&lg))
				must(t, va.Struct(&s2))
				ch, sh, f, str := int32(va.Int64()), int32(va.Int64()), va.Float64(), va.CString()
				must(t, va.Struct(&q))
				return int64(n) + int64(s1.A)*3 + int64(s1.B)*5 + int64(lg.A)*7 + int64(lg.B)*11 + int64(lg.C)*13 +
					int64(lg.D)*17 + int64(lg.E)*19 + int64(s2.A)*23 + int64(s2.B)*29 + int64(ch)*31 + int64(sh)*37 +
					int64(f*41) + int64(len(str))*43 + int64(q.X*47) + int64(q.Y*53)
			}, seed)
			if c != g || c == 0 {
				t.Errorf("seed %d: C callee %d, Go callback %d", seed, c, g)
			}
		})
		t.Run("past-the-registers", func(t *testing.T) {
			c, g := callStruct[float64](t, p, "call_mix_va", "mix_va", func(n int32, va *VarArgs) float64 {
				s := 0.0
				for i := 0; i < int(n); i++ {
					k, x := int32(va.Int64()), va.Float64()
					s += float64(int(k)*(i+1)) + x*float64(i+2)
				}
				return s
			}, seed)
			if c != g || c == 0 {
				t.Errorf("seed %d: C callee %v, Go callback %v", seed, c, g)
			}
		})
		t.Run("fixed-part", func(t *testing.T) {
			c, g := callStruct[int64](t, p, "call_fixed_va", "fixed_va", func(p cbDD, x float64, va *VarArgs) vaLarge {
				y, a, z, b := va.Float64(), va.Int64(), va.Float64(), va.Int64()
				return vaLarge{uint32(int64(p.X * 2)), uint32(p.Y * 3), uint32(x + y), uint32(a*5 + b), uint32(z * 7)}
			}, seed)
			if c != g || c == 0 {
				t.Errorf("seed %d: C callee %d, Go callback %d", seed, c, g)
			}
		})
	}
}

// TestCallbackVariadicPanic: a panic in a variadic callback (here: a
// VarArgs kept and used after its call) ends the plugin call with a
// HostPanicError, as for any callback.
func TestCallbackVariadicPanic(t *testing.T) {
	l := newLoader(t, Options{KeepAfterFault: true})
	p := load(t, l, "cb_va")
	call, err := Bind2[uintptr, int64, int64](fnOf(t, p, "call_struct_va"))
	if err != nil {
		t.Fatal(err)
	}
	var kept *VarArgs
	cb, err := NewCallback(func(n int32, va *VarArgs) int64 {
		if kept != nil {
			return kept.Int64() // the previous call's reader: panics
		}
		kept = va
		return int64(n)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Release()
	if r, err := call(context.Background(), cb.Ptr(), 5); err != nil || r != 5 {
		t.Fatalf("first call: %d, %v", r, err)
	}
	_, err = call(context.Background(), cb.Ptr(), 6)
	var hp *pcall.HostPanicError
	if !errors.As(err, &hp) || !strings.Contains(fmt.Sprint(hp.Value), "after its call returned") {
		t.Fatalf("a kept VarArgs used later: %v, want a HostPanicError", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestVarArgsReader: the reader alone, over registers and a stack area
// made up here: integers from the integer registers the fixed part left,
// then the stack; doubles likewise; a struct that no longer fits the
// registers left wholly from the stack while the next scalar still takes
// a register; a 16-byte-aligned struct aligned on the stack; no use after
// the call. The reader is pure Go over memory: it runs on every
// architecture.
func TestVarArgsReader(t *testing.T) {
	a, stack := madeUpArgs(16)
	base := uintptr(unsafe.Pointer(&stack[0]))
	// A fixed part that took rdi..rcx, xmm0..xmm6 and one stack word.
	va := &VarArgs{a: a, stack: base + 8, gp: 4, fp: 7}
	if got := va.Int64(); got != 104 {
		t.Errorf("first integer %d, want r8 (104)", got)
	}
	// cbII needs two integer registers, one is left: from the stack,
	// and r9 stays for the next integer.
	var s cbII
	must(t, va.Struct(&s))
	if s != (cbII{1001, 1002}) {
		t.Errorf("struct %+v, want stack words 1001, 1002", s)
	}
	if got := va.Int64(); got != 105 {
		t.Errorf("integer after the struct %d, want r9 (105)", got)
	}
	if got := va.Float64(); got != 7.5 {
		t.Errorf("double %v, want xmm7", got)
	}
	if got := va.Float64(); math.Float64bits(got) != 1003 {
		t.Errorf("double past the registers: bits %d, want stack word 1003", math.Float64bits(got))
	}
	if got := va.Int64(); got != 1004 {
		t.Errorf("integer past the registers %d, want 1004", got)
	}
	// A struct aligned to 16 (an __int128 member) starts at a 16-byte
	// boundary of the stack area.
	var x struct{ V abi.Int128Value }
	at := (va.stack + 15) &^ 15
	must(t, va.Struct(&x))
	if k := (at - base) / 8; x.V.Lo != stack[k] || uint64(x.V.Hi) != stack[k+1] {
		t.Errorf("aligned struct %+v, want stack words %d, %d", x, stack[k], stack[k+1])
	}
	checkReaderEnd(t, va, func() { va.Int64() })
}

// TestVarArgsReaderAAPCS64: the reader of a call from AArch64 code, whose
// variable part travels as named arguments do, over registers and a
// stack area made up here (pure Go: it runs on every architecture): a
// 16-byte-aligned struct starts at an even x register (C.8); doubles and
// an HFA take v registers one member each; once an HFA no longer fits the
// v registers left, it and every later double come from 8-byte stack
// slots (C.3). x6 and x7, which only the entry's frame holds, are read in
// TestCallbackVariadic.
func TestVarArgsReaderAAPCS64(t *testing.T) {
	a, stack := madeUpArgs(9)
	// A fixed part that took x0, x1, v0-v4 and one stack slot (the
	// caller's sp, where its stack arguments begin, is 16-byte aligned).
	for uintptr(unsafe.Pointer(&stack[0]))%16 != 0 {
		stack = stack[1:]
	}
	va := &VarArgs{a: a, stack: uintptr(unsafe.Pointer(&stack[1])), gp: 2, fp: 5, conv: callconv.AAPCS64}
	if got := va.Int64(); got != 102 {
		t.Errorf("first integer %d, want x2 (102)", got)
	}
	var x struct{ V abi.Int128Value }
	must(t, va.Struct(&x))
	if x.V.Lo != 104 || x.V.Hi != 105 {
		t.Errorf("16-byte-aligned struct %+v, want x4, x5 (x3 skipped)", x)
	}
	if got := va.Float64(); got != 5.5 {
		t.Errorf("double %v, want d5", got)
	}
	var q cbDD
	must(t, va.Struct(&q))
	if q != (cbDD{6.5, 7.5}) {
		t.Errorf("HFA %+v, want d6, d7", q)
	}
	if got := va.Float64(); math.Float64bits(got) != stack[1] {
		t.Errorf("double past the registers: bits %d, want stack slot 1 (%d)", math.Float64bits(got), stack[1])
	}
	must(t, va.Struct(&q))
	if math.Float64bits(q.X) != stack[2] || math.Float64bits(q.Y) != stack[3] {
		t.Errorf("HFA past the registers %+v, want stack slots 2, 3 (%d, %d)", q, stack[2], stack[3])
	}
	checkReaderEnd(t, va, func() { va.Float64() })
}

// checkReaderEnd checks that va refuses a nil struct pointer and, once
// its call returned, that read panics.
func checkReaderEnd(t *testing.T, va *VarArgs, read func()) {
	t.Helper()
	if err := va.Struct(nil); err == nil {
		t.Error("Struct(nil) did not fail")
	}
	va.a = nil
	defer func() {
		if recover() == nil {
			t.Error("a VarArgs used after its call did not panic")
		}
	}()
	read()
}

// madeUpArgs returns saved argument registers and a stack area of n
// words for the reader tests: integer register i holds 100+i, vector
// register i holds i+0.5, stack word i holds 1000+i.
func madeUpArgs(n int) (*pcall.Args, []uint64) {
	var a pcall.Args
	for i := range a.Int {
		a.Int[i] = uint64(100 + i)
	}
	for i := range a.Float {
		a.Float[i] = float64(i) + 0.5
	}
	stack := make([]uint64, n)
	for i := range stack {
		stack[i] = uint64(1000 + i)
	}
	return &a, stack
}

// TestVarArgsSignatures: *VarArgs is accepted last only; a Go variadic
// func is refused with a pointer to it; host functions take it too.
func TestVarArgsSignatures(t *testing.T) {
	for _, c := range []struct {
		fn any
		ok bool
	}{
		{func(va *VarArgs) int32 { return 0 }, true},
		{func(fmt string, n int64, va *VarArgs) {}, true},
		{func(p cbII, va *VarArgs) cbBig { return cbBig{} }, true},
		{func(va *VarArgs, n int32) int32 { return 0 }, false},
		{func(fmt string, args ...any) int32 { return 0 }, false},
	} {
		cb, err := NewCallback(c.fn)
		if (err == nil) != c.ok {
			t.Errorf("%T: %v, want ok %v", c.fn, err, c.ok)
		}
		var se *SignatureError
		if err != nil && !errors.As(err, &se) {
			t.Errorf("%T: %v is not a *SignatureError", c.fn, err)
		}
		if cb != nil {
			cb.Release()
		}
	}
	l := newLoader(t, Options{})
	release, err := l.RegisterHostFunc("host_va", func(fmt string, va *VarArgs) int32 { return 0 })
	if err != nil {
		t.Fatal(err)
	}
	release()
}

// BenchmarkCallbackVariadic: a plugin function calls unsigned f(unsigned,
// ...) with one variable argument, f being the C callee or a Go callback
// reading it through VarArgs (reflect). Per op: the plugin call and the
// call of f.
//
//	go test -run '^$' -bench 'CallbackVariadic$' -count 3 ./loader
func BenchmarkCallbackVariadic(b *testing.B) {
	l := newLoader(b, Options{})
	p := load(b, l, "cb_va")
	call, err := Bind2[uintptr, int64, uint32](fnOf(b, p, "call_uint_va"))
	if err != nil {
		b.Fatal(err)
	}
	cf, err := p.Func("uint_va")
	if err != nil {
		b.Fatal(err)
	}
	cb, err := NewCallback(func(a uint32, va *VarArgs) uint32 { return a*3 + uint32(va.Uint64()) })
	if err != nil {
		b.Fatal(err)
	}
	defer cb.Release()
	for _, form := range []struct {
		name string
		fn   uintptr
	}{{"c", cf.Addr()}, {"typed", cb.Ptr()}} {
		b.Run("form="+form.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := call(context.Background(), form.fn, int64(i)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestVarArgsForms: the register form and the reflect form of variadic
// callbacks read the same variable part from the same registers and stack
// (the reflect form is the one for fixed parts past Go's registers).
func TestVarArgsForms(t *testing.T) {
	var seen string
	fns := []any{
		func(tag string, va *VarArgs) int32 {
			a, x, b := int32(va.Int64()), va.Float64(), va.Int64()
			seen = fmt.Sprint(tag, a, x, b)
			return a + int32(b)
		},
		func(p cbDD, x float64, va *VarArgs) vaLarge {
			var s vaSmall
			must(t, va.Struct(&s))
			y, n := va.Float64(), va.Uint64()
			seen = fmt.Sprint(p, x, s, y, n)
			return vaLarge{uint32(p.X), uint32(y), uint32(n), uint32(s.A), uint32(s.B)}
		},
	}
	cstr := []byte("tag\x00")
	for _, fn := range fns {
		fv := reflect.ValueOf(fn)
		ft := fv.Type()
		args := make([]reflect.Type, ft.NumIn())
		for j := range args {
			args[j] = ft.In(j)
		}
		res := ft.Out(0)
		plan, cres, resKind, err := framePlan("f", ft, args[:len(args)-1], res)
		if err != nil {
			t.Fatal(err)
		}
		rc := newRegFrameCall(fv, args, res, resKind, plan)
		if rc == nil && regFormServes(plan) {
			t.Fatalf("%T: no register form", fn)
		}
		if rc == nil {
			continue // arm64: a result in memory (x8) has the reflect form alone
		}
		slow := reflectFrameFunc(fv, args, res, resKind, cres, plan)
		var a pcall.Args
		for j := range a.Int {
			a.Int[j] = uint64(j*7 + 1)
		}
		for j := range a.Float {
			a.Float[j] = float64(j) + 0.25
		}
		stack := []uint64{11, 12, 13, 14, 15, 16}
		var bufA, bufB [32]byte
		b := a
		if plan.Result.InMemory {
			a.Int[0], b.Int[0] = uint64(addrOf(bufA[:])), uint64(addrOf(bufB[:]))
		} else {
			a.Int[0], b.Int[0] = uint64(addrOf(cstr)), uint64(addrOf(cstr))
		}
		seen = ""
		got := rc.callVariadic(&a, uint64Addr(stack))
		gotSeen := seen
		seen = ""
		want := slow(&b, uint64Addr(stack))
		keep(cstr)
		if gotSeen != seen || gotSeen == "" {
			t.Errorf("%T: register form saw %q, reflect form %q", fn, gotSeen, seen)
		}
		if plan.Result.InMemory {
			if bufA != bufB {
				t.Errorf("%T: result %x, reflect form %x", fn, bufA, bufB)
			}
		} else if uint32(got.Int) != uint32(want.Int) {
			t.Errorf("%T: result %v, reflect form %v", fn, got, want)
		}
	}
}
