package loader

// The register form of the general (struct) callback: no reflect.Call.
//
// Go's internal register ABI (ABIInternal) assigns a function's arguments
// and results to registers scalar by scalar; internal/callconv models it
// (AssignGoRegs). A func whose arguments and results all fit can be
// called through goRegFunc, which sets every argument register and reads
// every result register: the callee reads and writes the registers of
// its own type, and spills at most what goRegFunc's caller reserves.
// docs/ASSUMPTIONS.md records this; TestCallbackRegisterABI checks it
// shape by shape against the reflect form.

import (
	"math"
	"reflect"
	"runtime"
	"unsafe"

	"github.com/runplug/runplug/internal/callconv"
	"github.com/runplug/runplug/internal/pcall"
)

// goRegFunc is the register view of any func whose arguments and results
// ABIInternal assigns to registers.
type goRegFunc = func(i0, i1, i2, i3, i4, i5, i6, i7, i8 uint64, f0, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13, f14 float64) (r0, r1, r2, r3, r4, r5, r6, r7, r8 uint64, g0, g1, g2, g3, g4, g5, g6, g7, g8, g9, g10, g11, g12, g13, g14 float64)

// goRegs is a set of ABIInternal registers.
type goRegs struct {
	i [callconv.GoIntRegs]uint64
	f [callconv.GoFloatRegs]float64
}

// call calls fn with the argument registers in and returns its result
// registers.
func (in *goRegs) call(fn goRegFunc) (out goRegs) {
	out.i[0], out.i[1], out.i[2], out.i[3], out.i[4], out.i[5], out.i[6], out.i[7], out.i[8], out.f[0], out.f[1], out.f[2], out.f[3], out.f[4], out.f[5], out.f[6], out.f[7], out.f[8], out.f[9], out.f[10], out.f[11], out.f[12], out.f[13], out.f[14] = fn(in.i[0], in.i[1], in.i[2], in.i[3], in.i[4], in.i[5], in.i[6], in.i[7], in.i[8], in.f[0], in.f[1], in.f[2], in.f[3], in.f[4], in.f[5], in.f[6], in.f[7], in.f[8], in.f[9], in.f[10], in.f[11], in.f[12], in.f[13], in.f[14])
	return out
}

// regFrameCall is the register form of a general host function or
// callback: for each Go argument register, where the C caller put its
// bytes, and for each C result register, which Go result register bytes
// go there.
type regFrameCall struct {
	fn       goRegFunc
	plan     *callconv.Plan
	vaReg    int // the Go register of a last *VarArgs parameter, or -1
	moves    []argMove
	res      []resMove // nil without a result, or for a scalar one
	resKind  argKind   // a scalar result's kind (extended as the register forms do), else kVoid
	inMemory bool      // the result goes to the caller's buffer (rdi), resSize bytes
	resSize  uintptr
	resWords [4]bool // the result registers the C caller reads: rax, rdx, xmm0, xmm1
}

// Where an argument scalar's bytes are: in a saved integer or vector
// argument register, or in the caller's stack argument area.
const (
	inIntReg = iota
	inFloatReg
	inStack
)

// argMove loads one Go argument register from the C arguments: size bytes
// at byte off of the saved register idx (where inIntReg, inFloatReg) or
// of the stack argument area (inStack); a string's move loads the const
// char * and fills two integer registers from reg.
type argMove struct {
	where  uint8
	idx    uint8
	reg    uint8 // the Go register: goRegs.i, or goRegs.f for a float
	float  bool
	signed bool
	str    bool
	size   uintptr
	off    uintptr
}

// resMove stores one Go result register's scalar (size bytes) at byte off
// of the caller's buffer (inMemory) or of C result word word (0 rax, 1
// rdx, 2 xmm0, 3 xmm1).
type resMove struct {
	reg   uint8
	float bool
	word  uint8
	size  uintptr
	off   uintptr
}

// scalarSource returns where the byte at offset off of an argument at loc
// is: its register (and the byte within it) or its stack offset.
func scalarSource(loc *callconv.ArgLoc, off uintptr) (where, idx uint8, at uintptr) {
	if loc.OnStack {
		return inStack, 0, uintptr(loc.Offset) + off
	}
	for _, part := range loc.Parts {
		if o := uintptr(part.Offset); off >= o && off < o+uintptr(part.Size) {
			if part.Class == callconv.Integer {
				return inIntReg, uint8(part.Reg), off - o
			}
			return inFloatReg, uint8(part.Reg), off - o
		}
	}
	return inStack, 0, 0 // not reached: every scalar lies in a part
}

// regFormServes reports whether the register form reads every argument
// and writes the result of plan: the first six integer registers (Args),
// the first two result registers of each kind, values in place. The
// reflect form (readArg) serves the rest: on arm64 x6, x7 (MoreRegs), the
// result buffer in x8, d2 and d3, copies passed by reference, long
// doubles in whole q registers.
func regFormServes(plan *callconv.Plan) bool {
	if plan.Result.InMemory && plan.Conv == callconv.AAPCS64 {
		return false
	}
	for _, p := range plan.Result.Parts {
		if p.Reg >= 2 || p.Size == quadSize {
			return false
		}
	}
	for _, a := range plan.Args {
		if a.ByRef {
			return false
		}
		for _, p := range a.Parts {
			if p.Class == callconv.Integer && p.Reg >= 6 || p.Size == quadSize {
				return false
			}
		}
	}
	return true
}

// newRegFrameCall returns the register form of fv (arguments args, result
// res of kind resKind, planned as plan), or nil when its arguments or
// result do not all fit ABIInternal's registers.
func newRegFrameCall(fv reflect.Value, args []reflect.Type, res reflect.Type, resKind argKind, plan *callconv.Plan) *regFrameCall {
	regs, ok := callconv.AssignGoRegs(args)
	if !ok {
		return nil
	}
	if !regFormServes(plan) {
		return nil
	}
	c := &regFrameCall{plan: plan, vaReg: -1, resKind: resKind, inMemory: plan.Result.InMemory}
	for i, t := range args {
		sc := regs.Values[i]
		if t == varArgsType { // last: the variable part's reader, not in the plan
			c.vaReg = sc[0].Reg
			continue
		}
		loc := &plan.Args[i]
		if t.Kind() == reflect.String { // a const char * in, a Go string's two registers out
			where, idx, at := scalarSource(loc, 0)
			c.moves = append(c.moves, argMove{where: where, idx: idx, off: at, reg: uint8(sc[0].Reg), str: true, size: 8})
			continue
		}
		for _, s := range sc {
			where, idx, at := scalarSource(loc, s.Off)
			c.moves = append(c.moves, argMove{where: where, idx: idx, off: at, reg: uint8(s.Reg), float: s.Float, signed: s.Signed, size: s.Size})
		}
	}
	if res != nil {
		if res.Kind() == reflect.String {
			return nil
		}
		rs, ok := callconv.AssignGoRegs([]reflect.Type{res})
		if !ok {
			return nil
		}
		c.resSize = res.Size()
		for _, s := range rs.Values[0] {
			m := resMove{reg: uint8(s.Reg), float: s.Float, size: s.Size, off: s.Off}
			if !c.inMemory {
				for _, part := range plan.Result.Parts {
					if o := uintptr(part.Offset); s.Off >= o && s.Off < o+uintptr(part.Size) {
						m.word, m.off = uint8(part.Reg), s.Off-o
						if part.Class != callconv.Integer {
							m.word += 2
						}
					}
				}
			}
			c.res = append(c.res, m)
		}
		for _, part := range plan.Result.Parts {
			w := part.Reg
			if part.Class != callconv.Integer {
				w += 2
			}
			c.resWords[w] = true
		}
	}
	// Read the func value (a closure pointer) out of a variable of its
	// own type: the same word, seen as a goRegFunc.
	cell := reflect.New(fv.Type())
	cell.Elem().Set(fv)
	c.fn = *(*goRegFunc)(cell.UnsafePointer())
	return c
}

// call runs the function for a call from C whose argument registers the
// entry saved in a and whose stack arguments are at stack.
func (c *regFrameCall) call(a *pcall.Args, stack uintptr) pcall.Result {
	return c.run(a, stack, nil)
}

// callVariadic is call for a function that takes a *VarArgs last: its
// reader of the variable part is valid for the call only.
func (c *regFrameCall) callVariadic(a *pcall.Args, stack uintptr) pcall.Result {
	va := newVarArgs(c.plan, a, stack)
	defer func() { va.a = nil }()
	return c.run(a, stack, va)
}

// run is call, with va the variable part's reader when c takes one.
func (c *regFrameCall) run(a *pcall.Args, stack uintptr, va *VarArgs) pcall.Result {
	var strs [callconv.GoIntRegs / 2]string // keeps string arguments alive across the call
	var in goRegs
	if c.vaReg >= 0 {
		in.i[c.vaReg] = uint64(uintptr(unsafe.Pointer(va)))
	}
	for k := range c.moves {
		m := &c.moves[k]
		var p unsafe.Pointer
		switch m.where {
		case inIntReg:
			p = unsafe.Add(unsafe.Pointer(&a.Int[m.idx]), m.off)
		case inFloatReg:
			p = unsafe.Add(unsafe.Pointer(&a.Float[m.idx]), m.off)
		default:
			p = cPointer(uint64(stack + m.off))
		}
		switch {
		case m.str: // const char * in, Go string out
			s := goString(*(*uint64)(p))
			strs[m.reg/2] = s
			in.i[m.reg], in.i[m.reg+1] = uint64(uintptr(unsafe.Pointer(unsafe.StringData(s)))), uint64(len(s))
		case !m.float:
			in.i[m.reg] = loadInt(p, m.size, m.signed)
		case m.size == 4:
			in.f[m.reg] = math.Float64frombits(uint64(*(*uint32)(p)))
		default:
			in.f[m.reg] = *(*float64)(p)
		}
	}
	out := in.call(c.fn)
	runtime.KeepAlive(&strs)
	runtime.KeepAlive(va)
	switch {
	case c.resSize == 0:
		return pcall.Result{}
	case c.resKind != kVoid:
		return regResult(c.resKind, out.i[0], out.f[0])
	}
	var words [4]uint64 // rax, rdx, xmm0, xmm1
	var buf unsafe.Pointer
	if c.inMemory {
		buf = cPointer(a.Int[0]) // rdi: the caller's buffer, returned in rax
		clear(unsafe.Slice((*byte)(buf), c.resSize))
	}
	for k := range c.res {
		m := &c.res[k]
		p := unsafe.Add(unsafe.Pointer(&words[m.word]), m.off)
		if c.inMemory {
			p = unsafe.Add(buf, m.off)
		}
		switch {
		case !m.float:
			storeInt(p, m.size, out.i[m.reg])
		case m.size == 4:
			*(*uint32)(p) = uint32(math.Float64bits(out.f[m.reg]))
		default:
			*(*float64)(p) = out.f[m.reg]
		}
	}
	if c.inMemory {
		return pcall.Result{Int: a.Int[0]}
	}
	r := pcall.Result{Int: words[0], Float: math.Float64frombits(words[2])}
	if c.resWords[1] {
		a.Int[1] = words[1] // rdx
	}
	if c.resWords[3] {
		a.Float[1] = math.Float64frombits(words[3]) // xmm1
	}
	return r
}

// loadInt reads the integer of size bytes at p, extended to 64 bits.
func loadInt(p unsafe.Pointer, size uintptr, signed bool) uint64 {
	switch size {
	case 1:
		if signed {
			return uint64(int64(*(*int8)(p)))
		}
		return uint64(*(*uint8)(p))
	case 2:
		if signed {
			return uint64(int64(*(*int16)(p)))
		}
		return uint64(*(*uint16)(p))
	case 4:
		if signed {
			return uint64(int64(*(*int32)(p)))
		}
		return uint64(*(*uint32)(p))
	}
	return *(*uint64)(p)
}

// storeInt writes the low size bytes of v at p.
func storeInt(p unsafe.Pointer, size uintptr, v uint64) {
	switch size {
	case 1:
		*(*uint8)(p) = uint8(v)
	case 2:
		*(*uint16)(p) = uint16(v)
	case 4:
		*(*uint32)(p) = uint32(v)
	default:
		*(*uint64)(p) = v
	}
}
