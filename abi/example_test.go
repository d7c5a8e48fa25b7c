package abi_test

import (
	"fmt"

	"github.com/runplug/runplug/abi"
)

// Describe C's struct { float x, y, z; } and an array of four of them.
func ExampleStructOf() {
	vec3, err := abi.StructOf(abi.Float32, abi.Float32, abi.Float32)
	if err != nil {
		fmt.Println(err)
		return
	}
	quad, err := abi.ArrayOf(vec3, 4)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(vec3, vec3.Size(), vec3.Align())
	fmt.Println(quad, quad.Size())
	// Output:
	// struct { float; float; float } 12 4
	// struct { float; float; float }[4] 48
}

// Map a Go struct to its C type; a Go string inside is refused, naming
// the field.
func ExampleTypeOf() {
	type Point struct{ X, Y float64 }
	t, err := abi.TypeOf(Point{})
	fmt.Println(t, t.Size(), err)
	type Named struct {
		P    Point
		Name string
	}
	_, err = abi.TypeOf(Named{})
	fmt.Println(err)
	// Output:
	// abi_test.Point 16 <nil>
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
