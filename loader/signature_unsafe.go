package loader

// This file makes general calls with argument values in memory, through
// unsafe.Pointer: the typed bindings pass the addresses of their Go
// arguments (whose Go layout was checked against the C layout at bind
// time, by callconv.TypeOf), and CallSig the addresses of values it first laid
// out in C layout. The trampoline reads them with the moves of the
// signature's pcall.GatherProgram. The invariant that keeps it right:
// compileFrame clips every move to its argument's declared size, so each
// reads within the value it is given; NewGatherProgram checks that every
// move writes within the registers and stack words; and every retMov
// writes within the result's size.

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/runplug/runplug/abi"
	"github.com/runplug/runplug/internal/callconv"
	"github.com/runplug/runplug/internal/pcall"
)

// storeBytes writes the low size bytes of v at p.
func storeBytes(p unsafe.Pointer, v uint64, size uint8) {
	switch size {
	case 8:
		*(*uint64)(p) = v
	case 4:
		*(*uint32)(p) = uint32(v)
	case 2:
		*(*uint16)(p) = uint16(v)
	case 1:
		*(*uint8)(p) = uint8(v)
	default:
		for i := uint8(0); i < size; i++ {
			*(*uint8)(unsafe.Add(p, i)) = uint8(v >> (8 * i))
		}
	}
}

// resultRegs is the number of result register words a retMov reads: rax,
// rdx, xmm0, xmm1 (x0, x1, v0..v3's low halves on arm64, and there the
// high halves of v0..v3 too).
const resultRegs = 6 + len(pcall.FrameResult{}.VHi)

// call makes the general call of f: args[i] points to argument i in C
// layout, out to the result's bytes (nil: the result is dropped).
func (fp *frameProg) call(ctx context.Context, f *Func, args []unsafe.Pointer, out unsafe.Pointer) error {
	var sret unsafe.Pointer
	if fp.sretSize != 0 {
		if out == nil {
			out = unsafe.Pointer(unsafe.SliceData(make([]byte, fp.sretSize)))
		}
		sret = out
	}
	// Plugin.call's checks, by hand: a call level less on this path.
	p := f.p
	if n := p.flags.Load(); n != 0 {
		return p.refused(f, n)
	}
	if _, inproc := p.be.(inProcess); !inproc && p.be.isolated() { // no dispatch in process
		return fp.remoteCall(ctx, f, args, out, nil) // remote_frame_unsafe.go
	}
	var r pcall.FrameResult
	if err := p.gate.CallGatherInto(ctx, f.addr, fp.gather, args, sret, &r); err != nil {
		return p.callFailed(f, err)
	}
	if out == nil || len(fp.rets) == 0 && !fp.x87 { // nothing in registers to store (a result in memory is in place)
		return nil
	}
	if fp.x87 {
		*(*[16]byte)(out) = r.ST0
		return nil
	}
	res := [resultRegs]uint64{r.RAX, r.RDX, r.XMM0, r.XMM1}
	copy(res[4:], r.V23[:]) // arm64: v2, v3
	copy(res[6:], r.VHi[:]) // arm64, with QuadRegs: the high halves of v0..v3
	for _, m := range fp.rets {
		storeBytes(unsafe.Add(out, m.dst), res[m.reg], m.size)
	}
	return nil
}

// CallSig calls a function given a Signature (by FuncSig or FuncAt)
// with the argument values args, one per argument type, and stores the
// result in ret. ctx bounds the call as for Call; a nil ctx panics.
//
// Values: for an integer or _Bool argument any Go integer or bool (cut to
// the C type's width); for float and double a float32 or float64; for a
// pointer a uintptr, an unsafe.Pointer, nil, a string (passed as a
// pointer to a NUL-terminated copy that lives for the call), or a slice
// (a []byte is the usual out-buffer) or a pointer whose elements hold no
// Go pointers (passed as the address of its first element: the plugin may
// read and write it during the call only), or a *Callback (its Ptr; a
// released one is refused with pcall.ErrCallbackFreed); for __int128
// an abi.Int128Value or abi.Uint128Value; for long double an
// abi.LongDoubleValue or a []byte of its 16 bytes (x87 extended, then
// padding, on amd64; IEEE binary128 on arm64); for a struct or union either a
// Go value whose type abi.TypeOf maps to the same layout, or a []byte
// holding exactly its C bytes. ret is nil (the result is dropped), a
// pointer to a Go variable of such a type, or a []byte of the result's
// size; after an error its contents are unspecified. A result must not
// carry Go pointers (it is written without the garbage collector's write
// barriers, as C memory is).
//
// A slice or pointer argument works the same in process and isolated: in
// process the plugin sees the Go memory itself, pinned for the call;
// isolated, a copy in the memory its process shares, copied back after
// the call (strings are not copied back). A *Callback or a Callback's
// Ptr becomes an entry in the plugin's process; a uintptr or
// unsafe.Pointer is passed unchanged, as an address in that process.
func (f *Func) CallSig(ctx context.Context, ret any, args ...any) error {
	mustContext(ctx)
	s := f.sig
	if s == nil {
		return fmt.Errorf("loader: call %s: no signature (use Plugin.FuncSig, or a binding)", f.name)
	}
	if len(args) != len(s.args) {
		return fmt.Errorf("loader: call %s: %d arguments for %v", f.name, len(args), s)
	}
	if f.p.be.isolated() {
		return f.callSigRemote(ctx, ret, args) // remote_frame_unsafe.go
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	ptrs := make([]unsafe.Pointer, len(args))
	for i, v := range args {
		p, err := cValue(s.args[i], v, &pin, &s.seen[i])
		if err != nil {
			return fmt.Errorf("loader: call %s: argument %d: %w", f.name, i, err)
		}
		ptrs[i] = p
	}
	out, finish, err := cResult(s.ret, ret, &s.seenRet)
	if err != nil {
		return fmt.Errorf("loader: call %s: result: %w", f.name, err)
	}
	if err := s.prog.call(ctx, f, ptrs, out); err != nil {
		return err
	}
	if finish != nil {
		finish()
	}
	return nil
}

// cValue lays v out as a value of C type t and returns its address.
// seen (nil: none) caches the last Go type found to have t's layout.
func cValue(t *abi.Type, v any, pin *runtime.Pinner, seen *atomic.Value) (unsafe.Pointer, error) {
	rv := reflect.ValueOf(v)
	if callconv.IsAggregate(t) || callconv.KindOf(t) == callconv.KindInt128 || callconv.KindOf(t) == callconv.KindUint128 || callconv.KindOf(t) == callconv.KindLongDouble {
		return aggregateValue(t, rv, seen)
	}
	buf := new(uint64)
	if cb, ok := v.(*Callback); ok && callconv.KindOf(t) == callconv.KindPointer {
		if cb != nil {
			if cb.remote.Released() {
				return nil, fmt.Errorf("callback %s: %w", cb.Name(), pcall.ErrCallbackFreed)
			}
			*buf = uint64(cb.Ptr())
		}
		return unsafe.Pointer(buf), nil
	}
	switch k := callconv.KindOf(t); {
	case k.IsFloat():
		var x float64
		switch rv.Kind() {
		case reflect.Float32, reflect.Float64:
			x = rv.Float()
		default:
			return nil, fmt.Errorf("%T for %v: want float32 or float64", v, t)
		}
		if k == callconv.KindFloat32 {
			*buf = uint64(math.Float32bits(float32(x)))
		} else {
			*buf = math.Float64bits(x)
		}
	case k == callconv.KindPointer && (v == nil || rv.Kind() == reflect.String || rv.Kind() == reflect.UnsafePointer || rv.Kind() == reflect.Slice || rv.Kind() == reflect.Pointer):
		switch {
		case v == nil:
		case rv.Kind() == reflect.Slice || rv.Kind() == reflect.Pointer:
			// Go memory for the call: pinned, and only of a type with
			// no Go pointers inside (cgo's rule).
			if rv.IsNil() || rv.Kind() == reflect.Slice && rv.Len() == 0 {
				break
			}
			if _, err := goCType(rv.Type().Elem()); err != nil {
				return nil, fmt.Errorf("%T for %v: %w", v, t, err)
			}
			p := rv
			if rv.Kind() == reflect.Slice {
				p = rv.Index(0).Addr()
			}
			pin.Pin(p.Interface())
			*buf = uint64(uintptr(p.UnsafePointer()))
		case rv.Kind() == reflect.String:
			s := rv.String()
			b := make([]byte, len(s)+1)
			copy(b, s)
			pin.Pin(&b[0])
			*buf = uint64(uintptr(unsafe.Pointer(&b[0])))
		default:
			*buf = uint64(uintptr(rv.UnsafePointer()))
		}
	default:
		switch rv.Kind() {
		case reflect.Bool:
			if rv.Bool() {
				*buf = 1
			}
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			*buf = uint64(rv.Int())
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			*buf = rv.Uint()
		default:
			return nil, fmt.Errorf("%T for %v: want an integer or bool", v, t)
		}
	}
	return unsafe.Pointer(buf), nil
}

// aggregateValue returns the address of a copy of rv laid out as t.
func aggregateValue(t *abi.Type, rv reflect.Value, seen *atomic.Value) (unsafe.Pointer, error) {
	if !rv.IsValid() {
		return nil, fmt.Errorf("nil for %v", t)
	}
	if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
		if uint64(rv.Len()) != t.Size() {
			return nil, fmt.Errorf("%d bytes for %v, which has %d", rv.Len(), t, t.Size())
		}
		b := make([]byte, rv.Len())
		copy(b, rv.Bytes())
		if len(b) == 0 {
			return unsafe.Pointer(&struct{}{}), nil
		}
		return unsafe.Pointer(&b[0]), nil
	}
	if err := checkLayout(rv.Type(), t, seen); err != nil {
		return nil, err
	}
	c := reflect.New(rv.Type())
	c.Elem().Set(rv)
	return c.UnsafePointer(), nil
}

// checkLayout checks that Go type gt has C type t's layout; seen (nil: no
// cache) remembers the last type that had.
func checkLayout(gt reflect.Type, t *abi.Type, seen *atomic.Value) error {
	if seen != nil {
		if last, ok := seen.Load().(reflect.Type); ok && last == gt {
			return nil
		}
	}
	ct, err := goCType(gt)
	if err != nil {
		return err
	}
	if !callconv.SameLayout(ct, t) {
		return fmt.Errorf("Go type %v (%v) does not have the layout of %v", gt, ct, t)
	}
	if seen != nil {
		seen.Store(gt)
	}
	return nil
}

// goCTypes caches callconv.TypeOf for CallSig, which maps the Go types of its
// values on every call: reflect.Type -> goCTypeResult.
var goCTypes sync.Map

type goCTypeResult struct {
	t   *abi.Type
	err error
}

// goCType is callconv.TypeOf, cached.
func goCType(t reflect.Type) (*abi.Type, error) {
	if r, ok := goCTypes.Load(t); ok {
		r := r.(goCTypeResult)
		return r.t, r.err
	}
	ct, err := callconv.TypeOf(t)
	goCTypes.Store(t, goCTypeResult{ct, err})
	return ct, err
}

// cResult returns where the result of C type t goes for ret (see CallSig)
// and, for a scalar result converted to ret's Go type, what to run after
// the call.
func cResult(t *abi.Type, ret any, seen *atomic.Value) (unsafe.Pointer, func(), error) {
	if ret == nil || callconv.KindOf(t) == callconv.KindVoid {
		return nil, nil, nil
	}
	rv := reflect.ValueOf(ret)
	if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
		if uint64(rv.Len()) != t.Size() {
			return nil, nil, fmt.Errorf("a %d-byte []byte for %v, which has %d", rv.Len(), t, t.Size())
		}
		if rv.Len() == 0 {
			return nil, nil, nil
		}
		return rv.UnsafePointer(), nil, nil
	}
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil, nil, fmt.Errorf("%T: want a non-nil pointer or a []byte", ret)
	}
	e := rv.Elem()
	if callconv.IsAggregate(t) || callconv.KindOf(t) == callconv.KindInt128 || callconv.KindOf(t) == callconv.KindUint128 || callconv.KindOf(t) == callconv.KindLongDouble {
		if err := checkLayout(e.Type(), t, seen); err != nil {
			return nil, nil, err
		}
		return rv.UnsafePointer(), nil, nil
	}
	buf := new(uint64)
	k := callconv.KindOf(t)
	finish := func() {
		v := *buf
		switch {
		case k == callconv.KindFloat32:
			e.SetFloat(float64(math.Float32frombits(uint32(v))))
		case k == callconv.KindFloat64:
			e.SetFloat(math.Float64frombits(v))
		case e.Kind() == reflect.Bool:
			e.SetBool(uint8(v) != 0)
		case e.Kind() == reflect.UnsafePointer:
			e.SetPointer(*(*unsafe.Pointer)(unsafe.Pointer(&v)))
		case e.CanInt():
			if k.IsSigned() {
				sh := 64 - 8*uint(t.Size())
				e.SetInt(int64(v<<sh) >> sh)
			} else {
				e.SetInt(int64(v))
			}
		default:
			e.SetUint(v)
		}
	}
	switch {
	case k.IsFloat():
		if !e.CanFloat() {
			return nil, nil, fmt.Errorf("%T for %v: want *float32 or *float64", ret, t)
		}
	case e.Kind() == reflect.Bool || e.Kind() == reflect.UnsafePointer || e.CanInt() || e.CanUint():
	default:
		return nil, nil, fmt.Errorf("%T for %v: want a pointer to an integer, bool or unsafe.Pointer", ret, t)
	}
	return unsafe.Pointer(buf), finish, nil
}
