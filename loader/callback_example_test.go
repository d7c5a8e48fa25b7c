//go:build amd64

// These examples need callbacks into Go or the general call, not yet
// ported to linux/arm64 (issue 24), and an example cannot skip: amd64
// only until they are.

package loader_test

import (
	"context"
	"fmt"
	"runtime"
	"unsafe"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/loader"
)

// Sort Go memory with the C library's qsort and a Go comparator: the
// comparator becomes a C function pointer that qsort calls back.
func ExampleNewCallback() {
	cmp, err := loader.NewCallback(func(a, b unsafe.Pointer) int32 {
		x, y := *(*int32)(a), *(*int32)(b)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cmp.Release()

	l := loader.New(loader.Options{})
	defer l.Close(context.Background())
	libc, err := l.Load(context.Background(), "libc.so.6") // the host's own C library
	if err != nil {
		fmt.Println(err)
		return
	}
	qsort, err := libc.Func("qsort")
	if err != nil {
		fmt.Println(err)
		return
	}

	xs := []int32{42, -7, 19, 0, 5}
	var pin runtime.Pinner // xs stays in place and alive while qsort uses it
	pin.Pin(&xs[0])
	defer pin.Unpin()
	// void qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
	_, err = qsort.Call(context.Background(), uint64(uintptr(unsafe.Pointer(&xs[0]))), uint64(len(xs)), 4, uint64(cmp.Ptr()))
	fmt.Println(xs, err)
	// Output: [-7 0 5 19 42] <nil>
}

// A Go callback of the variadic C type int (*)(const char *fmt, ...):
// the Go function takes a *loader.VarArgs last and reads the variable
// part in order, as C's va_arg does. Here native code is played by a
// protected call of the callback's address with the registers a C caller
// of log_value("%d: %g", 3, 2.5) would set.
func ExampleVarArgs() {
	cb, err := loader.NewCallback(func(format string, va *loader.VarArgs) int32 {
		n := int32(va.Int64()) // an int (char and short are promoted to it)
		x := va.Float64()      // a double (float is promoted to it)
		fmt.Println(format, "->", n, x)
		return n
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cb.Release()
	format := []byte("%d: %g\x00")
	var pin runtime.Pinner
	pin.Pin(&format[0])
	defer pin.Unpin()
	r, err := pcall.Call(cb.Ptr(), &pcall.Args{Int: [6]uint64{uint64(uintptr(unsafe.Pointer(&format[0]))), 3}, Float: [8]float64{2.5}})
	fmt.Println(r.Int, err)
	// Output:
	// %d: %g -> 3 2.5
	// 3 <nil>
}
