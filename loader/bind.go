package loader

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/runplug/runplug/abi"
	"github.com/runplug/runplug/internal/callconv"
)

//go:generate go run ../internal/genbind -o bind_gen.go

// Typed bindings of a Func (Bind0..Bind8, Bind, BindVariadic): the argument and result types are checked once, at bind time,
// and each argument's register is decided then; a call converts the
// arguments with a switch per argument, makes one protected call (as
// Func.Call does) and converts the result, without reflect or allocation
// (string arguments excepted: each is copied into a NUL-terminated buffer).

// argKind is how a Go value travels in a register.
type argKind uint8

const (
	kVoid argKind = iota
	kBool
	kI8
	kI16
	kI32
	kI64
	kU8
	kU16
	kU32
	kU64 // uint64, uint, uintptr, unsafe.Pointer
	kF32
	kF64
	kString // argument only: a NUL-terminated copy
)

func (k argKind) isFloat() bool { return k == kF32 || k == kF64 }

// kindOf returns the register kind of t, or why it has none. string is an
// argument kind only (asArg).
func kindOf(t reflect.Type, asArg bool) (argKind, string) {
	switch t.Kind() {
	case reflect.Bool:
		return kBool, ""
	case reflect.Int8:
		return kI8, ""
	case reflect.Int16:
		return kI16, ""
	case reflect.Int32:
		return kI32, ""
	case reflect.Int64, reflect.Int:
		return kI64, ""
	case reflect.Uint8:
		return kU8, ""
	case reflect.Uint16:
		return kU16, ""
	case reflect.Uint32:
		return kU32, ""
	case reflect.Uint64, reflect.Uint, reflect.Uintptr, reflect.UnsafePointer:
		return kU64, ""
	case reflect.Float32:
		return kF32, ""
	case reflect.Float64:
		return kF64, ""
	case reflect.String:
		if asArg {
			return kString, ""
		}
		return 0, "a string result is not supported (return a pointer: uintptr or unsafe.Pointer)"
	case reflect.Pointer:
		return 0, fmt.Sprintf("Go pointer type %v is not supported (use unsafe.Pointer or uintptr for native memory)", t)
	}
	return 0, fmt.Sprintf("type %v (%v) has no supported register class", t, t.Kind())
}

// sig is a checked signature: each argument's kind and register slot (an
// index into Args.Int or Args.Float) and the result's kind.
type sig struct {
	n      int
	kinds  [maxSigArgs]argKind
	slots  [maxSigArgs]uint8
	nInt   int // integer-class arguments (rdi, rsi, ...)
	nFloat int // float-class arguments (xmm0, xmm1, ...)
	res    argKind
	strs   bool // some argument is a string
}

// maxSigArgs bounds the arguments of a signature: 6 integer-class plus 8
// float-class registers.
const maxSigArgs = 14

// newSig checks the argument types and the result type (nil: no result)
// of a binding or host function named symbol; ft is the whole function
// type for messages (may be nil).
func newSig(symbol string, ft reflect.Type, args []reflect.Type, res reflect.Type) (*sig, error) {
	s := &sig{n: len(args)}
	nInt, nFloat := 0, 0
	for i, t := range args {
		if t == nil {
			return nil, &SignatureError{Symbol: symbol, Type: ft, Index: i, Reason: "interface type argument"}
		}
		if i >= maxSigArgs {
			return nil, &SignatureError{Symbol: symbol, Type: ft, Index: -2, Reason: fmt.Sprintf("%d arguments, at most 6 integer-class and 8 float-class", len(args))}
		}
		k, why := kindOf(t, true)
		if why != "" {
			return nil, &SignatureError{Symbol: symbol, Type: ft, Index: i, Reason: why}
		}
		s.kinds[i] = k
		if k.isFloat() {
			if nFloat == 8 {
				return nil, &SignatureError{Symbol: symbol, Type: ft, Index: i, Reason: "more than 8 float arguments (xmm0-xmm7); stack arguments are not supported"}
			}
			s.slots[i] = uint8(nFloat)
			nFloat++
		} else {
			if nInt == 6 {
				return nil, &SignatureError{Symbol: symbol, Type: ft, Index: i, Reason: "more than 6 integer or pointer arguments (rdi, rsi, rdx, rcx, r8, r9); stack arguments are not supported"}
			}
			s.slots[i] = uint8(nInt)
			nInt++
		}
		if k == kString {
			s.strs = true
		}
	}
	s.nInt, s.nFloat = nInt, nFloat
	if res != nil {
		k, why := kindOf(res, false)
		if why != "" {
			return nil, &SignatureError{Symbol: symbol, Type: ft, Index: -1, Reason: why}
		}
		s.res = k
	}
	return s, nil
}

// Void is the result type parameter of a binding whose native function
// returns nothing: Bind1[int32, loader.Void](f) gives a
// func(context.Context, int32) (Void, error).
type Void struct{}

var voidType = reflect.TypeFor[Void]()

// bindSig checks the signature of a binding of f: the register-only path
// when every argument is a scalar that fits in the registers and the
// result is one, else the general path (stack arguments, structs by
// value, []byte buffers).
func bindSig(f *Func, ft reflect.Type, args []reflect.Type, res reflect.Type) (*binding, error) {
	return bindSigVar(f, ft, args, res, -1)
}

// bindSigVar is bindSig for a variadic function whose first nfixed
// arguments are the declared ones (nfixed < 0: not variadic).
func bindSigVar(f *Func, ft reflect.Type, args []reflect.Type, res reflect.Type, nfixed int) (*binding, error) {
	if f == nil {
		return nil, &SignatureError{Symbol: "<nil>", Type: ft, Index: -2, Reason: "nil *Func"}
	}
	name := f.name
	if res == voidType {
		res = nil
	}
	b := &binding{f: f}
	if nfixed > len(args) {
		return nil, &SignatureError{Symbol: name, Type: ft, Index: -2, Reason: fmt.Sprintf("%d fixed arguments of %d", nfixed, len(args))}
	}
	if s, err := newSig(name, ft, args, res); err == nil && nfixed < 0 {
		b.sig = *s
	} else if b.gen, b.strArgs, b.bufArgs, err = generalSig(name, ft, args, res, nfixed); err != nil {
		return nil, err
	}
	if p := f.serving().p; b.gen != nil && b.gen.remoteRefusal() != nil && p.be.isolated() {
		return nil, fmt.Errorf("loader: bind %s in %s: %w", name, p.obj.name, b.gen.remoteRefusal())
	}
	return b, nil
}

// generalSig plans a binding's call through the general path: each Go
// type is mapped to its C type by callconv.TypeOf (layout checked), a string
// argument being a pointer to a NUL-terminated copy (strArgs lists them).
func generalSig(name string, ft reflect.Type, args []reflect.Type, res reflect.Type, nfixed int) (prog *frameProg, strArgs, bufArgs []int, err error) {
	cargs := make([]*abi.Type, len(args))
	for i, t := range args {
		switch {
		case t == nil:
			return nil, nil, nil, &SignatureError{Symbol: name, Type: ft, Index: i, Reason: "interface type argument"}
		case t.Kind() == reflect.String:
			cargs[i] = abi.Pointer
			strArgs = append(strArgs, i)
			continue
		case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
			cargs[i] = abi.Pointer
			bufArgs = append(bufArgs, i)
			continue
		case t.Kind() == reflect.Array:
			return nil, nil, nil, &SignatureError{Symbol: name, Type: ft, Index: i, Reason: fmt.Sprintf("C passes an array as a pointer (%v): pass unsafe.Pointer, or wrap the array in a struct to pass it by value", t)}
		}
		ct, err := callconv.TypeOf(t)
		if err != nil {
			return nil, nil, nil, &SignatureError{Symbol: name, Type: ft, Index: i, Reason: strings.TrimPrefix(err.Error(), "abi: "), Err: err}
		}
		cargs[i] = ct
	}
	cres := abi.Void
	if res != nil {
		switch res.Kind() {
		case reflect.String:
			return nil, nil, nil, &SignatureError{Symbol: name, Type: ft, Index: -1, Reason: "a string result is not supported (return a pointer: uintptr or unsafe.Pointer)"}
		case reflect.Array:
			return nil, nil, nil, &SignatureError{Symbol: name, Type: ft, Index: -1, Reason: fmt.Sprintf("a C function cannot return an array (%v): wrap it in a struct", res)}
		}
		ct, err := callconv.TypeOf(res)
		if err != nil {
			return nil, nil, nil, &SignatureError{Symbol: name, Type: ft, Index: -1, Reason: strings.TrimPrefix(err.Error(), "abi: "), Err: err}
		}
		cres = ct
	}
	var plan *callconv.Plan
	if nfixed >= 0 {
		plan, err = callconv.NewVariadicPlan(cres, nfixed, cargs...)
	} else {
		plan, err = callconv.NewPlan(cres, cargs...)
	}
	if err != nil {
		return nil, nil, nil, planError(name, ft, err)
	}
	prog, err = compileFrame(plan)
	if err != nil {
		return nil, nil, nil, &SignatureError{Symbol: name, Type: ft, Index: -2, Reason: err.Error()}
	}
	return prog, strArgs, bufArgs, nil
}

// binding is a bound function: the Func and its checked signature, for
// the register-only path (sig) or the general one (gen).
type binding struct {
	f       *Func
	sig     sig
	gen     *frameProg
	strArgs []int // the string arguments of a general binding
	bufArgs []int // its []byte arguments: out-buffers
}

// direct reports whether a general binding's call needs nothing but its
// frame: no copies to make, and a Func of its own (not a Live's).
func (b *binding) direct() bool {
	return len(b.strArgs) == 0 && len(b.bufArgs) == 0 && b.f.live == nil
}
