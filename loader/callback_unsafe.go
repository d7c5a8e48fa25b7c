package loader

// The general form of a typed host function or callback: any number of
// arguments and structs by value, called by native code per the SysV
// AMD64 psABI. The argument and result locations come from internal/callconv,
// the same plan a binding uses for the call in the other direction, read
// from the callee's side: each eightbyte of an argument from the register
// the plan names (saved by the callback entry), an argument in memory from
// the caller's stack argument area, a MEMORY-class result written to the
// caller's buffer (its address came in rdi and goes back in rax).
//
// The Go values are built with reflect and their bytes copied: callconv.TypeOf
// has checked that each Go type's layout is the C one. Pointers into the
// C stack and the result buffer are the caller's, valid for the call.

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"unsafe"

	"github.com/runplug/runplug/abi"
	"github.com/runplug/runplug/internal/callconv"
	"github.com/runplug/runplug/internal/pcall"
)

// frameHostFunc returns the frame form of fv (of type ft), for the
// signatures the register forms do not take: more than 6 integer-class or
// 8 float-class arguments, or structs by value. A string argument is a
// const char * copied into Go, as in the register forms.
//
// sret reports a MEMORY-class result (returned through the caller's buffer).
//
// A last parameter of type *VarArgs makes the C type variadic: the plan is
// the other parameters', and the Go function reads the variable part
// through the VarArgs (callback_va_unsafe.go).
func frameHostFunc(name string, ft reflect.Type, fv reflect.Value, args []reflect.Type, res reflect.Type) (frame pcall.FrameFunc, sret bool, err error) {
	fixed := args
	variadic := len(args) > 0 && args[len(args)-1] == varArgsType
	if variadic {
		fixed = args[:len(args)-1]
	}
	plan, cres, resKind, err := framePlan(name, ft, fixed, res)
	if err != nil {
		return nil, false, err
	}
	// Without reflect when every argument and the result fit Go's
	// registers (callback_regs_unsafe.go).
	if rc := newRegFrameCall(fv, args, res, resKind, plan); rc != nil {
		if variadic {
			return rc.callVariadic, plan.Result.InMemory, nil
		}
		return rc.call, plan.Result.InMemory, nil
	}
	return reflectFrameFunc(fv, args, res, resKind, cres, plan), plan.Result.InMemory, nil
}

// framePlan returns the psABI plan of a func of type ft (arguments args,
// result res or nil) called from C, the result's C type, and the kind of
// a scalar result (kVoid for none or a struct).
func framePlan(name string, ft reflect.Type, args []reflect.Type, res reflect.Type) (plan *callconv.Plan, cres *abi.Type, resKind argKind, err error) {
	cargs := make([]*abi.Type, len(args))
	for i, t := range args {
		switch t.Kind() {
		case reflect.String:
			cargs[i] = abi.Pointer
			continue
		case reflect.Array:
			return nil, nil, 0, &SignatureError{Symbol: name, Type: ft, Index: i, Reason: fmt.Sprintf("C passes an array as a pointer (%v): take unsafe.Pointer, or wrap the array in a struct to take it by value", t)}
		}
		ct, err := callconv.TypeOf(t)
		if err != nil {
			return nil, nil, 0, &SignatureError{Symbol: name, Type: ft, Index: i, Reason: strings.TrimPrefix(err.Error(), "abi: "), Err: err}
		}
		cargs[i] = ct
	}
	cres = abi.Void
	resKind = kVoid
	if res != nil {
		switch res.Kind() {
		case reflect.String:
			return nil, nil, 0, &SignatureError{Symbol: name, Type: ft, Index: -1, Reason: "a string result is not supported (return a pointer: uintptr or unsafe.Pointer)"}
		case reflect.Array:
			return nil, nil, 0, &SignatureError{Symbol: name, Type: ft, Index: -1, Reason: fmt.Sprintf("a C function cannot return an array (%v): wrap it in a struct", res)}
		}
		ct, err := callconv.TypeOf(res)
		if err != nil {
			return nil, nil, 0, &SignatureError{Symbol: name, Type: ft, Index: -1, Reason: strings.TrimPrefix(err.Error(), "abi: "), Err: err}
		}
		cres = ct
		if !callconv.IsAggregate(ct) {
			// A scalar result is extended as the register forms do.
			resKind, _ = kindOf(res, false)
		}
	}
	plan, perr := callconv.NewPlan(cres, cargs...)
	if perr != nil {
		return nil, nil, 0, planError(name, ft, perr)
	}
	if plan.Result.X87 {
		return nil, nil, 0, &SignatureError{Symbol: name, Type: ft, Index: -1, Reason: "a result in st0 (long double) is not supported for a Go function"}
	}
	return plan, cres, resKind, nil
}

// reflectFrameFunc is the frame form of fv (arguments args, result res of
// C type cres and kind resKind, planned as plan) through reflect.Call.
// args may have one more than plan: the *VarArgs of a variadic C type.
func reflectFrameFunc(fv reflect.Value, args []reflect.Type, res reflect.Type, resKind argKind, cres *abi.Type, plan *callconv.Plan) pcall.FrameFunc {
	// The argument values are reused from call to call (a pool: calls
	// may run on many threads at once), which spares an allocation each.
	scratch := sync.Pool{New: func() any {
		f := &frameScratch{in: make([]reflect.Value, len(args)), ptr: make([]unsafe.Pointer, len(args))}
		for i, t := range args {
			v := reflect.New(t)
			f.in[i], f.ptr[i] = v.Elem(), v.UnsafePointer()
		}
		return f
	}}
	return func(a *pcall.Args, stack uintptr) pcall.Result {
		f := scratch.Get().(*frameScratch)
		in := f.in
		for i := range plan.Args {
			loc := &plan.Args[i]
			if args[i].Kind() == reflect.String {
				var p uint64
				readArg(unsafe.Pointer(&p), loc, a, stack)
				in[i].SetString(goString(p))
			} else {
				readArg(f.ptr[i], loc, a, stack)
			}
		}
		if len(in) > len(plan.Args) { // the variable part's reader
			va := newVarArgs(plan, a, stack)
			defer func() { va.a = nil }()
			in[len(in)-1] = reflect.ValueOf(va)
		}
		out := fv.Call(in)
		scratch.Put(f) // reflect.Call copied the arguments; a panic just drops f
		switch {
		case res == nil:
			return pcall.Result{}
		case resKind != kVoid:
			return hostResult(resKind, out[0])
		}
		v := reflect.New(res)
		v.Elem().Set(out[0])
		src := v.UnsafePointer()
		if plan.Result.InMemory {
			buf := a.Int[0] // rdi: the caller's buffer, returned in rax
			if plan.Conv == callconv.AAPCS64 {
				buf = pcall.MoreRegs(a)[2] // x8
			}
			copy(unsafe.Slice((*byte)(cPointer(buf)), cres.Size()), unsafe.Slice((*byte)(src), cres.Size()))
			return pcall.Result{Int: buf}
		}
		var r pcall.Result
		for _, part := range plan.Result.Parts {
			if part.Size == quadSize { // a long double in q(Reg) (arm64): its high half beside d(Reg)
				pcall.VecHighs(a)[part.Reg] = *(*uint64)(unsafe.Add(src, part.Offset+8))
				part.Size = 8
			}
			var w uint64
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&w)), part.Size), unsafe.Slice((*byte)(unsafe.Add(src, part.Offset)), part.Size))
			switch {
			case part.Class == callconv.Integer && part.Reg == 0:
				r.Int = w
			case part.Class == callconv.Integer:
				a.Int[1] = w // rdx
			case part.Reg == 0:
				r.Float = *(*float64)(unsafe.Pointer(&w))
			default:
				a.Float[part.Reg] = *(*float64)(unsafe.Pointer(&w)) // xmm1, or v1-v3
			}
		}
		return r
	}
}

// frameScratch holds a general form's argument values for one call.
type frameScratch struct {
	in  []reflect.Value  // settable values of the argument types
	ptr []unsafe.Pointer // their memory
}

// readArg copies the argument at loc into dst (loc.Type.Size() bytes):
// from the caller's stack argument area, or eightbyte by eightbyte from
// the registers the entry saved in a, or from the caller's copy of a value
// passed by reference.
func readArg(dst unsafe.Pointer, loc *callconv.ArgLoc, a *pcall.Args, stack uintptr) {
	if loc.ByRef { // AAPCS64: the address of the caller's copy
		var p uint64
		ptr := callconv.ArgLoc{Type: abi.Pointer, OnStack: loc.OnStack, Offset: loc.Offset, Parts: loc.Parts}
		readArg(unsafe.Pointer(&p), &ptr, a, stack)
		n := loc.Type.Size()
		copy(unsafe.Slice((*byte)(dst), n), unsafe.Slice((*byte)(cPointer(p)), n))
		return
	}
	if loc.OnStack {
		n := loc.Type.Size()
		copy(unsafe.Slice((*byte)(dst), n), unsafe.Slice((*byte)(cPointer(uint64(stack)+loc.Offset)), n))
		return
	}
	for _, part := range loc.Parts {
		var reg unsafe.Pointer
		switch {
		case part.Class == callconv.Integer && part.Reg >= len(a.Int): // x6, x7 (arm64)
			reg = unsafe.Pointer(&pcall.MoreRegs(a)[part.Reg-len(a.Int)])
		case part.Class == callconv.Integer:
			reg = unsafe.Pointer(&a.Int[part.Reg])
		case part.Size == quadSize: // a long double in q(Reg) (arm64): low half, then high half
			*(*uint64)(unsafe.Add(dst, part.Offset)) = math.Float64bits(a.Float[part.Reg])
			*(*uint64)(unsafe.Add(dst, part.Offset+8)) = pcall.VecHighs(a)[part.Reg]
			continue
		default:
			reg = unsafe.Pointer(&a.Float[part.Reg])
		}
		copy(unsafe.Slice((*byte)(unsafe.Add(dst, part.Offset)), part.Size), unsafe.Slice((*byte)(reg), part.Size))
	}
}

// cPointer returns the native address p as a pointer (C memory the Go
// garbage collector does not manage).
func cPointer(p uint64) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }
