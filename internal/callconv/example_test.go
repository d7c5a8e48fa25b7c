package callconv_test

import (
	"fmt"

	"github.com/runplug/runplug/internal/callconv"
)

// Classify the psABI's kinds of structs: two doubles in SSE registers, a
// double and a long in one SSE and one INTEGER register, three longs in
// memory.
func ExampleClassify() {
	for _, members := range [][]*callconv.Type{
		{callconv.Float64, callconv.Float64},
		{callconv.Float64, callconv.Int64},
		{callconv.Float32, callconv.Int32},
		{callconv.Int64, callconv.Int64, callconv.Int64},
	} {
		t, err := callconv.StructOf(members...)
		if err != nil {
			fmt.Println(err)
			return
		}
		c := callconv.Classify(t)
		fmt.Println(t, c.InMemory, c.Classes)
	}
	// Output:
	// struct { double; double } false [SSE SSE]
	// struct { double; int64_t } false [SSE INTEGER]
	// struct { float; int32_t } false [INTEGER]
	// struct { int64_t; int64_t; int64_t } true []
}

// Plan a call on x86-64: where each argument of
// double f(long, long, long, long, long, struct { long x, y; }, long, double)
// goes. The struct needs two integer registers when one is left, so it
// goes on the stack, and the last long still takes r9.
func ExampleConv_NewPlan() {
	pair, _ := callconv.StructOf(callconv.Int64, callconv.Int64)
	p, err := callconv.SysV.NewPlan(callconv.Float64, callconv.Int64, callconv.Int64, callconv.Int64, callconv.Int64, callconv.Int64, pair, callconv.Int64, callconv.Float64)
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, a := range p.Args {
		if a.OnStack {
			fmt.Printf("%d: stack+%d\n", i, a.Offset)
			continue
		}
		for _, part := range a.Parts {
			fmt.Printf("%d: %s\n", i, callconv.SysV.RegName(part.Class, part.Reg))
		}
	}
	// Output:
	// 0: rdi
	// 1: rsi
	// 2: rdx
	// 3: rcx
	// 4: r8
	// 5: stack+0
	// 6: r9
	// 7: xmm0
}
