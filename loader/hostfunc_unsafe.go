package loader

// This file turns argument registers of a call from a plugin into Go
// values of a host function's parameter types: an unsafe.Pointer from an
// integer register, and a Go string copied from a C string. The pointers
// come from native code and are trusted only as far as reading the C
// string: that read runs with debug.SetPanicOnFault, so a bad pointer is a
// Go panic (reported as a host panic) rather than a crash.

import (
	"math"
	"reflect"
	"runtime"
	"runtime/debug"
	"unsafe"

	"github.com/runplug/runplug/internal/callconv"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/wire"
)

// hostArg returns argument i (of type t, kind s.kinds[i]) from a.
func hostArg(s *sig, i int, t reflect.Type, a *pcall.Args) reflect.Value {
	v := reflect.New(t).Elem()
	var reg uint64
	if !s.kinds[i].isFloat() { // a float's slot indexes Float, and may be past Int's end
		reg = a.Int[s.slots[i]]
	}
	switch s.kinds[i] {
	case kBool:
		v.SetBool(uint8(reg) != 0)
	case kI8:
		v.SetInt(int64(int8(reg)))
	case kI16:
		v.SetInt(int64(int16(reg)))
	case kI32:
		v.SetInt(int64(int32(reg)))
	case kI64:
		v.SetInt(int64(reg))
	case kU8:
		v.SetUint(uint64(uint8(reg)))
	case kU16:
		v.SetUint(uint64(uint16(reg)))
	case kU32:
		v.SetUint(uint64(uint32(reg)))
	case kU64:
		if t.Kind() == reflect.UnsafePointer {
			v.SetPointer(*(*unsafe.Pointer)(unsafe.Pointer(&reg)))
		} else {
			v.SetUint(reg)
		}
	case kF32:
		v.SetFloat(float64(math.Float32frombits(uint32(math.Float64bits(a.Float[s.slots[i]])))))
	case kF64:
		v.SetFloat(a.Float[s.slots[i]])
	case kString:
		v.SetString(goString(reg))
	}
	return v
}

// hostResult returns the result registers for a host function's result v.
func hostResult(k argKind, v reflect.Value) pcall.Result {
	switch k {
	case kBool:
		if v.Bool() {
			return pcall.Result{Int: 1}
		}
		return pcall.Result{}
	case kI8, kI16, kI32, kI64:
		return pcall.Result{Int: uint64(v.Int())}
	case kU8, kU16, kU32:
		return pcall.Result{Int: v.Uint()}
	case kU64:
		if v.Kind() == reflect.UnsafePointer {
			return pcall.Result{Int: uint64(uintptr(v.UnsafePointer()))}
		}
		return pcall.Result{Int: v.Uint()}
	case kF32:
		return pcall.Result{Float: math.Float64frombits(uint64(math.Float32bits(float32(v.Float()))))}
	case kF64:
		return pcall.Result{Float: v.Float()}
	}
	return pcall.Result{}
}

// goString copies the NUL-terminated string at address p ("" for NULL).
func goString(p uint64) string {
	if p == 0 {
		return ""
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	base := *(*unsafe.Pointer)(unsafe.Pointer(&p))
	n := 0
	for *(*byte)(unsafe.Add(base, n)) != 0 {
		n++
	}
	return string(unsafe.Slice((*byte)(base), n))
}

// The fast form of a typed host function: no reflect.Call.
//
// Go's internal register ABI (ABIInternal, modelled by internal/callconv's
// AssignGoRegs) passes the integer, pointer and bool arguments of these
// signatures in the integer registers in order (a string in two: data,
// length) and their float arguments in X0-X14, and returns a one-word
// result in RAX or X0. So every typed host function whose arguments fit
// the registers regFunc sets can be called through that one Go func type:
// the callee reads the registers its own type gives it and ignores the
// rest, and spills at most what regFunc's frame reserves.
// docs/ASSUMPTIONS.md records this; TestHostFuncRegisterABI checks every
// kind at every position against the reflect form.

// regFunc is the register view of a typed host function: the form the
// sandbox's dispatcher can call directly.
type regFunc = pcall.RegFunc

// goIntRegs and goFloatRegs are the argument registers of ABIInternal that
// regFunc sets: all nine integer ones, the first eight float ones.
const (
	goIntRegs   = callconv.GoIntRegs
	goFloatRegs = 8
)

// regPlan calls a typed host function through regFunc: argument i (kind
// s.kinds[i], C register slot s.slots[i]) goes to Go register goReg[i].
type regPlan struct {
	s     *sig
	fn    regFunc
	goReg [maxSigArgs]uint8
	// Without strings the Go registers are the C ones in the same order:
	// intKinds gives the kind of each integer slot, for callDirect.
	intKinds [6]argKind
}

// newRegPlan returns the fast form of fv (of checked signature s), or nil
// when its arguments do not fit the registers regFunc sets, or a kind
// needs the reflect form.
func newRegPlan(s *sig, fv reflect.Value) *regPlan {
	p := &regPlan{s: s}
	ins := make([]reflect.Type, s.n)
	for i := range ins {
		if k := s.kinds[i]; !k.isFloat() && k != kString && (k < kBool || k > kU64) {
			return nil
		}
		ins[i] = fv.Type().In(i)
	}
	regs, ok := callconv.AssignGoRegs(ins)
	if !ok || regs.Ints > goIntRegs || regs.Floats > goFloatRegs {
		return nil
	}
	for i := range ins {
		p.goReg[i] = uint8(regs.Values[i][0].Reg)
	}
	// Read the func value (a closure pointer) out of a variable of its
	// own type: the same word, seen as a regFunc.
	cell := reflect.New(fv.Type())
	cell.Elem().Set(fv)
	p.fn = *(*regFunc)(cell.UnsafePointer())
	for i := 0; i < s.n; i++ {
		if !s.kinds[i].isFloat() {
			p.intKinds[s.slots[i]] = s.kinds[i]
		}
	}
	return p
}

// regsForm reports whether the sandbox may call p.fn with the C
// registers as they are: every argument a 64-bit integer or pointer, or a
// float (no string to copy, no narrow integer whose upper bits Go might
// rely on), and a result whose upper bits the C caller ignores (the
// psABI leaves them undefined beyond an int; 8- and 16-bit results are
// extended, as some C compilers expect).
func (p *regPlan) regsForm() bool {
	s := p.s
	for i := 0; i < s.n; i++ {
		if k := s.kinds[i]; k != kI64 && k != kU64 && !k.isFloat() {
			return false
		}
	}
	switch s.res {
	case kVoid, kI32, kU32, kI64, kU64, kF32, kF64:
		return true
	}
	return false
}

// intsForm returns fv seen as a pcall.IntFunc when its register form
// takes no float argument and returns no float (else nil): the same
// function, called with six integer registers set and only rax read,
// which the dispatcher calls with the fewest register moves. As for
// regFunc, the callee reads the registers of its own type and spills at
// most what the six-argument IntFunc's caller reserves.
func (p *regPlan) intsForm(fv reflect.Value) pcall.IntFunc {
	if p.s.nFloat != 0 || p.s.res.isFloat() {
		return nil
	}
	cell := reflect.New(fv.Type())
	cell.Elem().Set(fv)
	return *(*pcall.IntFunc)(cell.UnsafePointer())
}

// rawFunc returns the wire.RawHostFunc form of p.
func (p *regPlan) rawFunc() wire.RawHostFunc {
	if p.s.strs {
		return p.call
	}
	return p.callDirect
}

// callDirect is call for a signature without strings: each C argument
// register goes to the Go register of the same class and rank.
func (p *regPlan) callDirect(a *pcall.Args) pcall.Result {
	var r [6]uint64
	for j := 0; j < p.s.nInt; j++ {
		r[j] = extend(p.intKinds[j], a.Int[j])
	}
	f := &a.Float
	ri, rf := p.fn(r[0], r[1], r[2], r[3], r[4], r[5], 0, 0, 0, f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7])
	return regResult(p.s.res, ri, rf)
}

// regResult returns the C result registers for the Go ones of a result of
// kind k.
func regResult(k argKind, ri uint64, rf float64) pcall.Result {
	switch {
	case k == kVoid:
		return pcall.Result{}
	case k.isFloat():
		return pcall.Result{Float: rf}
	default:
		return pcall.Result{Int: extend(k, ri)}
	}
}

// call runs the host function with the C argument registers a.
func (p *regPlan) call(a *pcall.Args) pcall.Result {
	var r [goIntRegs]uint64
	var f [goFloatRegs]float64
	var strs [6]string // keeps string arguments alive across the call
	s := p.s
	for i := 0; i < s.n; i++ {
		k, g := s.kinds[i], p.goReg[i]
		if k.isFloat() {
			f[g] = a.Float[s.slots[i]] // a float32 is the low 32 bits: as the callee reads it
			continue
		}
		reg := a.Int[s.slots[i]]
		switch k {
		case kString:
			str := goString(reg)
			strs[s.slots[i]] = str
			r[g], r[g+1] = uint64(uintptr(unsafe.Pointer(unsafe.StringData(str)))), uint64(len(str))
		default:
			r[g] = extend(k, reg)
		}
	}
	ri, rf := p.fn(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7])
	runtime.KeepAlive(&strs)
	return regResult(p.s.res, ri, rf)
}

// extend returns the register reg of kind k with its upper bits defined:
// the C and Go ABIs both leave the bits above a narrow integer undefined,
// and a bool is 0 or 1.
func extend(k argKind, reg uint64) uint64 {
	switch k {
	case kBool:
		if uint8(reg) != 0 {
			return 1
		}
		return 0
	case kI8:
		return uint64(int64(int8(reg)))
	case kI16:
		return uint64(int64(int16(reg)))
	case kI32:
		return uint64(int64(int32(reg)))
	case kU8:
		return uint64(uint8(reg))
	case kU16:
		return uint64(uint16(reg))
	case kU32:
		return uint64(uint32(reg))
	}
	return reg
}
