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
