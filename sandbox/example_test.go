package sandbox_test

import (
	"errors"
	"fmt"

	"github.com/runplug/runplug/sandbox"
)

// Call a C function the host already has: ldexp from libm, with one
// floating-point and one integer argument.
func ExampleCall() {
	libm, err := sandbox.OpenHostLibrary("libm.so.6")
	if err != nil {
		panic(err)
	}
	ldexp, _ := libm.Lookup("ldexp", "")
	r, err := sandbox.Call(ldexp, &sandbox.Args{Int: [6]uint64{10}, Float: [8]float64{0.75}})
	fmt.Println(r.Float, err)
	// Output: 768 <nil>
}

// A call through a NULL function pointer faults; the host carries on.
func ExampleFaultError() {
	_, err := sandbox.Call(0, nil)
	var fe *sandbox.FaultError
	if errors.As(err, &fe) {
		fmt.Println(sandbox.SignalName(fe.Signal), sandbox.CodeName(fe.Signal, fe.Code), fe.Where)
	}
	// Output: SIGSEGV SEGV_MAPERR not mapped
}

// Calls through a gate, which Close waits for: here labs from libc, whose
// one argument is an integer, read in place by CallInts.
func ExampleGate_CallInts() {
	libc, err := sandbox.OpenHostLibrary("libc.so.6")
	if err != nil {
		panic(err)
	}
	labs, _ := libc.Lookup("labs", "")
	g := sandbox.NewGate()
	r, err := g.CallInts(labs, []uint64{uint64(1<<64 - 42)}) // labs(-42)
	fmt.Println(r.Int, err)
	fmt.Println(g.Close())
	_, err = g.CallInts(labs, []uint64{7})
	fmt.Println(err)
	// Output:
	// 42 <nil>
	// <nil>
	// sandbox: gate closed
}
