package callconv

import "reflect"

// Go's internal register ABI (ABIInternal) on amd64, as the Go
// specification of it (src/cmd/compile/abi-internal.md) gives it: the
// arguments of a func, in order, and then separately its results, are
// assigned to the integer registers RAX, RBX, RCX, RDI, RSI, R8, R9, R10,
// R11 and the float registers X0-X14. A value is split into scalars (a
// struct field by field, recursively; an array of one element as its
// element; a string as its data pointer and length; a slice as pointer,
// length and capacity; an interface as its two words; a complex number as
// its two floats), each taking the next register of its class. A value
// with a part that is not register-assignable (an array of more than one
// element) goes to memory, as does one that does not fit in the registers
// left.
//
// The loader calls Go functions through this assignment without
// reflect.Call (host functions and callbacks: one func type that sets
// every argument register and reads every result register); the
// assignment here is its one model of it, and the loader's
// TestHostFuncRegisterABI and TestCallbackRegisterABI check it against
// the reflect form (docs/ASSUMPTIONS.md).

// The register counts of ABIInternal on amd64.
const (
	GoIntRegs   = 9  // RAX, RBX, RCX, RDI, RSI, R8, R9, R10, R11
	GoFloatRegs = 15 // X0-X14
)

// GoIntRegNames and GoFloatRegNames name ABIInternal's registers in
// assignment order.
var (
	GoIntRegNames   = [GoIntRegs]string{"rax", "rbx", "rcx", "rdi", "rsi", "r8", "r9", "r10", "r11"}
	GoFloatRegNames = [GoFloatRegs]string{"x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14"}
)

// GoScalar is one scalar of a Go value and the register ABIInternal
// passes it in.
type GoScalar struct {
	Off    uintptr // the scalar's byte offset in the value
	Size   uintptr // its size: 1, 2, 4 or 8
	Float  bool    // in a float register (Reg indexes X0-X14), else an integer one
	Signed bool    // a signed integer, which a register holds sign-extended
	Reg    int     // the register's index in its class, in assignment order
}

// GoRegs is the register assignment of a list of Go values: a func's
// arguments, or its results.
type GoRegs struct {
	Values [][]GoScalar // per value, its scalars in order (none for a zero-size value)
	Ints   int          // integer registers used
	Floats int          // float registers used
}

// AssignGoRegs assigns ABIInternal's registers to values of the types ts,
// in order. It reports false when some value would go to memory: it has
// a part that is not register-assignable, or the values do not all fit
// in the registers. (ABIInternal would then pass that value in memory
// and go on assigning registers to the next; a caller that calls through
// registers alone takes another path instead.)
func AssignGoRegs(ts []reflect.Type) (GoRegs, bool) {
	r := GoRegs{Values: make([][]GoScalar, len(ts))}
	for i, t := range ts {
		sc, ok := goScalars(t, 0, nil)
		if !ok {
			return GoRegs{}, false
		}
		for j := range sc {
			n := &r.Ints
			if sc[j].Float {
				n = &r.Floats
			}
			sc[j].Reg = *n
			*n++
		}
		if r.Ints > GoIntRegs || r.Floats > GoFloatRegs {
			return GoRegs{}, false
		}
		r.Values[i] = sc
	}
	return r, true
}

// goScalars appends the scalars of t (at offset base) in ABIInternal's
// order, or reports false for a type with a part ABIInternal does not
// assign to registers.
func goScalars(t reflect.Type, base uintptr, out []GoScalar) ([]GoScalar, bool) {
	word := func(off uintptr) GoScalar { return GoScalar{Off: base + off, Size: 8} }
	switch t.Kind() {
	case reflect.Bool, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint, reflect.Uintptr:
		return append(out, GoScalar{Off: base, Size: t.Size()}), true
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
		return append(out, GoScalar{Off: base, Size: t.Size(), Signed: true}), true
	case reflect.Float32, reflect.Float64:
		return append(out, GoScalar{Off: base, Size: t.Size(), Float: true}), true
	case reflect.Complex64, reflect.Complex128:
		half := t.Size() / 2
		return append(out, GoScalar{Off: base, Size: half, Float: true}, GoScalar{Off: base + half, Size: half, Float: true}), true
	case reflect.Pointer, reflect.UnsafePointer, reflect.Map, reflect.Chan, reflect.Func:
		return append(out, word(0)), true
	case reflect.String, reflect.Interface:
		return append(out, word(0), word(8)), true
	case reflect.Slice:
		return append(out, word(0), word(8), word(16)), true
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			var ok bool
			if out, ok = goScalars(f.Type, base+f.Offset, out); !ok {
				return nil, false
			}
		}
		return out, true
	case reflect.Array:
		switch t.Len() {
		case 0:
			return out, true
		case 1:
			return goScalars(t.Elem(), base, out)
		}
	}
	return nil, false
}
