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
	"runtime/debug"
	"unsafe"

	"github.com/runplug/runplug/sandbox"
)

// hostArg returns argument i (of type t, kind s.kinds[i]) from a.
func hostArg(s *sig, i int, t reflect.Type, a *sandbox.Args) reflect.Value {
	v := reflect.New(t).Elem()
	reg := a.Int[s.slots[i]]
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
func hostResult(k argKind, v reflect.Value) sandbox.Result {
	switch k {
	case kBool:
		if v.Bool() {
			return sandbox.Result{Int: 1}
		}
		return sandbox.Result{}
	case kI8, kI16, kI32, kI64:
		return sandbox.Result{Int: uint64(v.Int())}
	case kU8, kU16, kU32:
		return sandbox.Result{Int: v.Uint()}
	case kU64:
		if v.Kind() == reflect.UnsafePointer {
			return sandbox.Result{Int: uint64(uintptr(v.UnsafePointer()))}
		}
		return sandbox.Result{Int: v.Uint()}
	case kF32:
		return sandbox.Result{Float: math.Float64frombits(uint64(math.Float32bits(float32(v.Float()))))}
	case kF64:
		return sandbox.Result{Float: v.Float()}
	}
	return sandbox.Result{}
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
