package callconv

import "testing"

// typeFromBytes decodes a type tree from fuzz input (nil when the input
// runs out), so that the fuzzer explores nesting, arrays and unions.
func typeFromBytes(b []byte, depth int) (*Type, []byte) {
	if len(b) == 0 {
		return nil, b
	}
	op, b := b[0], b[1:]
	scalars := []*Type{Bool, Int8, Int16, Int32, Int64, Uint8, Uint16, Uint32, Uint64, Pointer, Float32, Float64, LongDouble, Int128}
	switch {
	case depth < 3 && op%8 == 0 || depth < 3 && op%8 == 1:
		n := int(op/8)%5 + 1
		var ms []*Type
		for i := 0; i < n; i++ {
			var m *Type
			m, b = typeFromBytes(b, depth+1)
			if m == nil {
				break
			}
			ms = append(ms, m)
		}
		if len(ms) == 0 {
			return Int32, b
		}
		if op%8 == 0 {
			return MustStructOf(ms...), b
		}
		u, err := UnionOf(ms...)
		if err != nil {
			panic(err)
		}
		return u, b
	case depth < 3 && op%8 == 2:
		e, rest := typeFromBytes(b, depth+1)
		if e == nil {
			return Int8, rest
		}
		a, err := ArrayOf(e, uint64(op/8)%6)
		if err != nil {
			panic(err)
		}
		return a, rest
	}
	return scalars[int(op)%len(scalars)], b
}

// FuzzPlan checks the plan's invariants on arbitrary signatures: no
// panic; a register-passed value has one class per eightbyte, at most
// two; no register is used twice; stack arguments are aligned, do not
// overlap and lie within StackSize.
func FuzzPlan(f *testing.F) {
	f.Add([]byte{0x08, 3, 10, 4, 0x10, 11, 11, 11})
	f.Add([]byte{0x20, 12, 4, 0x02, 3, 0x19, 10, 4, 4, 4, 4, 4, 4, 4, 4})
	f.Fuzz(func(t *testing.T, data []byte) {
		var types []*Type
		for len(data) > 0 && len(types) < 24 {
			var ty *Type
			ty, data = typeFromBytes(data, 0)
			if ty == nil {
				break
			}
			types = append(types, ty)
		}
		if len(types) == 0 {
			return
		}
		for _, ty := range types {
			c := Classify(ty)
			if !c.InMemory && ty.Size() > 0 && uint64(len(c.Classes)) != (ty.Size()+7)/8 {
				t.Fatalf("%v: %d classes for %d bytes", ty, len(c.Classes), ty.Size())
			}
			if !c.InMemory && len(c.Classes) > 2 {
				t.Fatalf("%v: %v in registers", ty, c.Classes)
			}
		}
		for _, c := range []Conv{SysV, AAPCS64} {
			checkPlan(t, c, types)
		}
	})
}

// checkPlan checks the invariants of c's plan of the signature types[0]
// (types[1:]).
func checkPlan(t *testing.T, c Conv, types []*Type) {
	p, err := c.NewPlan(types[0], types[1:]...)
	if err != nil {
		return // a long double result (SysV beside other classes; AAPCS64 in a q register)
	}
	usedInt, usedSSE := map[int]bool{}, map[int]bool{}
	if p.Result.InMemory && c == SysV {
		usedInt[0] = true
	}
	end, copyEnd := uint64(0), uint64(0)
	for i, a := range p.Args {
		passed := a.Type
		if a.ByRef {
			if c != AAPCS64 || a.Type.Size() <= 16 || a.CopyOffset%16 != 0 || a.CopyOffset < copyEnd {
				t.Fatalf("%v: argument %d (%v) by reference at copy offset %d (previous end %d)", c, i, a.Type, a.CopyOffset, copyEnd)
			}
			copyEnd = a.CopyOffset + a.Type.Size()
			passed = Pointer
		}
		if a.OnStack {
			if a.Offset%min(16, max(8, passed.Align())) != 0 || a.Offset < end {
				t.Fatalf("%v: argument %d (%v) at stack offset %d (previous end %d)", c, i, a.Type, a.Offset, end)
			}
			end = a.Offset + alignUp(passed.Size(), 8)
			continue
		}
		covered := uint64(0)
		for _, part := range a.Parts {
			used, limit := usedInt, c.IntArgRegs()
			if part.Class == SSE {
				used, limit = usedSSE, c.VecArgRegs()
			}
			if part.Reg >= limit || used[part.Reg] {
				t.Fatalf("%v: argument %d (%v): register %d of %v reused or out of range", c, i, a.Type, part.Reg, part.Class)
			}
			used[part.Reg] = true
			covered = max(covered, part.Offset+part.Size)
		}
		if len(a.Parts) > 0 && covered > passed.Size() {
			t.Fatalf("%v: argument %d (%v): parts cover %d bytes", c, i, a.Type, covered)
		}
	}
	if end != p.StackSize || len(usedInt) != p.IntRegs && c == SysV || len(usedInt) > p.IntRegs || len(usedSSE) > p.SSERegs || copyEnd > p.CopySize {
		t.Fatalf("%v: stack %d of %d, int %d of %d, sse %d of %d, copies %d of %d", c, end, p.StackSize, len(usedInt), p.IntRegs, len(usedSSE), p.SSERegs, copyEnd, p.CopySize)
	}
}
