package callconv

import "fmt"

// Register counts of the SysV AMD64 calling sequence.
const (
	sysvIntRegs = 6 // rdi, rsi, rdx, rcx, r8, r9
	sysvSSERegs = 8 // xmm0-xmm7
)

// Part is one piece of a value that travels in a register: an eightbyte
// (SysV), or an eightbyte or one member of a homogeneous floating-point
// aggregate (AAPCS64).
type Part struct {
	Class  Class  // Integer or SSE (a general or a vector register)
	Reg    int    // index: rdi..r9 or x0..x7 (rax, rdx or x0, x1 for a result) for Integer, xmm0.. or v0.. for SSE
	Offset uint64 // the piece's offset in the value
	Size   uint64 // bytes of the value in it: 1 to 8, or 16 for a long double in a whole q register (AAPCS64)
}

// ArgLoc is where one argument goes.
type ArgLoc struct {
	Declared *Type  // the type the caller gave
	Type     *Type  // the type passed: Declared, or its default promotion in a variadic part
	OnStack  bool   // passed in memory, at StackOffset of the argument area
	Offset   uint64 // StackOffset: bytes from the first stack argument (the callee's 8(%rsp), or [sp] on AArch64)
	Parts    []Part // the registers, when not OnStack (none for an empty struct)

	// ByRef (AAPCS64 only: a composite larger than 16 bytes that is not
	// a homogeneous aggregate) says the value is copied to memory the
	// caller owns, at CopyOffset of the plan's copy area, and what Parts
	// or OnStack place is the copy's address, one 8-byte word.
	ByRef      bool
	CopyOffset uint64
}

// ResultLoc is where the result comes back.
type ResultLoc struct {
	Type     *Type
	InMemory bool   // the caller passes a buffer's address in rdi (the callee returns it in rax), or in x8 on AArch64
	X87      bool   // a long double in st0 (class X87, X87UP), which the caller stores and pops
	Parts    []Part // Integer parts in rax then rdx, SSE parts in xmm0 then xmm1
}

// Plan is the calling sequence of one signature: the result's and each
// argument's location, how many registers of each kind are used and how
// large the stack argument area is.
type Plan struct {
	Conv      Conv // the convention planned for
	Result    ResultLoc
	Args      []ArgLoc
	NFixed    int    // arguments before the variable part (len(Args) when not variadic)
	Variadic  bool   // the callee is variadic: al must hold SSERegs (SysV only)
	IntRegs   int    // integer argument registers used, SysV's hidden result pointer included (AAPCS64's x8 is not one)
	SSERegs   int    // vector argument registers used
	StackSize uint64 // bytes of stack arguments, a multiple of 8
	CopySize  uint64 // bytes of the caller's copies of ByRef arguments, a multiple of 16 (AAPCS64)
}

// PlanError reports an argument or result that cannot be passed.
type PlanError struct {
	Index  int // argument index (0-based), -1 for the result, -2 for a variable argument read by a callee (AAPCS64State.Next)
	Type   *Type
	Reason string
}

// Error describes the argument or result and why it cannot be passed.
func (e *PlanError) Error() string {
	what := "result"
	switch {
	case e.Index >= 0:
		what = fmt.Sprintf("argument %d", e.Index)
	case e.Index == -2:
		what = "variable argument"
	}
	return fmt.Sprintf("abi: %s (%v): %s", what, e.Type, e.Reason)
}

// NewPlan plans a call of a non-variadic function returning ret (Void or
// nil for none) with the given argument types, under the running
// architecture's convention (Native).
func NewPlan(ret *Type, args ...*Type) (*Plan, error) {
	return Native.NewPlan(ret, args...)
}

// NewVariadicPlan is Native.NewVariadicPlan.
func NewVariadicPlan(ret *Type, nfixed int, args ...*Type) (*Plan, error) {
	return Native.NewVariadicPlan(ret, nfixed, args...)
}

// Promote returns t after C's default argument promotions, which apply to
// the variable part of a variadic call.
func Promote(t *Type) *Type {
	switch t.kind {
	case KindFloat32:
		return Float64
	case KindBool, KindInt8, KindInt16, KindUint8, KindUint16:
		return Int32
	}
	return t
}

// newArgLoc starts argument i's location: its type, promoted when it is
// in the variable part, and void refused.
func newArgLoc(t *Type, i int, promote bool) (ArgLoc, error) {
	if t == nil || t.kind == KindVoid {
		return ArgLoc{}, &PlanError{Index: i, Type: t, Reason: "void is not an argument type"}
	}
	loc := ArgLoc{Declared: t, Type: t}
	if promote {
		loc.Type = Promote(t)
	}
	return loc, nil
}

// newPlanSysV plans a call under the System V AMD64 psABI.
func newPlanSysV(ret *Type, args []*Type, nfixed int, variadic bool) (*Plan, error) {
	if ret == nil {
		ret = Void
	}
	p := &Plan{NFixed: nfixed, Variadic: variadic, Result: ResultLoc{Type: ret}}
	nInt, nSSE := 0, 0
	if ret.kind != KindVoid {
		c := Classify(ret)
		if c.InMemory {
			p.Result.InMemory = true
			nInt = 1 // the hidden pointer takes rdi
		} else if len(c.Classes) == 2 && c.Classes[0] == X87 && c.Classes[1] == X87Up {
			// long double (or a struct of one): st0, which the caller pops.
			p.Result.X87 = true
		} else {
			ri, rs := 0, 0
			for i, cl := range c.Classes {
				part := Part{Class: cl, Offset: uint64(i) * 8, Size: min(8, ret.size-uint64(i)*8)}
				switch cl {
				case Integer:
					part.Reg, ri = ri, ri+1
				case SSE:
					part.Reg, rs = rs, rs+1
				case NoClass:
					continue
				default:
					return nil, &PlanError{Index: -1, Type: ret, Reason: fmt.Sprintf("class %v (in the x87 unit beside other classes) is not supported", cl)}
				}
				p.Result.Parts = append(p.Result.Parts, part)
			}
		}
	}
	off := uint64(0)
	for i, t := range args {
		loc, err := newArgLoc(t, i, variadic && i >= nfixed)
		if err != nil {
			return nil, err
		}
		t = loc.Type
		c := Classify(t)
		onStack := c.InMemory
		if !onStack {
			// X87 arguments go in memory; and when the registers left
			// cannot take every eightbyte, the whole argument does.
			wi, ws := 0, 0
			for _, cl := range c.Classes {
				switch cl {
				case Integer:
					wi++
				case SSE:
					ws++
				case X87, X87Up, ComplexX87:
					onStack = true
				}
			}
			if nInt+wi > sysvIntRegs || nSSE+ws > sysvSSERegs {
				onStack = true
			}
		}
		if onStack {
			a := max(8, t.align)
			off = alignUp(off, a)
			loc.OnStack, loc.Offset = true, off
			off += alignUp(t.size, 8)
		} else {
			for j, cl := range c.Classes {
				part := Part{Class: cl, Offset: uint64(j) * 8, Size: min(8, t.size-uint64(j)*8)}
				switch cl {
				case Integer:
					part.Reg, nInt = nInt, nInt+1
				case SSE:
					part.Reg, nSSE = nSSE, nSSE+1
				default:
					continue
				}
				loc.Parts = append(loc.Parts, part)
			}
		}
		p.Args = append(p.Args, loc)
	}
	p.IntRegs, p.SSERegs, p.StackSize = nInt, nSSE, off
	return p, nil
}

// RegistersOnly reports whether the plan is a plain register call: no
// stack argument, no aggregate, no result in memory or in rdx/xmm1, not
// variadic, no long double (a whole q register on AArch64, st0 as an
// x87 result). Such a call needs only the argument registers and rax/xmm0.
func (p *Plan) RegistersOnly() bool {
	if p.Variadic || p.StackSize != 0 || p.Result.InMemory || len(p.Result.Parts) > 1 {
		return false
	}
	if IsAggregate(p.Result.Type) {
		return false
	}
	for _, a := range p.Args {
		if a.OnStack || IsAggregate(a.Type) || len(a.Parts) != 1 || a.Parts[0].Size > 8 {
			return false
		}
	}
	return p.Result.Type.kind != KindLongDouble
}
