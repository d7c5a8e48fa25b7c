package callconv

import "fmt"

// Conv is a C calling convention runplug plans calls for. Both planners
// are pure Go and build everywhere, so that each is table-tested on any
// machine; Native is the one the running architecture uses.
type Conv uint8

// The calling conventions.
const (
	// SysV is the System V AMD64 psABI (linux/amd64).
	SysV Conv = iota
	// AAPCS64 is the Arm 64-bit Procedure Call Standard as Linux uses it
	// (linux/arm64): variadic arguments are passed as named ones, unlike
	// on Apple's platforms.
	AAPCS64
)

// String returns the convention's usual name.
func (c Conv) String() string {
	switch c {
	case SysV:
		return "SysV AMD64"
	case AAPCS64:
		return "AAPCS64"
	}
	return fmt.Sprintf("Conv(%d)", uint8(c))
}

// IntArgRegs returns the number of integer argument registers: 6 (rdi,
// rsi, rdx, rcx, r8, r9) or 8 (x0-x7).
func (c Conv) IntArgRegs() int {
	if c == AAPCS64 {
		return aapcsIntRegs
	}
	return sysvIntRegs
}

// VecArgRegs returns the number of vector argument registers: 8 (xmm0-xmm7
// or v0-v7).
func (c Conv) VecArgRegs() int {
	if c == AAPCS64 {
		return aapcsVecRegs
	}
	return sysvSSERegs
}

var regNames = [...][2][]string{
	SysV:    {{"rdi", "rsi", "rdx", "rcx", "r8", "r9"}, {"xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7"}},
	AAPCS64: {{"x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7"}, {"v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7"}},
}

// RegName names argument register i of class cl (Integer or SSE).
func (c Conv) RegName(cl Class, i int) string {
	k := 0
	if cl == SSE {
		k = 1
	}
	if int(c) < len(regNames) && i >= 0 && i < len(regNames[c][k]) {
		return regNames[c][k][i]
	}
	return fmt.Sprintf("%v register %d", cl, i)
}

// NewPlan plans a call of a non-variadic function returning ret (Void or
// nil for none) with the given argument types.
func (c Conv) NewPlan(ret *Type, args ...*Type) (*Plan, error) {
	return c.plan(ret, args, len(args), false)
}

// NewVariadicPlan plans a call of a variadic function whose first nfixed
// arguments are the declared ones and the rest the variable part: those
// get the default argument promotions (float to double; _Bool, char and
// short to int). Under SysV al is set to the number of vector registers
// used; under AAPCS64 the variable part is passed as named arguments are.
func (c Conv) NewVariadicPlan(ret *Type, nfixed int, args ...*Type) (*Plan, error) {
	if nfixed < 0 || nfixed > len(args) {
		return nil, &PlanError{Index: -1, Type: ret, Reason: fmt.Sprintf("%d fixed arguments of %d", nfixed, len(args))}
	}
	return c.plan(ret, args, nfixed, true)
}

func (c Conv) plan(ret *Type, args []*Type, nfixed int, variadic bool) (*Plan, error) {
	switch c {
	case SysV:
		return newPlanSysV(ret, args, nfixed, variadic)
	case AAPCS64:
		return newPlanAAPCS64(ret, args, nfixed, variadic)
	}
	return nil, &PlanError{Index: -1, Type: ret, Reason: fmt.Sprintf("unknown calling convention %v", c)}
}
