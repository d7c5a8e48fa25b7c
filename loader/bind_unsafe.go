package loader

// This file reads and writes the arguments and results of typed bindings
// through unsafe.Pointer: a generic function cannot switch on its type
// parameters' values without boxing them (an allocation per call), so the
// kind of each argument is decided at bind time and the value is read at
// that kind from its address. The invariant that keeps this right:
// newSig derived every kind from the very type parameter whose value is
// read (the same size, signedness and representation).

import (
	"fmt"
	"math"
	"reflect"
	"runtime"
	"unsafe"

	"github.com/runplug/runplug/sandbox"
)

// cstrings holds the NUL-terminated copies of a call's string arguments.
// They are Go memory, pinned for the duration of the call (the plugin
// sees their addresses), and dropped after it: a plugin must not keep a
// string argument's pointer past the call.
type cstrings struct {
	bufs [6][]byte
	n    int
	pin  runtime.Pinner
}

func (c *cstrings) add(s string) uint64 {
	buf := make([]byte, len(s)+1)
	copy(buf, s)
	c.bufs[c.n] = buf
	c.n++
	c.pin.Pin(&buf[0])
	return uint64(uintptr(unsafe.Pointer(&buf[0])))
}

// put stores argument i of the binding's signature, whose value is at p,
// in its register slot of a. ks is non-nil when the signature has strings.
func (b *binding) put(a *sandbox.Args, i int, p unsafe.Pointer, ks *cstrings) {
	var v uint64
	switch b.sig.kinds[i] {
	case kBool:
		if *(*bool)(p) {
			v = 1
		}
	case kI8:
		v = uint64(int64(*(*int8)(p)))
	case kI16:
		v = uint64(int64(*(*int16)(p)))
	case kI32:
		v = uint64(int64(*(*int32)(p)))
	case kI64:
		v = *(*uint64)(p)
	case kU8:
		v = uint64(*(*uint8)(p))
	case kU16:
		v = uint64(*(*uint16)(p))
	case kU32:
		v = uint64(*(*uint32)(p))
	case kU64:
		v = *(*uint64)(p)
	case kF32:
		a.Float[b.sig.slots[i]] = math.Float64frombits(uint64(math.Float32bits(*(*float32)(p))))
		return
	case kF64:
		a.Float[b.sig.slots[i]] = *(*float64)(p)
		return
	case kString:
		v = ks.add(*(*string)(p))
	}
	a.Int[b.sig.slots[i]] = v
}

// get stores the result registers r, converted to the signature's result
// kind, at p. Integers narrower than 64 bits are truncated (and
// sign-extended when signed): the ABI leaves rax's upper bits undefined.
// A float32 is the low 32 bits of xmm0. A bool is al != 0.
func (b *binding) get(r sandbox.Result, p unsafe.Pointer) {
	switch b.sig.res {
	case kBool:
		*(*bool)(p) = uint8(r.Int) != 0
	case kI8, kU8:
		*(*uint8)(p) = uint8(r.Int)
	case kI16, kU16:
		*(*uint16)(p) = uint16(r.Int)
	case kI32, kU32:
		*(*uint32)(p) = uint32(r.Int)
	case kI64, kU64:
		*(*uint64)(p) = r.Int
	case kF32:
		*(*uint32)(p) = uint32(math.Float64bits(r.Float))
	case kF64:
		*(*float64)(p) = r.Float
	}
}

// call makes the protected call with the argument registers a: through
// Plugin.callInts, which passes just the integers, when no argument is a
// float.
func (b *binding) call(a *sandbox.Args, ks *cstrings) (sandbox.Result, error) {
	if b.f.p.remote != nil {
		return b.remoteCall(a, ks) // remote.go
	}
	var r sandbox.Result
	var err error
	if b.sig.nFloat == 0 {
		r, err = b.f.p.callInts(b.f, a.Int[:b.sig.nInt])
	} else {
		r, err = b.f.p.call(b.f, a)
	}
	if ks != nil {
		ks.pin.Unpin()
	}
	return r, err
}

// strs returns a string-copy holder when the signature needs one.
func (b *binding) strs() *cstrings {
	if b.sig.strs {
		return new(cstrings)
	}
	return nil
}

func result[R any](b *binding, r sandbox.Result, err error) (R, error) {
	var out R
	if err == nil {
		b.get(r, unsafe.Pointer(&out))
	}
	return out, err
}

func typesOf(ts ...reflect.Type) []reflect.Type { return ts }

// Bind0 binds the plugin function name to a Go function with no argument
// and a result of type R (see Bind2).
func Bind0[R any](p *Plugin, name string) (func() (R, error), error) {
	b, err := bindSig(p, name, nil, reflect.TypeFor[R]())
	if err != nil {
		return nil, err
	}
	return func() (R, error) {
		var a sandbox.Args
		r, err := b.call(&a, nil)
		return result[R](b, r, err)
	}, nil
}

// Bind1 binds the plugin function name to a Go function of one argument
// (see Bind2).
func Bind1[A1, R any](p *Plugin, name string) (func(A1) (R, error), error) {
	b, err := bindSig(p, name, typesOf(reflect.TypeFor[A1]()), reflect.TypeFor[R]())
	if err != nil {
		return nil, err
	}
	return func(a1 A1) (R, error) {
		var a sandbox.Args
		ks := b.strs()
		b.put(&a, 0, unsafe.Pointer(&a1), ks)
		r, err := b.call(&a, ks)
		return result[R](b, r, err)
	}, nil
}

// Bind2 binds the plugin function name to a Go function of two arguments
// and a result of type R, for example
//
//	scale, err := loader.Bind2[int32, float64, float64](p, "scale")
//	y, err := scale(3, 0.5) // double scale(int32_t, double)
//
// Argument and result types may be bool, any integer type, uintptr,
// unsafe.Pointer, float32 or float64 (or types defined on them); an
// argument may also be a string, passed as a pointer to a NUL-terminated
// copy that lives for the call. R may be Void for a function that returns
// nothing (or use BindVoid2). An unsafe.Pointer argument into Go memory
// follows the cgo rules: the plugin may use it during the call only, and
// it must not point to a goroutine stack if the plugin calls back into Go
// (the stack can move then). The signature is checked here, once: an
// unsupported one is a *SignatureError (ErrSignature). Every call is a
// protected call of the plugin, as Func.Call makes: a fault in it is
// returned as the error (a *sandbox.FaultError, wrapped) and quarantines
// the plugin, and a call into a closed or quarantined plugin fails with
// ErrClosed or ErrQuarantined. A call costs no allocation unless it has
// string arguments.
func Bind2[A1, A2, R any](p *Plugin, name string) (func(A1, A2) (R, error), error) {
	b, err := bindSig(p, name, typesOf(reflect.TypeFor[A1](), reflect.TypeFor[A2]()), reflect.TypeFor[R]())
	if err != nil {
		return nil, err
	}
	return func(a1 A1, a2 A2) (R, error) {
		var a sandbox.Args
		ks := b.strs()
		b.put(&a, 0, unsafe.Pointer(&a1), ks)
		b.put(&a, 1, unsafe.Pointer(&a2), ks)
		r, err := b.call(&a, ks)
		return result[R](b, r, err)
	}, nil
}

// Bind3 binds a function of three arguments (see Bind2).
func Bind3[A1, A2, A3, R any](p *Plugin, name string) (func(A1, A2, A3) (R, error), error) {
	b, err := bindSig(p, name, typesOf(reflect.TypeFor[A1](), reflect.TypeFor[A2](), reflect.TypeFor[A3]()), reflect.TypeFor[R]())
	if err != nil {
		return nil, err
	}
	return func(a1 A1, a2 A2, a3 A3) (R, error) {
		var a sandbox.Args
		ks := b.strs()
		b.put(&a, 0, unsafe.Pointer(&a1), ks)
		b.put(&a, 1, unsafe.Pointer(&a2), ks)
		b.put(&a, 2, unsafe.Pointer(&a3), ks)
		r, err := b.call(&a, ks)
		return result[R](b, r, err)
	}, nil
}

// Bind4 binds a function of four arguments (see Bind2).
func Bind4[A1, A2, A3, A4, R any](p *Plugin, name string) (func(A1, A2, A3, A4) (R, error), error) {
	b, err := bindSig(p, name, typesOf(reflect.TypeFor[A1](), reflect.TypeFor[A2](), reflect.TypeFor[A3](), reflect.TypeFor[A4]()), reflect.TypeFor[R]())
	if err != nil {
		return nil, err
	}
	return func(a1 A1, a2 A2, a3 A3, a4 A4) (R, error) {
		var a sandbox.Args
		ks := b.strs()
		b.put(&a, 0, unsafe.Pointer(&a1), ks)
		b.put(&a, 1, unsafe.Pointer(&a2), ks)
		b.put(&a, 2, unsafe.Pointer(&a3), ks)
		b.put(&a, 3, unsafe.Pointer(&a4), ks)
		r, err := b.call(&a, ks)
		return result[R](b, r, err)
	}, nil
}

// Bind5 binds a function of five arguments (see Bind2).
func Bind5[A1, A2, A3, A4, A5, R any](p *Plugin, name string) (func(A1, A2, A3, A4, A5) (R, error), error) {
	b, err := bindSig(p, name, typesOf(reflect.TypeFor[A1](), reflect.TypeFor[A2](), reflect.TypeFor[A3](), reflect.TypeFor[A4](), reflect.TypeFor[A5]()), reflect.TypeFor[R]())
	if err != nil {
		return nil, err
	}
	return func(a1 A1, a2 A2, a3 A3, a4 A4, a5 A5) (R, error) {
		var a sandbox.Args
		ks := b.strs()
		b.put(&a, 0, unsafe.Pointer(&a1), ks)
		b.put(&a, 1, unsafe.Pointer(&a2), ks)
		b.put(&a, 2, unsafe.Pointer(&a3), ks)
		b.put(&a, 3, unsafe.Pointer(&a4), ks)
		b.put(&a, 4, unsafe.Pointer(&a5), ks)
		r, err := b.call(&a, ks)
		return result[R](b, r, err)
	}, nil
}

// Bind6 binds a function of six arguments (see Bind2).
func Bind6[A1, A2, A3, A4, A5, A6, R any](p *Plugin, name string) (func(A1, A2, A3, A4, A5, A6) (R, error), error) {
	b, err := bindSig(p, name, typesOf(reflect.TypeFor[A1](), reflect.TypeFor[A2](), reflect.TypeFor[A3](), reflect.TypeFor[A4](), reflect.TypeFor[A5](), reflect.TypeFor[A6]()), reflect.TypeFor[R]())
	if err != nil {
		return nil, err
	}
	return func(a1 A1, a2 A2, a3 A3, a4 A4, a5 A5, a6 A6) (R, error) {
		var a sandbox.Args
		ks := b.strs()
		b.put(&a, 0, unsafe.Pointer(&a1), ks)
		b.put(&a, 1, unsafe.Pointer(&a2), ks)
		b.put(&a, 2, unsafe.Pointer(&a3), ks)
		b.put(&a, 3, unsafe.Pointer(&a4), ks)
		b.put(&a, 4, unsafe.Pointer(&a5), ks)
		b.put(&a, 5, unsafe.Pointer(&a6), ks)
		r, err := b.call(&a, ks)
		return result[R](b, r, err)
	}, nil
}

// BindVoid0 binds a native function with no argument and no result: the
// Go function returns only the call's error (see Bind2).
func BindVoid0(p *Plugin, name string) (func() error, error) {
	f, err := Bind0[Void](p, name)
	if err != nil {
		return nil, err
	}
	return func() error { _, err := f(); return err }, nil
}

// BindVoid1 binds a native function of one argument and no result.
func BindVoid1[A1 any](p *Plugin, name string) (func(A1) error, error) {
	f, err := Bind1[A1, Void](p, name)
	if err != nil {
		return nil, err
	}
	return func(a1 A1) error { _, err := f(a1); return err }, nil
}

// BindVoid2 binds a native function of two arguments and no result.
func BindVoid2[A1, A2 any](p *Plugin, name string) (func(A1, A2) error, error) {
	f, err := Bind2[A1, A2, Void](p, name)
	if err != nil {
		return nil, err
	}
	return func(a1 A1, a2 A2) error { _, err := f(a1, a2); return err }, nil
}

// BindVoid3 binds a native function of three arguments and no result.
func BindVoid3[A1, A2, A3 any](p *Plugin, name string) (func(A1, A2, A3) error, error) {
	f, err := Bind3[A1, A2, A3, Void](p, name)
	if err != nil {
		return nil, err
	}
	return func(a1 A1, a2 A2, a3 A3) error { _, err := f(a1, a2, a3); return err }, nil
}

// BindVoid4 binds a native function of four arguments and no result.
func BindVoid4[A1, A2, A3, A4 any](p *Plugin, name string) (func(A1, A2, A3, A4) error, error) {
	f, err := Bind4[A1, A2, A3, A4, Void](p, name)
	if err != nil {
		return nil, err
	}
	return func(a1 A1, a2 A2, a3 A3, a4 A4) error { _, err := f(a1, a2, a3, a4); return err }, nil
}

// BindVoid5 binds a native function of five arguments and no result.
func BindVoid5[A1, A2, A3, A4, A5 any](p *Plugin, name string) (func(A1, A2, A3, A4, A5) error, error) {
	f, err := Bind5[A1, A2, A3, A4, A5, Void](p, name)
	if err != nil {
		return nil, err
	}
	return func(a1 A1, a2 A2, a3 A3, a4 A4, a5 A5) error { _, err := f(a1, a2, a3, a4, a5); return err }, nil
}

// BindVoid6 binds a native function of six arguments and no result.
func BindVoid6[A1, A2, A3, A4, A5, A6 any](p *Plugin, name string) (func(A1, A2, A3, A4, A5, A6) error, error) {
	f, err := Bind6[A1, A2, A3, A4, A5, A6, Void](p, name)
	if err != nil {
		return nil, err
	}
	return func(a1 A1, a2 A2, a3 A3, a4 A4, a5 A5, a6 A6) error { _, err := f(a1, a2, a3, a4, a5, a6); return err }, nil
}

var errorType = reflect.TypeFor[error]()

// Bind sets the function variable that fnPtr points to so that calling it
// calls the plugin function name: fnPtr is a *func(ARGS...) (R, error) or
// a *func(ARGS...) error, with any mix of up to 6 integer-class
// (including string) and 8 float-class arguments of the types Bind2
// accepts. It is built with reflect.MakeFunc: each call costs reflect's
// argument boxing (a few hundred nanoseconds and several allocations, on
// top of the protected call); Bind0..Bind6 cost none of that.
func Bind(p *Plugin, name string, fnPtr any) error {
	pv := reflect.ValueOf(fnPtr)
	if !pv.IsValid() || pv.Kind() != reflect.Pointer || pv.IsNil() || pv.Elem().Kind() != reflect.Func {
		return &SignatureError{Symbol: name, Index: -2, Reason: fmt.Sprintf("want a non-nil pointer to a func variable, got %T", fnPtr)}
	}
	ft := pv.Elem().Type()
	if ft.IsVariadic() {
		return &SignatureError{Symbol: name, Type: ft, Index: -2, Reason: "variadic functions are not supported"}
	}
	var res reflect.Type
	switch {
	case ft.NumOut() == 1 && ft.Out(0) == errorType:
	case ft.NumOut() == 2 && ft.Out(1) == errorType:
		res = ft.Out(0)
	default:
		return &SignatureError{Symbol: name, Type: ft, Index: -1, Reason: "results must be (error) or (R, error)"}
	}
	args := make([]reflect.Type, ft.NumIn())
	for i := range args {
		args[i] = ft.In(i)
	}
	s, err := newSig(name, ft, args, res)
	if err != nil {
		return err
	}
	f, err := p.Func(name)
	if err != nil {
		return err
	}
	b := &binding{f: f, sig: *s}
	pv.Elem().Set(reflect.MakeFunc(ft, func(in []reflect.Value) []reflect.Value {
		var a sandbox.Args
		ks := b.strs()
		for i, v := range in {
			b.putValue(&a, i, v, ks)
		}
		r, err := b.call(&a, ks)
		ev := reflect.Zero(errorType)
		if err != nil {
			ev = reflect.ValueOf(&err).Elem()
		}
		if res == nil {
			return []reflect.Value{ev}
		}
		out := reflect.New(res)
		if err == nil {
			if res.Kind() == reflect.UnsafePointer {
				// A pointer stored into the heap goes through
				// SetPointer, with the GC's write barrier.
				out.Elem().SetPointer(*(*unsafe.Pointer)(unsafe.Pointer(&r.Int)))
			} else {
				b.get(r, out.UnsafePointer())
			}
		}
		return []reflect.Value{out.Elem(), ev}
	}))
	return nil
}

// putValue is put for a reflect.Value argument.
func (b *binding) putValue(a *sandbox.Args, i int, v reflect.Value, ks *cstrings) {
	var u uint64
	switch b.sig.kinds[i] {
	case kBool:
		if v.Bool() {
			u = 1
		}
	case kI8, kI16, kI32, kI64:
		u = uint64(v.Int())
	case kU8, kU16, kU32:
		u = v.Uint()
	case kU64:
		if v.Kind() == reflect.UnsafePointer {
			u = uint64(uintptr(v.UnsafePointer()))
		} else {
			u = v.Uint()
		}
	case kF32:
		a.Float[b.sig.slots[i]] = math.Float64frombits(uint64(math.Float32bits(float32(v.Float()))))
		return
	case kF64:
		a.Float[b.sig.slots[i]] = v.Float()
		return
	case kString:
		u = ks.add(v.String())
	}
	a.Int[b.sig.slots[i]] = u
}
