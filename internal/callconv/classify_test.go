package callconv

import (
	"reflect"
	"slices"
	"testing"
)

func st(ts ...*Type) *Type { return MustStructOf(ts...) }

func un(ts ...*Type) *Type {
	u, err := UnionOf(ts...)
	if err != nil {
		panic(err)
	}
	return u
}

func arr(e *Type, n uint64) *Type {
	a, err := ArrayOf(e, n)
	if err != nil {
		panic(err)
	}
	return a
}

// TestClassify checks the classification of the psABI's examples (3.2.3)
// and the cases gcc's classify_argument distinguishes.
func TestClassify(t *testing.T) {
	packed, err := StructOfFields(Field{Type: Int8, Offset: 0}, Field{Type: Int32, Offset: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		t    *Type
		mem  bool
		cls  []Class
	}{
		{"int", Int32, false, []Class{Integer}},
		{"pointer", Pointer, false, []Class{Integer}},
		{"bool", Bool, false, []Class{Integer}},
		{"float", Float32, false, []Class{SSE}},
		{"double", Float64, false, []Class{SSE}},
		{"long double", LongDouble, false, []Class{X87, X87Up}},
		{"__int128", Int128, false, []Class{Integer, Integer}},
		{"struct{long,long}", st(Int64, Int64), false, []Class{Integer, Integer}},
		{"struct{double,double}", st(Float64, Float64), false, []Class{SSE, SSE}},
		{"struct{double,long}", st(Float64, Int64), false, []Class{SSE, Integer}},
		{"struct{int,float,double}", st(Int32, Float32, Float64), false, []Class{Integer, SSE}},
		{"struct{float,float,float}", st(Float32, Float32, Float32), false, []Class{SSE, SSE}},
		{"struct{float,int}", st(Float32, Int32), false, []Class{Integer}},
		{"struct{char[3]}", st(arr(Int8, 3)), false, []Class{Integer}},
		{"struct{float[4]}", st(arr(Float32, 4)), false, []Class{SSE, SSE}},
		{"struct{struct{float,float},double}", st(st(Float32, Float32), Float64), false, []Class{SSE, SSE}},
		{"union{float,int}", un(Float32, Int32), false, []Class{Integer}},
		{"union{double,float}", un(Float64, Float32), false, []Class{SSE}},
		{"struct{long,long,long}", st(Int64, Int64, Int64), true, nil},
		{"struct{double,double,double}", st(Float64, Float64, Float64), true, nil},
		{"struct{char,int}packed", packed, true, nil},
		{"struct{long double}", st(LongDouble), false, []Class{X87, X87Up}},
		{"struct{long double,long}", st(LongDouble, Int64), true, nil},
		{"union{long double,long}", un(LongDouble, Int64), true, nil},
		{"struct{char[65]}", st(arr(Int8, 65)), true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Classify(tc.t)
			if c.InMemory != tc.mem || !slices.Equal(c.Classes, tc.cls) {
				t.Errorf("Classify(%v) = %v %v, want %v %v", tc.t, c.InMemory, c.Classes, tc.mem, tc.cls)
			}
		})
	}
}

func TestLayout(t *testing.T) {
	for _, tc := range []struct {
		t           *Type
		size, align uint64
	}{
		{st(Int8, Int64), 16, 8},
		{st(Int8, Int16, Int8), 6, 2},
		{st(Float64, Int32), 16, 8},
		{st(Int32, Int128), 32, 16},
		{un(Int8, arr(Int16, 3)), 6, 2},
		{arr(st(Int8, Int32), 3), 24, 4},
	} {
		if tc.t.Size() != tc.size || tc.t.Align() != tc.align {
			t.Errorf("%v: size %d align %d, want %d %d", tc.t, tc.t.Size(), tc.t.Align(), tc.size, tc.align)
		}
	}
	if _, err := StructOfFields(Field{Type: Int64, Offset: 0}, Field{Type: Int32, Offset: 4}); err == nil {
		t.Error("overlapping members accepted")
	}
	if _, err := StructOf(Int32, Void); err == nil {
		t.Error("void member accepted")
	}
}

type loc struct {
	stack bool
	off   uint64
	regs  []string
}

func locOf(c Conv, a ArgLoc) loc {
	l := loc{stack: a.OnStack, off: a.Offset}
	for _, p := range a.Parts {
		l.regs = append(l.regs, c.RegName(p.Class, p.Reg))
	}
	return l
}

// plannedLocs plans ret (args) under c (variadic: nfixed+1, or 0) and
// returns the plan and each argument's location.
func plannedLocs(t *testing.T, c Conv, ret *Type, args []*Type, variadic int) (*Plan, []loc) {
	t.Helper()
	var p *Plan
	var err error
	if variadic > 0 {
		p, err = c.NewVariadicPlan(ret, variadic-1, args...)
	} else {
		p, err = c.NewPlan(ret, args...)
	}
	if err != nil {
		t.Fatal(err)
	}
	var got []loc
	for _, a := range p.Args {
		got = append(got, locOf(c, a))
	}
	return p, got
}

func r(regs ...string) loc          { return loc{regs: regs} }
func stk(off uint64) loc            { return loc{stack: true, off: off} }
func ints(n int) []*Type            { return slices.Repeat([]*Type{Int64}, n) }
func cat(ts ...[]*Type) (o []*Type) { return slices.Concat(ts...) }

// TestPlan checks argument placement: the register sequence, spilling in
// order, a whole aggregate to the stack when its eightbytes do not all fit
// (later arguments still take registers), the hidden result pointer, and
// the stack alignment of 16-byte-aligned types.
func TestPlan(t *testing.T) {
	s16 := st(Int64, Int64)
	s24 := st(Int64, Int64, Int64)
	dl := st(Float64, Int64)
	for _, tc := range []struct {
		name     string
		ret      *Type
		args     []*Type
		want     []loc
		sret     bool
		nInt     int
		nSSE     int
		stack    uint64
		variadic int // nfixed+1, 0 when not variadic
	}{
		{"ints", Int64, ints(3), []loc{r("rdi"), r("rsi"), r("rdx")}, false, 3, 0, 0, 0},
		{"8 ints", Int64, ints(8), []loc{r("rdi"), r("rsi"), r("rdx"), r("rcx"), r("r8"), r("r9"), stk(0), stk(8)}, false, 6, 0, 16, 0},
		{"mixed", Float64, []*Type{Float64, Int32, Float32, Pointer}, []loc{r("xmm0"), r("rdi"), r("xmm1"), r("rsi")}, false, 2, 2, 0, 0},
		{"9 doubles", Float64, slices.Repeat([]*Type{Float64}, 9), []loc{r("xmm0"), r("xmm1"), r("xmm2"), r("xmm3"), r("xmm4"), r("xmm5"), r("xmm6"), r("xmm7"), stk(0)}, false, 0, 8, 8, 0},
		{"struct16", s16, []*Type{s16}, []loc{r("rdi", "rsi")}, false, 2, 0, 0, 0},
		{"struct no room", Void, cat(ints(5), []*Type{s16, Int64}), []loc{r("rdi"), r("rsi"), r("rdx"), r("rcx"), r("r8"), stk(0), r("r9")}, false, 6, 0, 16, 0},
		{"sret", s24, []*Type{Int32, s24, Float64}, []loc{r("rsi"), stk(0), r("xmm0")}, true, 2, 1, 24, 0},
		{"mixed struct", dl, []*Type{dl, dl}, []loc{r("xmm0", "rdi"), r("xmm1", "rsi")}, false, 2, 2, 0, 0},
		{"int128 aligned", Int128, cat(ints(6), []*Type{Int64, Int128}), []loc{r("rdi"), r("rsi"), r("rdx"), r("rcx"), r("r8"), r("r9"), stk(0), stk(16)}, false, 6, 0, 32, 0},
		{"int128 not split", Void, cat(ints(5), []*Type{Int128}), []loc{r("rdi"), r("rsi"), r("rdx"), r("rcx"), r("r8"), stk(0)}, false, 5, 0, 16, 0},
		{"long double arg", Float64, []*Type{Int32, LongDouble, Float64}, []loc{r("rdi"), stk(0), r("xmm0")}, false, 1, 1, 16, 0},
		{"variadic", Int32, []*Type{Pointer, Float32, Int8, Float64}, []loc{r("rdi"), r("xmm0"), r("rsi"), r("xmm1")}, false, 2, 2, 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, got := plannedLocs(t, SysV, tc.ret, tc.args, tc.variadic)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("locations %v, want %v", got, tc.want)
			}
			if p.Result.InMemory != tc.sret || p.IntRegs != tc.nInt || p.SSERegs != tc.nSSE || p.StackSize != tc.stack {
				t.Errorf("sret %v int %d sse %d stack %d, want %v %d %d %d", p.Result.InMemory, p.IntRegs, p.SSERegs, p.StackSize, tc.sret, tc.nInt, tc.nSSE, tc.stack)
			}
		})
	}
}

func TestPlanVariadicPromotes(t *testing.T) {
	for _, c := range []Conv{SysV, AAPCS64} {
		p, err := c.NewVariadicPlan(Int32, 1, Pointer, Float32, Uint16, Bool, Int64)
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []*Type{Pointer, Float64, Int32, Int32, Int64} {
			if p.Args[i].Type != want {
				t.Errorf("%v: argument %d passed as %v, want %v", c, i, p.Args[i].Type, want)
			}
		}
		if !p.Variadic || p.NFixed != 1 || p.Conv != c {
			t.Errorf("%v: Variadic %v NFixed %d Conv %v", c, p.Variadic, p.NFixed, p.Conv)
		}
	}
}

func TestPlanResult(t *testing.T) {
	for _, tc := range []struct {
		ret   *Type
		parts []Part
	}{
		{Int32, []Part{{Integer, 0, 0, 4}}},
		{Float32, []Part{{SSE, 0, 0, 4}}},
		{st(Float64, Int64), []Part{{SSE, 0, 0, 8}, {Integer, 0, 8, 8}}},
		{st(Int64, Float64), []Part{{Integer, 0, 0, 8}, {SSE, 0, 8, 8}}},
		{st(Int64, Int32), []Part{{Integer, 0, 0, 8}, {Integer, 1, 8, 8}}},
		{st(Int64, Int8, Int8), []Part{{Integer, 0, 0, 8}, {Integer, 1, 8, 8}}},
		{st(Int32, Int32, Int32), []Part{{Integer, 0, 0, 8}, {Integer, 1, 8, 4}}},
		{st(Float32, Float32, Float32), []Part{{SSE, 0, 0, 8}, {SSE, 1, 8, 4}}},
		{Int128, []Part{{Integer, 0, 0, 8}, {Integer, 1, 8, 8}}},
	} {
		p, err := SysV.NewPlan(tc.ret)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(p.Result.Parts, tc.parts) {
			t.Errorf("%v: result parts %v, want %v", tc.ret, p.Result.Parts, tc.parts)
		}
	}
	for _, x := range []*Type{LongDouble, st(LongDouble)} {
		if p, err := SysV.NewPlan(x); err != nil || !p.Result.X87 || len(p.Result.Parts) != 0 {
			t.Errorf("%v result: %+v, %v; want st0", x, p, err)
		}
	}
	if _, err := SysV.NewPlan(Void, Int32, Void); err == nil {
		t.Error("void argument accepted")
	}
}
