package loader

// Variable arguments of a call from C into Go: a va_arg over the registers
// the callback entry saved (all six integer and eight vector argument
// registers: the psABI's register save area) and the caller's stack
// argument area (its overflow area), read as the psABI's va_arg algorithm
// reads them (section 3.5.7): an INTEGER eightbyte from the next integer
// register while one is left, then from the stack; an SSE one likewise
// from the vector registers; a struct wholly from registers when all of
// its eightbytes fit the ones left, else wholly from the stack. Only the
// reading order is the reader's: the classes come from internal/callconv, and
// where the fixed part ends from its plan. On linux/arm64 the variable
// part travels as named arguments do (AAPCS64), and the reader places
// each argument as the planner would (callback_va_aapcs64_unsafe.go).

import (
	"fmt"
	"reflect"
	"runtime/debug"
	"unsafe"

	"github.com/runplug/runplug/internal/callconv"
	"github.com/runplug/runplug/internal/pcall"
)

// VarArgs reads the variable part of a call of a variadic C function type
// that native code made to a Go callback or host function: a Go function
// whose last parameter is a *VarArgs has the C type of its other
// parameters followed by "...". For int printf_like(const char *fmt, ...):
//
//	cb, err := loader.NewCallback(func(format string, va *loader.VarArgs) int32 {
//		n := int32(va.Int64()) // an int (char and short are promoted to it)
//		x := va.Float64() // a double (float is promoted to it)
//		...
//	})
//
// As with C's va_arg, the Go function reads the arguments in order, each
// as the type the caller passed after C's default promotions; nothing
// checks the count or the types (reading past the last argument reads
// whatever lies in the registers or on the caller's stack). A VarArgs is
// valid only during the call it was made for: its methods panic after.
type VarArgs struct {
	a     *pcall.Args   // the saved argument registers; nil once the call returned
	stack uintptr       // the next stack argument (SysV: the psABI's overflow_arg_area)
	gp    uint8         // the next integer argument register (rdi=0 .. r9=5, x0=0 .. x7=7; 6 or 8: none left)
	fp    uint8         // the next vector argument register (xmm0=0 .. xmm7=7, v0 .. v7; 8: none left)
	conv  callconv.Conv // the caller's convention: SysV (the zero value) or AAPCS64
}

// varArgsType is the type of a Go function's last parameter that marks it
// as taking C's variable arguments.
var varArgsType = reflect.TypeFor[*VarArgs]()

// newVarArgs returns the reader of the variable part of a call whose
// fixed part plan planned, with the registers a and the stack arguments at
// stack. It is not inlined so that the reader is always on the heap: the
// register form passes it to the Go function as an integer register,
// unseen by escape analysis, and the function may let it escape.
//
//go:noinline
func newVarArgs(plan *callconv.Plan, a *pcall.Args, stack uintptr) *VarArgs {
	return &VarArgs{a: a, stack: stack + uintptr(plan.StackSize), gp: uint8(plan.IntRegs), fp: uint8(plan.SSERegs), conv: plan.Conv}
}

// live panics when the call v was made for has returned.
func (v *VarArgs) live() {
	if v.a == nil {
		panic("loader: VarArgs used after its call returned")
	}
}

// fromStack copies n bytes of the caller's stack arguments at the next
// stack position into dst and advances past them (rounded up to 8 bytes).
// A read past the caller's stack is a Go panic, not a crash.
func (v *VarArgs) fromStack(dst unsafe.Pointer, n uint64) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	copy(unsafe.Slice((*byte)(dst), n), unsafe.Slice((*byte)(cPointer(uint64(v.stack))), n))
	v.stack += uintptr((n + 7) &^ 7)
}

// word returns the next INTEGER-class eightbyte.
func (v *VarArgs) word() uint64 {
	v.live()
	if v.conv == callconv.AAPCS64 {
		var w uint64
		v.readAAPCS64(unsafe.Pointer(&w), callconv.Uint64) // a scalar always has a place: no error
		return w
	}
	if int(v.gp) < len(v.a.Int) {
		v.gp++
		return v.a.Int[v.gp-1]
	}
	var w uint64
	v.fromStack(unsafe.Pointer(&w), 8)
	return w
}

// Int64 returns the next argument as a C long or long long; for a C int
// (also what a char, short or _Bool argument is promoted to) convert it:
// int32(va.Int64()).
func (v *VarArgs) Int64() int64 { return int64(v.word()) }

// Uint64 returns the next argument as a C unsigned long or unsigned long
// long (or size_t); for a C unsigned int, uint32(va.Uint64()).
func (v *VarArgs) Uint64() uint64 { return v.word() }

// Pointer returns the next argument as a pointer (C memory: the Go
// garbage collector does not manage what it points to).
func (v *VarArgs) Pointer() unsafe.Pointer { return cPointer(v.word()) }

// CString returns a copy of the NUL-terminated string the next argument
// (a const char *) points to; "" for NULL. A bad pointer is a Go panic.
func (v *VarArgs) CString() string { return goString(v.word()) }

// Float64 returns the next argument as a C double (also what a float
// argument is promoted to).
func (v *VarArgs) Float64() float64 {
	v.live()
	if v.conv == callconv.AAPCS64 {
		var x float64
		v.readAAPCS64(unsafe.Pointer(&x), callconv.Float64) // likewise
		return x
	}
	if int(v.fp) < len(v.a.Float) {
		v.fp++
		return v.a.Float[v.fp-1]
	}
	var x float64
	v.fromStack(unsafe.Pointer(&x), 8)
	return x
}

// Struct reads the next argument, a struct or union passed by value, into
// *p: p is a non-nil pointer to a Go type of the C type's layout (as a
// callback's struct parameters are, package abi checks it). A long
// double argument is read the same way, into an abi.LongDoubleValue.
func (v *VarArgs) Struct(p any) error {
	v.live()
	rv := reflect.ValueOf(p)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("loader: VarArgs.Struct: want a non-nil pointer, got %T", p)
	}
	t, err := callconv.TypeOf(rv.Type().Elem())
	if err != nil {
		return fmt.Errorf("loader: VarArgs.Struct: %w", err)
	}
	dst, size := rv.UnsafePointer(), t.Size()
	if v.conv == callconv.AAPCS64 {
		if err := v.readAAPCS64(dst, t); err != nil {
			return fmt.Errorf("loader: VarArgs.Struct: %w", err)
		}
		return nil
	}
	cls := callconv.Classify(t)
	nInt, nSSE, inMem := 0, 0, cls.InMemory
	for _, c := range cls.Classes {
		switch c {
		case callconv.Integer:
			nInt++
		case callconv.SSE:
			nSSE++
		case callconv.NoClass:
		default: // X87, X87UP, COMPLEX_X87 (long double): in memory (psABI 3.2.3)
			inMem = true
		}
	}
	if !inMem && int(v.gp)+nInt <= len(v.a.Int) && int(v.fp)+nSSE <= len(v.a.Float) {
		for i, c := range cls.Classes {
			var reg unsafe.Pointer
			switch c {
			case callconv.Integer:
				reg = unsafe.Pointer(&v.a.Int[v.gp])
				v.gp++
			case callconv.SSE:
				reg = unsafe.Pointer(&v.a.Float[v.fp])
				v.fp++
			default:
				continue // all padding: no register
			}
			off := uint64(i) * 8
			copy(unsafe.Slice((*byte)(unsafe.Add(dst, off)), min(8, size-off)), unsafe.Slice((*byte)(reg), 8))
		}
		return nil
	}
	if t.Align() > 8 {
		v.stack = (v.stack + 15) &^ 15
	}
	v.fromStack(dst, size)
	return nil
}
