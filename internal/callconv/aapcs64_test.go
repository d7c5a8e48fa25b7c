package callconv

import (
	"reflect"
	"slices"
	"testing"
)

// TestPlanAAPCS64 checks AAPCS64 argument placement against the standard's
// rules (6.8, stages B and C) as gcc applies them for Linux: eight
// registers of each kind, HFAs member by member in vector registers,
// composites of up to 16 bytes in general registers, larger ones by
// reference, 16-byte alignment to an even register and on the stack, and a
// kind of register closed to later arguments once one went to the stack.
func TestPlanAAPCS64(t *testing.T) {
	f3 := st(Float32, Float32, Float32)
	d3 := st(Float64, Float64, Float64)
	d4 := st(Float64, Float64, Float64, Float64)
	l3 := st(Int64, Int64, Int64)
	s16 := st(Int64, Int64)
	doubles := func(n int) []*Type { return slices.Repeat([]*Type{Float64}, n) }
	quads := func(n int) []*Type { return slices.Repeat([]*Type{LongDouble}, n) }
	q2 := st(arr(LongDouble, 2))
	for _, tc := range []struct {
		name     string
		ret      *Type
		args     []*Type
		want     []loc
		sret     bool
		stack    uint64
		variadic int // nfixed+1, 0 when not variadic
	}{
		{"10 ints", Int64, ints(10), []loc{r("x0"), r("x1"), r("x2"), r("x3"), r("x4"), r("x5"), r("x6"), r("x7"), stk(0), stk(8)}, false, 16, 0},
		{"mixed", Float64, []*Type{Float64, Int32, Float32, Pointer}, []loc{r("v0"), r("x0"), r("v1"), r("x1")}, false, 0, 0},
		{"hfa floats", Void, []*Type{f3, Float32}, []loc{r("v0", "v1", "v2"), r("v3")}, false, 0, 0},
		{"hfa doubles", Void, []*Type{d4, d3}, []loc{r("v0", "v1", "v2", "v3"), r("v4", "v5", "v6")}, false, 0, 0},
		{"hfa no room closes v", Void, cat(doubles(6), []*Type{d3, Float64}), []loc{r("v0"), r("v1"), r("v2"), r("v3"), r("v4"), r("v5"), stk(0), stk(24)}, false, 32, 0},
		{"floats on the stack", Void, cat(doubles(8), []*Type{Float32, Float32}), []loc{r("v0"), r("v1"), r("v2"), r("v3"), r("v4"), r("v5"), r("v6"), r("v7"), stk(0), stk(8)}, false, 16, 0},
		{"5 floats by reference", Void, []*Type{st(Float32, Float32, Float32, Float32, Float32)}, []loc{r("x0")}, false, 0, 0},
		{"3 longs by reference", Void, []*Type{Int32, l3, l3}, []loc{r("x0"), r("x1"), r("x2")}, false, 0, 0},
		{"small composites", Void, []*Type{st(Int32, Float32), s16, st(Float32, Float64)}, []loc{r("x0"), r("x1", "x2"), r("x3", "x4")}, false, 0, 0},
		{"struct no room closes x", Void, cat(ints(7), []*Type{s16, Int64}), []loc{r("x0"), r("x1"), r("x2"), r("x3"), r("x4"), r("x5"), r("x6"), stk(0), stk(16)}, false, 24, 0},
		{"int128 even register", Int128, []*Type{Int32, Int128, Int32}, []loc{r("x0"), r("x2", "x3"), r("x4")}, false, 0, 0},
		{"int128 stack aligned", Void, cat(ints(9), []*Type{Int128}), []loc{r("x0"), r("x1"), r("x2"), r("x3"), r("x4"), r("x5"), r("x6"), r("x7"), stk(0), stk(16)}, false, 32, 0},
		{"union hfa", Void, []*Type{un(Float32, arr(Float32, 2))}, []loc{r("v0", "v1")}, false, 0, 0},
		{"sret in x8", l3, []*Type{Int32, Float64}, []loc{r("x0"), r("v0")}, true, 0, 0},
		{"empty struct", Void, []*Type{st(), Int32}, []loc{{}, r("x0")}, false, 0, 0},
		{"variadic as named", Int32, []*Type{Pointer, Float32, Int8, d3}, []loc{r("x0"), r("v0"), r("x1"), r("v1", "v2", "v3")}, false, 0, 2},
		// A long double is IEEE binary128 in a whole q register, one of
		// the eight; on the stack a 16-byte aligned 16-byte slot
		// (aarch64-linux-gnu-gcc -O2 -S, gcc 12).
		{"long double in q", LongDouble, []*Type{Int32, LongDouble, Float64, Float32}, []loc{r("x0"), r("v0"), r("v1"), r("v2")}, false, 0, 0},
		{"long doubles spill aligned", Void, cat(quads(8), []*Type{Float32, LongDouble}), []loc{r("v0"), r("v1"), r("v2"), r("v3"), r("v4"), r("v5"), r("v6"), r("v7"), stk(0), stk(16)}, false, 32, 0},
		{"long double after an int on the stack", Void, cat(ints(8), []*Type{Int32, LongDouble}), []loc{r("x0"), r("x1"), r("x2"), r("x3"), r("x4"), r("x5"), r("x6"), r("x7"), stk(0), r("v0")}, false, 8, 0},
		{"long double hfa", Void, []*Type{q2, st(arr(LongDouble, 4)), Float64}, []loc{r("v0", "v1"), r("v2", "v3", "v4", "v5"), r("v6")}, false, 0, 0},
		{"long double hfa no room closes v", Void, cat(doubles(7), []*Type{q2, Float64}), []loc{r("v0"), r("v1"), r("v2"), r("v3"), r("v4"), r("v5"), r("v6"), stk(0), stk(32)}, false, 40, 0},
		{"5 long doubles by reference", Void, []*Type{st(arr(LongDouble, 5)), LongDouble}, []loc{r("x0"), r("v0")}, false, 0, 0},
		{"variadic long double as named", Int32, []*Type{Pointer, LongDouble, Float64}, []loc{r("x0"), r("v0"), r("v1")}, false, 0, 2},
		{"variadic on the stack", Int32, cat(ints(8), []*Type{Int8, Float64}), []loc{r("x0"), r("x1"), r("x2"), r("x3"), r("x4"), r("x5"), r("x6"), r("x7"), stk(0), r("v0")}, false, 8, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, got := plannedLocs(t, AAPCS64, tc.ret, tc.args, tc.variadic)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("locations %v, want %v", got, tc.want)
			}
			if p.Result.InMemory != tc.sret || p.StackSize != tc.stack {
				t.Errorf("sret %v stack %d, want %v %d", p.Result.InMemory, p.StackSize, tc.sret, tc.stack)
			}
		})
	}
}

// TestPlanAAPCS64ByRef checks the caller's copies of large composites:
// each 16-byte aligned in the copy area, the pointer in a register or,
// when none is left, in an 8-byte stack slot.
func TestPlanAAPCS64ByRef(t *testing.T) {
	l3 := st(Int64, Int64, Int64)
	p, err := AAPCS64.NewPlan(Void, append(ints(7), l3, st(arr(Int8, 40)), l3)...)
	if err != nil {
		t.Fatal(err)
	}
	type ref struct {
		byRef     bool
		copyOff   uint64
		stack     bool
		stackOff  uint64
		partsSize uint64
	}
	var got []ref
	for _, a := range p.Args[7:] {
		rf := ref{byRef: a.ByRef, copyOff: a.CopyOffset, stack: a.OnStack, stackOff: a.Offset}
		for _, part := range a.Parts {
			rf.partsSize += part.Size
		}
		got = append(got, rf)
	}
	want := []ref{{true, 0, false, 0, 8}, {true, 32, true, 0, 0}, {true, 80, true, 8, 0}}
	if !reflect.DeepEqual(got, want) || p.CopySize != 112 || p.StackSize != 16 {
		t.Errorf("by reference %+v, copies %d, stack %d; want %+v, 112, 16", got, p.CopySize, p.StackSize, want)
	}
}

func TestPlanAAPCS64Result(t *testing.T) {
	for _, tc := range []struct {
		ret   *Type
		parts []Part
		mem   bool
	}{
		{Int32, []Part{{Integer, 0, 0, 4}}, false},
		{Float32, []Part{{SSE, 0, 0, 4}}, false},
		{Int128, []Part{{Integer, 0, 0, 8}, {Integer, 1, 8, 8}}, false},
		{st(Int64, Int32), []Part{{Integer, 0, 0, 8}, {Integer, 1, 8, 8}}, false},
		{st(Int32, Int32, Int32), []Part{{Integer, 0, 0, 8}, {Integer, 1, 8, 4}}, false},
		{st(Float64, Int64), []Part{{Integer, 0, 0, 8}, {Integer, 1, 8, 8}}, false},
		{st(Float32, Float32, Float32), []Part{{SSE, 0, 0, 4}, {SSE, 1, 4, 4}, {SSE, 2, 8, 4}}, false},
		{st(arr(Float64, 2), Float64, Float64), []Part{{SSE, 0, 0, 8}, {SSE, 1, 8, 8}, {SSE, 2, 16, 8}, {SSE, 3, 24, 8}}, false},
		{LongDouble, []Part{{SSE, 0, 0, 16}}, false},
		{st(arr(LongDouble, 4)), []Part{{SSE, 0, 0, 16}, {SSE, 1, 16, 16}, {SSE, 2, 32, 16}, {SSE, 3, 48, 16}}, false},
		{st(LongDouble, Int64), nil, true},
		{st(Int64, Int64, Int64), nil, true},
		{st(arr(Float64, 5)), nil, true},
		{st(arr(LongDouble, 5)), nil, true},
	} {
		p, err := AAPCS64.NewPlan(tc.ret)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(p.Result.Parts, tc.parts) || p.Result.InMemory != tc.mem {
			t.Errorf("%v: result parts %v in memory %v, want %v %v", tc.ret, p.Result.Parts, p.Result.InMemory, tc.parts, tc.mem)
		}
	}
}

// TestHFA checks which aggregates are homogeneous floating-point
// aggregates (AAPCS64 5.9.5.1, and gcc's aapcs_vfp_sub_candidate).
func TestHFA(t *testing.T) {
	for _, tc := range []struct {
		t    *Type
		base *Type
		n    uint64
	}{
		{st(Float32), Float32, 1},
		{st(Float64, Float64, Float64, Float64), Float64, 4},
		{st(st(Float32, Float32), arr(Float32, 2)), Float32, 4},
		{un(Float64, st(Float64, Float64)), Float64, 2},
		{st(Float32, Float64), nil, 0},                  // mixed
		{st(Float32, Int32), nil, 0},                    // an integer member
		{st(arr(Float32, 5)), nil, 0},                   // five members
		{un(Float32, Float64), nil, 0},                  // mixed in a union
		{un(Float32, arr(Int8, 8)), nil, 0},             // an integer in a union
		{st(arr(Float64, 0), Float64), Float64, 1},      // an empty array adds nothing
		{un(Float32, st(Float32, Float32)), Float32, 2}, // the larger member counts
		{st(LongDouble, LongDouble), LongDouble, 2},
		{un(LongDouble, st(LongDouble)), LongDouble, 1},
		{un(LongDouble, Float64), nil, 0}, // mixed
	} {
		base, n, ok := hfa(tc.t)
		if ok != (tc.base != nil) || base != tc.base || n != tc.n {
			t.Errorf("hfa(%v) = %v, %d, %v; want %v, %d", tc.t, base, n, ok, tc.base, tc.n)
		}
	}
}

// TestPlanAAPCS64LongDouble checks the long double cases the planner
// once refused: each part a whole q register (16 bytes), and a long double
// inside a composite that is not an HFA plain bytes of it.
func TestPlanAAPCS64LongDouble(t *testing.T) {
	p, err := AAPCS64.NewPlan(Void, LongDouble, st(LongDouble, LongDouble))
	if err != nil {
		t.Fatal(err)
	}
	var parts []Part
	for _, a := range p.Args {
		parts = append(parts, a.Parts...)
	}
	want := []Part{{SSE, 0, 0, 16}, {SSE, 1, 0, 16}, {SSE, 2, 16, 16}}
	if !reflect.DeepEqual(parts, want) || p.SSERegs != 3 || p.RegistersOnly() {
		t.Errorf("parts %v, %d vector registers, registers only %v; want %v, 3, false", parts, p.SSERegs, p.RegistersOnly(), want)
	}
	if p, err := AAPCS64.NewPlan(Void, st(LongDouble, Int64)); err != nil || !p.Args[0].ByRef {
		t.Errorf("struct { long double; long }: %+v, %v; want by reference", p, err)
	}
	if p, err := AAPCS64.NewPlan(LongDouble, Float64); err != nil || p.RegistersOnly() {
		t.Errorf("long double (double): %v, registers only; want a plan that is not", err)
	}
	if _, err := AAPCS64.NewPlan(Void, Int32, Void); err == nil {
		t.Error("void argument accepted")
	}
}
