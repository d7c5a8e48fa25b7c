//go:build linux && (amd64 || arm64) && cgo

package pcall_test

import (
	"fmt"

	"github.com/runplug/runplug/internal/pcall"
)

// A Go function in the integer form as the C function
// long add(long a, long b): its entry saves only rdi and rsi, and its
// result goes back in rax. Native code is played here by a protected call
// of the callback's address.
func ExampleNewCallbackInts() {
	add, err := pcall.NewCallbackInts("add", func(a, b, _, _, _, _ uint64) uint64 { return a + b }, 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer add.Free()
	r, err := pcall.Call(add.Addr(), &pcall.Args{Int: [6]uint64{40, 2}})
	fmt.Println(r.Int, err)
	// Output: 42 <nil>
}
