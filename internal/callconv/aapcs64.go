package callconv

// The AAPCS64 (Procedure Call Standard for the Arm 64-bit Architecture,
// section 6.8 "Parameter passing", stages B and C, and 6.9 "Result
// return"), as gcc implements it for Linux: the planner of Native on
// linux/arm64, table-tested on every architecture.

// Register counts of the AAPCS64 calling sequence.
const (
	aapcsIntRegs = 8 // x0-x7 (NGRN counts them)
	aapcsVecRegs = 8 // v0-v7 (NSRN)
	aapcsMaxHFA  = 4 // members of a homogeneous floating-point aggregate
)

// hfa reports whether t is passed as floating-point members in vector
// registers: a float or double, or a homogeneous floating-point aggregate
// (HFA: a struct, union or array whose members are, recursively, one to
// four of one floating-point type and nothing else, with no padding, as
// gcc's aapcs_vfp_sub_candidate decides). It returns the member type and
// how many there are. A long double (IEEE binary128 on AArch64) is a
// floating-point type here: alone or as an HFA member it takes a whole
// 128-bit vector register (a q register), counted as one.
func hfa(t *Type) (base *Type, n uint64, ok bool) {
	c := hfaCount(t, &base)
	if c < 1 || c > aapcsMaxHFA || t.size != uint64(c)*base.size {
		return nil, 0, false
	}
	return base, uint64(c), true
}

// hfaCount counts t's floating-point members of one type (*base, set by
// the first), or returns -1 when t has another kind of member, padding,
// or too many members.
func hfaCount(t *Type, base **Type) int {
	var c int
	switch t.kind {
	case KindFloat32, KindFloat64, KindLongDouble:
		if *base == nil {
			*base = t
		}
		if (*base).kind != t.kind {
			return -1
		}
		return 1
	case KindArray:
		e := hfaCount(t.elem, base)
		if e < 0 || e > 0 && t.n > aapcsMaxHFA {
			return -1
		}
		c = e * int(t.n)
	case KindStruct:
		for _, f := range t.fields {
			e := hfaCount(f.Type, base)
			if e < 0 {
				return -1
			}
			c += e
		}
	case KindUnion:
		for _, f := range t.fields {
			e := hfaCount(f.Type, base)
			if e < 0 {
				return -1
			}
			c = max(c, e)
		}
	default:
		return -1
	}
	if c > aapcsMaxHFA || c > 0 && t.size != uint64(c)*(*base).size {
		return -1
	}
	return c
}

// aapcsRegParts returns the register pieces of a value of type t that
// travels in registers from x[ngrn] and v[nsrn] on: each floating-point
// member of an HFA (or the one float) in a vector register of its own (a
// long double's 16 bytes in one Part), or else the value's doublewords in
// consecutive general registers. fp tells which.
func aapcsRegParts(t *Type, ngrn, nsrn int) (parts []Part, fp bool) {
	if base, n, ok := hfa(t); ok {
		for i := uint64(0); i < n; i++ {
			parts = append(parts, Part{Class: SSE, Reg: nsrn + int(i), Offset: i * base.size, Size: base.size})
		}
		return parts, true
	}
	for off := uint64(0); off < t.size; off += 8 {
		parts = append(parts, Part{Class: Integer, Reg: ngrn + int(off/8), Offset: off, Size: min(8, t.size-off)})
	}
	return parts, false
}

// newPlanAAPCS64 plans a call under the AAPCS64. What differs from SysV:
// eight registers of each kind; an HFA of up to four members travels in
// vector registers, one member each; another composite of up to 16 bytes
// in general registers, rounded up to doublewords, and a larger one by
// reference, as the address of a copy the caller makes (ArgLoc.ByRef); a
// value that does not fit in the registers left goes on the stack and
// closes its register kind to the arguments after it (NGRN or NSRN set to
// 8, rules C.3 and C.11); a result larger than 16 bytes that is not an HFA
// goes to memory whose address is in x8, which is not an argument
// register; and the variable part of a variadic call is passed as named
// arguments are (Linux, unlike Apple's platforms).
func newPlanAAPCS64(ret *Type, args []*Type, nfixed int, variadic bool) (*Plan, error) {
	if ret == nil {
		ret = Void
	}
	p := &Plan{Conv: AAPCS64, NFixed: nfixed, Variadic: variadic, Result: ResultLoc{Type: ret}}
	if ret.kind != KindVoid && ret.size > 0 {
		if _, _, isHFA := hfa(ret); isHFA || ret.size <= 16 {
			p.Result.Parts, _ = aapcsRegParts(ret, 0, 0)
		} else {
			p.Result.InMemory = true // x8
		}
	}
	var st AAPCS64State
	for i, t := range args {
		loc, err := newArgLoc(t, i, variadic && i >= nfixed)
		if err != nil {
			return nil, err
		}
		if err := st.place(&loc, i); err != nil {
			return nil, err
		}
		p.Args = append(p.Args, loc)
	}
	p.IntRegs, p.SSERegs, p.StackSize, p.CopySize = st.NGRN, st.NSRN, st.NSAA, st.copies
	return p, nil
}

// AAPCS64State is where an AAPCS64 call's allocation of arguments stands:
// the next general and vector register (NGRN, NSRN: 8 when none is left)
// and the bytes of stack arguments taken (NSAA). A Plan's IntRegs,
// SSERegs and StackSize are the state after its arguments.
type AAPCS64State struct {
	NGRN, NSRN int
	NSAA       uint64
	copies     uint64 // bytes of the caller's copies of ByRef arguments
}

// Next places one more argument of type t, already promoted, after those
// the state has taken, and advances past it. On Linux the variable part
// of a variadic call travels as named arguments do, so a callee reads its
// variable arguments this way, from the state after the fixed part.
func (st *AAPCS64State) Next(t *Type) (ArgLoc, error) {
	loc, err := newArgLoc(t, -2, false)
	if err == nil {
		err = st.place(&loc, -2)
	}
	return loc, err
}

// place sets where argument i (loc.Type) goes and advances the state.
func (st *AAPCS64State) place(loc *ArgLoc, i int) error {
	t := loc.Type
	if t.size == 0 { // an empty struct takes no register and no stack (gcc)
		return nil
	}
	pass := t // what travels: the value, or the address of its copy (B.3)
	if _, _, isHFA := hfa(t); !isHFA && IsAggregate(t) && t.size > 16 {
		loc.ByRef = true
		st.copies = alignUp(st.copies, 16)
		loc.CopyOffset = st.copies
		st.copies += alignUp(t.size, 16)
		pass = Pointer
	}
	parts, fp := aapcsRegParts(pass, st.NGRN, st.NSRN)
	if !fp && pass.align == 16 {
		st.NGRN = alignUp64(st.NGRN) // C.8: a 16-byte-aligned value starts at an even register
		parts, _ = aapcsRegParts(pass, st.NGRN, st.NSRN)
	}
	switch {
	case fp && st.NSRN+len(parts) <= aapcsVecRegs:
		loc.Parts, st.NSRN = parts, st.NSRN+len(parts)
	case !fp && st.NGRN+len(parts) <= aapcsIntRegs:
		loc.Parts, st.NGRN = parts, st.NGRN+len(parts)
	default:
		if fp {
			st.NSRN = aapcsVecRegs // C.3
		} else {
			st.NGRN = aapcsIntRegs // C.11
		}
		// C.4, C.12: the slot is aligned to the larger of 8 and the
		// type's natural alignment (16 at most); C.5, C.14: it takes at
		// least 8 bytes, and a composite's size is rounded up to 8 (B.4).
		st.NSAA = alignUp(st.NSAA, min(16, max(8, pass.align)))
		loc.OnStack, loc.Offset = true, st.NSAA
		st.NSAA += alignUp(pass.size, 8)
	}
	return nil
}

// alignUp64 rounds a register number up to even.
func alignUp64(n int) int { return (n + 1) &^ 1 }
