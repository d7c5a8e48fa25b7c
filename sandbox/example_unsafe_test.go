//go:build linux && amd64 && cgo

package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/sandbox"
)

// code maps machine code read-only and executable and returns its address:
// here the stand-in for a function pointer that a C library hands the host.
func code(b ...byte) uintptr {
	page, err := unix.Mmap(-1, 0, unix.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		panic(err)
	}
	copy(page, b)
	if err := unix.Mprotect(page, unix.PROT_READ|unix.PROT_EXEC); err != nil {
		panic(err)
	}
	return uintptr(unsafe.Pointer(&page[0]))
}

// Call a native function: add(a, b), as lea rax, [rdi+rsi]; ret.
func ExampleCall() {
	add := code(0x48, 0x8d, 0x04, 0x37, 0xc3)
	r, err := sandbox.Call(context.Background(), add, 40, 2)
	fmt.Println(r, err)
	// Output: 42 <nil>
}

// A call through a NULL function pointer faults; the host carries on.
func ExampleFaultError() {
	_, err := sandbox.Call(context.Background(), 0)
	var fe *sandbox.FaultError
	if errors.As(err, &fe) {
		fmt.Println(fe.Signal, fe.Where)
	}
	// Output: segmentation fault not mapped
}

// A function that never returns (jmp .) is interrupted at the context's
// deadline.
func ExampleDeadlineError() {
	spin := code(0xeb, 0xfe)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := sandbox.Call(ctx, spin)
	fmt.Println(errors.Is(err, sandbox.ErrDeadline), errors.Is(err, context.DeadlineExceeded))
	// Output: true true
}
