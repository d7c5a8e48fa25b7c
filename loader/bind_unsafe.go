package loader

// This file reads and writes the arguments and results of typed bindings
// through unsafe.Pointer: a generic function cannot switch on its type
// parameters' values without boxing them (an allocation per call), so the
// kind of each argument is decided at bind time and the value is read at
// that kind from its address. The invariant that keeps this right:
// newSig derived every kind from the very type parameter whose value is
// read (the same size, signedness and representation).

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"strconv"
	"unsafe"

	"github.com/runplug/runplug/internal/pcall"
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
func (b *binding) put(a *pcall.Args, i int, p unsafe.Pointer, ks *cstrings) {
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
func (b *binding) get(r pcall.Result, p unsafe.Pointer) {
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
// float and ctx can never be done.
func (b *binding) call(ctx context.Context, a *pcall.Args, ks *cstrings) (pcall.Result, error) {
	f := b.f
	if f.live != nil {
		return b.callLive(ctx, a, ks)
	}
	if _, inproc := f.p.be.(inProcess); !inproc && f.p.be.isolated() {
		return b.remoteCall(ctx, a, ks) // remote.go
	}
	r, err := b.callOn(ctx, f, a)
	if ks != nil {
		ks.pin.Unpin()
	}
	return r, err
}

// callOn is call on f, a Func of a plugin in process.
func (b *binding) callOn(ctx context.Context, f *Func, a *pcall.Args) (pcall.Result, error) {
	switch {
	case !neverDone(ctx) && ctx.Done() != nil:
		return f.p.callContext(ctx, f, a)
	case b.sig.nFloat == 0:
		return f.p.callInts(f, a.Int[:b.sig.nInt])
	}
	return f.p.call(f, a)
}

// callLive is call through a Live's Func: on the serving version, made
// again on the next one when a reload turned it away unrun. (A Live is
// never isolated.)
func (b *binding) callLive(ctx context.Context, a *pcall.Args, ks *cstrings) (pcall.Result, error) {
	if ks != nil {
		defer ks.pin.Unpin()
	}
	for {
		v := b.f.live.cur.Load()
		r, err := b.callOn(ctx, v.fn, a)
		if err == nil || !b.f.live.again(v, err) {
			return r, err
		}
	}
}

// strs returns a string-copy holder when the signature needs one.
func (b *binding) strs() *cstrings {
	if b.sig.strs {
		return new(cstrings)
	}
	return nil
}

func result[R any](b *binding, r pcall.Result, err error) (R, error) {
	var out R
	if err == nil {
		b.get(r, unsafe.Pointer(&out))
	}
	return out, err
}

func typesOf(ts ...reflect.Type) []reflect.Type { return ts }

var errorType = reflect.TypeFor[error]()

var contextType = reflect.TypeFor[context.Context]()

// Bind sets the function variable that fnPtr points to so that calling it
// calls f: fnPtr is a *func(context.Context, ARGS...) (R, error) or a
// *func(context.Context, ARGS...) error, with any number of arguments of
// the types Bind2 accepts (structs included); the context bounds each
// call, as for Func.Call. It is built with reflect.MakeFunc: each call
// costs reflect's argument boxing (a few hundred nanoseconds and several
// allocations, on top of the protected call); Bind0..Bind8 cost none of
// that.
func Bind(f *Func, fnPtr any) error {
	return bindReflect(f, fnPtr, -1)
}

// BindVariadic is Bind for a variadic C function, called with the
// argument types of fnPtr's func type (after the context): its first
// nfixed of them are the C function's declared parameters, the rest the
// variable part of the calls made through it (a float32 there is passed
// as a double and integers narrower than int as int, as C promotes them;
// al is set). For example, for int snprintf(char *, size_t, const char *,
// ...) called with an int and a double:
//
//	var printIntDouble func(ctx context.Context, buf []byte, n uint64, format string, i int32, d float64) (int32, error)
//	err := loader.BindVariadic(snprintf, 3, &printIntDouble)
//
// Each different variable part needs a binding of its own.
func BindVariadic(f *Func, nfixed int, fnPtr any) error {
	if nfixed < 0 {
		name := "<nil>"
		if f != nil {
			name = f.name
		}
		return &SignatureError{Symbol: name, Index: -2, Reason: fmt.Sprintf("%d fixed arguments", nfixed)}
	}
	return bindReflect(f, fnPtr, nfixed)
}

func bindReflect(f *Func, fnPtr any, nfixed int) error {
	name := "<nil>"
	if f != nil {
		name = f.name
	}
	pv := reflect.ValueOf(fnPtr)
	if !pv.IsValid() || pv.Kind() != reflect.Pointer || pv.IsNil() || pv.Elem().Kind() != reflect.Func {
		return &SignatureError{Symbol: name, Index: -2, Reason: fmt.Sprintf("want a non-nil pointer to a func variable, got %T", fnPtr)}
	}
	ft := pv.Elem().Type()
	if ft.IsVariadic() {
		return &SignatureError{Symbol: name, Type: ft, Index: -2, Reason: "a Go variadic func type cannot be bound (for a variadic C function, use BindVariadic with the variable part's types)"}
	}
	if ft.NumIn() == 0 || ft.In(0) != contextType {
		return &SignatureError{Symbol: name, Type: ft, Index: -2, Reason: "the first parameter must be a context.Context"}
	}
	var res reflect.Type
	switch {
	case ft.NumOut() == 1 && ft.Out(0) == errorType:
	case ft.NumOut() == 2 && ft.Out(1) == errorType:
		res = ft.Out(0)
	default:
		return &SignatureError{Symbol: name, Type: ft, Index: -1, Reason: "results must be (error) or (R, error)"}
	}
	if nfixed > ft.NumIn()-1 {
		return &SignatureError{Symbol: name, Type: ft, Index: -2, Reason: fmt.Sprintf("%d fixed arguments of %d", nfixed, ft.NumIn()-1)}
	}
	args := make([]reflect.Type, ft.NumIn()-1)
	for i := range args {
		args[i] = ft.In(i + 1)
	}
	b, err := bindSigVar(f, ft, args, res, nfixed)
	if err != nil {
		return err
	}
	pv.Elem().Set(reflect.MakeFunc(ft, func(in []reflect.Value) []reflect.Value {
		ctx, _ := in[0].Interface().(context.Context)
		mustContext(ctx)
		var out reflect.Value
		var err error
		if b.gen != nil {
			out, err = b.callValues(ctx, in[1:], res)
		} else {
			out, err = b.callRegs(ctx, in[1:], res)
		}
		ev := reflect.Zero(errorType)
		if err != nil {
			ev = reflect.ValueOf(&err).Elem()
		}
		if res == nil {
			return []reflect.Value{ev}
		}
		if err != nil {
			return []reflect.Value{reflect.Zero(res), ev}
		}
		return []reflect.Value{out.Elem(), ev}
	}))
	return nil
}

// callRegs makes a register-only call of Bind's function with the
// arguments in and returns a pointer to the result (of type res, nil for
// none).
func (b *binding) callRegs(ctx context.Context, in []reflect.Value, res reflect.Type) (reflect.Value, error) {
	var a pcall.Args
	ks := b.strs()
	for i, v := range in {
		b.putValue(&a, i, v, ks)
	}
	r, err := b.call(ctx, &a, ks)
	if res == nil {
		return reflect.Value{}, err
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
	return out, err
}

// callValues is callRegs for a general binding: each argument is copied
// to the heap, where callGen reads it.
func (b *binding) callValues(ctx context.Context, in []reflect.Value, res reflect.Type) (reflect.Value, error) {
	ptrs := make([]unsafe.Pointer, len(in))
	for i, v := range in {
		c := reflect.New(v.Type())
		c.Elem().Set(v)
		ptrs[i] = c.UnsafePointer()
	}
	if res == nil {
		return reflect.Value{}, b.callGen(ctx, nil, ptrs...)
	}
	out := reflect.New(res)
	return out, b.callGen(ctx, out.UnsafePointer(), ptrs...)
}

// callGen makes a general binding's call: args[i] points to the Go value
// of argument i (its layout is the C layout, checked by abi.TypeOf), out
// to the result variable (nil: dropped). A string argument's pointer is
// replaced by one to the address of its NUL-terminated copy, a []byte's
// by one to the address of its first byte.
func (b *binding) callGen(ctx context.Context, out unsafe.Pointer, args ...unsafe.Pointer) error {
	if b.direct() { // inlined into the binding: one call less
		return b.gen.call(ctx, b.f, args, out)
	}
	return b.callGenCopies(ctx, out, args)
}

// callGenCopies is callGen for a binding with string or []byte arguments,
// or of a Live's Func.
func (b *binding) callGenCopies(ctx context.Context, out unsafe.Pointer, args []unsafe.Pointer) error {
	if b.f.live == nil && b.f.p.be.isolated() {
		return b.remoteGenCopies(ctx, out, args) // remote_frame_unsafe.go
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	for _, i := range b.strArgs {
		s := *(*string)(args[i])
		buf := make([]byte, len(s)+1)
		copy(buf, s)
		pin.Pin(&buf[0])
		addr := new(uint64)
		*addr = uint64(uintptr(unsafe.Pointer(&buf[0])))
		args[i] = unsafe.Pointer(addr)
	}
	for _, i := range b.bufArgs {
		buf := *(*[]byte)(args[i])
		addr := new(uint64)
		if len(buf) > 0 {
			pin.Pin(&buf[0])
			*addr = uint64(uintptr(unsafe.Pointer(&buf[0])))
		}
		args[i] = unsafe.Pointer(addr)
	}
	if b.f.live == nil {
		return b.gen.call(ctx, b.f, args, out)
	}
	for {
		v := b.f.live.cur.Load()
		err := b.gen.call(ctx, v.fn, args, out)
		if err == nil || !b.f.live.again(v, err) {
			return err
		}
	}
}

// putValue is put for a reflect.Value argument.
func (b *binding) putValue(a *pcall.Args, i int, v reflect.Value, ks *cstrings) {
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

// words reports whether a register binding's arguments and result are
// each a 64-bit integer or pointer (or the result is Void): its values then
// travel as they are, with no conversion, in the generated closures' word
// form.
func (b *binding) words() bool {
	if b.gen != nil || b.sig.strs || b.sig.nFloat != 0 || strconv.IntSize != 64 {
		return false // (int and uintptr are 64 bits on every platform that runs plugins)
	}
	for _, k := range b.sig.kinds[:b.sig.n] {
		if k != kI64 && k != kU64 {
			return false
		}
	}
	return b.sig.res == kVoid || b.sig.res == kI64 || b.sig.res == kU64
}

// word is the 64-bit value of a word-form argument (b.words: p points to
// 8 bytes).
func word[T any](p *T) uint64 { return *(*uint64)(unsafe.Pointer(p)) }

// wordResult is the word form's result: r as R, or R's zero value for Void.
func wordResult[R any](b *binding, r uint64) R {
	var out R
	if b.sig.res != kVoid {
		*(*uint64)(unsafe.Pointer(&out)) = r
	}
	return out
}

// callWords is call for the word form: in process with no deadline to
// watch, straight to the gate with the integers where they are.
func (b *binding) callWords(ctx context.Context, ints []uint64) (uint64, error) {
	f := b.f
	if f.live == nil && (neverDone(ctx) || ctx.Done() == nil) {
		if g, ok := f.p.be.(inProcess); ok {
			r, err := g.callIntsIn(f, ints)
			return r.Int, err
		}
	}
	var a pcall.Args
	copy(a.Int[:], ints)
	r, err := b.call(ctx, &a, nil)
	return r.Int, err
}
