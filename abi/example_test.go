package abi_test

import (
	"fmt"
	"reflect"

	"github.com/runplug/runplug/abi"
)

// Classify the psABI's kinds of structs: two doubles in SSE registers, a
// double and a long in one SSE and one INTEGER register, three longs in
// memory.
func ExampleClassify() {
	for _, members := range [][]*abi.Type{
		{abi.Float64, abi.Float64},
		{abi.Float64, abi.Int64},
		{abi.Float32, abi.Int32},
		{abi.Int64, abi.Int64, abi.Int64},
	} {
		t, err := abi.StructOf(members...)
		if err != nil {
			fmt.Println(err)
			return
		}
		c := abi.Classify(t)
		fmt.Println(t, c.InMemory, c.Classes)
	}
	// Output:
	// struct { double; double } false [SSE SSE]
	// struct { double; int64_t } false [SSE INTEGER]
	// struct { float; int32_t } false [INTEGER]
	// struct { int64_t; int64_t; int64_t } true []
}

// Plan a call: where each argument of
// double f(long, long, long, long, long, struct { long x, y; }, long, double)
// goes. The struct needs two integer registers when one is left, so it
// goes on the stack, and the last long still takes r9.
func ExampleNewPlan() {
	pair, _ := abi.StructOf(abi.Int64, abi.Int64)
	p, err := abi.NewPlan(abi.Float64, abi.Int64, abi.Int64, abi.Int64, abi.Int64, abi.Int64, pair, abi.Int64, abi.Float64)
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
			if part.Class == abi.Integer {
				fmt.Printf("%d: %s\n", i, abi.IntArgRegNames[part.Reg])
			} else {
				fmt.Printf("%d: %s\n", i, abi.SSEArgRegNames[part.Reg])
			}
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

// Map a Go struct to its C type; a Go string inside is refused, naming
// the field.
func ExampleTypeOf() {
	type Point struct{ X, Y float64 }
	t, err := abi.TypeOf(reflect.TypeFor[Point]())
	fmt.Println(t.Size(), abi.Classify(t).Classes, err)
	type Named struct {
		P    Point
		Name string
	}
	_, err = abi.TypeOf(reflect.TypeFor[Named]())
	fmt.Println(err)
	// Output:
	// 16 [SSE SSE] <nil>
	// abi: Go type abi_test.Named: field Name: a Go string has no C layout (pass a pointer to a NUL-terminated copy)
}

// Read a C declaration: the types a call passes, where printf's variable
// part starts, and which parameter is a string.
func ExampleParseFunc() {
	fd, err := abi.ParseFunc("int printf(const char *fmt, ...)")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(fd.Name, fd.Result, fd.Variadic, fd.Params[0].Type, fd.Params[0].CString)
	fmt.Println(fd.Signature())
	_, err = abi.ParseFunc("double(struct point)")
	fmt.Println(err)
	// Output:
	// printf int32_t true void * true
	// int (const char *, ...)
	// abi: C declaration "double(struct point)": column 8: struct point by value: its layout is not in the declaration (pass a pointer, or build the type with StructOf)
}
