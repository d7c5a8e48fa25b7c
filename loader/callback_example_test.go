package loader_test

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/runplug/runplug/internal/dlsvc"
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

	libc, err := dlsvc.OpenHostLibrary("libc.so.6")
	if err != nil {
		fmt.Println(err)
		return
	}
	qsort, _ := libc.Lookup("qsort", "")

	xs := []int32{42, -7, 19, 0, 5}
	var pins loader.Pins // xs stays in place and alive while qsort uses it
	defer pins.Unpin()
	base := loader.PinSlice(&pins, xs)
	// void qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
	_, err = pcall.Call(qsort, &pcall.Args{Int: [6]uint64{
		uint64(uintptr(base)), uint64(len(xs)), 4, uint64(cmp.Ptr())}})
	fmt.Println(xs, err)
	// Output: [-7 0 5 19 42] <nil>
}

// Pass a Go byte slice to a C function for the duration of the call: the
// crc32 of the system's libz, loaded by runplug.
func ExamplePinSlice() {
	ctx := context.Background()
	l := loader.New(loader.Options{})
	defer l.Close(ctx)
	p, err := l.Load(ctx, "/lib/x86_64-linux-gnu/libz.so.1")
	if err != nil {
		fmt.Println(err)
		return
	}
	// uLong crc32(uLong crc, const Bytef *buf, uInt len)
	f, err := p.Func("crc32")
	if err != nil {
		fmt.Println(err)
		return
	}
	crc32, err := loader.Bind3[uint64, unsafe.Pointer, uint32, uint64](f)
	if err != nil {
		fmt.Println(err)
		return
	}
	data := []byte("hello, runplug")
	var pins loader.Pins
	sum, err := crc32(ctx, 0, loader.PinSlice(&pins, data), uint32(len(data)))
	pins.Unpin() // the call returned: libz keeps no pointer to data
	fmt.Printf("%08x %v\n", sum, err)
	// Output: 1a5c9733 <nil>
}

// Receive a handle through an out-parameter (sqlite3 **ppDb) in a cell of
// C memory, and read C strings the library returns.
func ExampleNewCell() {
	ctx := context.Background()
	l := loader.New(loader.Options{})
	defer l.Close(ctx)
	p, err := l.Load(ctx, "/lib/x86_64-linux-gnu/libsqlite3.so.0")
	if err != nil {
		fmt.Println(err)
		return
	}
	f, _ := p.Func("sqlite3_open")
	open, _ := loader.Bind2[string, unsafe.Pointer, int32](f) // int sqlite3_open(const char *, sqlite3 **)
	f, _ = p.Func("sqlite3_errmsg")
	errmsg, _ := loader.Bind1[uintptr, uintptr](f) // const char *sqlite3_errmsg(sqlite3 *)
	f, _ = p.Func("sqlite3_close")
	closeDB, _ := loader.Bind1[uintptr, int32](f)

	db, err := loader.NewCell[uintptr]()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Free()
	rc, err := open(ctx, ":memory:", db.Ptr())
	fmt.Println("open:", rc, err, db.Get() != 0)

	msg, _ := errmsg(ctx, db.Get())
	s, err := loader.GoString(msg)
	fmt.Printf("errmsg: %q %v\n", s, err)
	rc, err = closeDB(ctx, db.Get())
	fmt.Println("close:", rc, err)
	// Output:
	// open: 0 <nil> true
	// errmsg: "not an error" <nil>
	// close: 0 <nil>
}

// Copy a string into C memory from the host's allocator, and back.
func ExampleCString() {
	p, err := loader.CString("kept by C")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer loader.Free(p)
	s, err := loader.GoStringN(p, 4)
	fmt.Printf("%q %v\n", s, err)
	b, err := loader.GoBytes(p, 10)
	fmt.Printf("%q %v\n", b, err)
	// Output:
	// "kept" <nil>
	// "kept by C\x00" <nil>
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
	format, err := loader.CString("%d: %g")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer loader.Free(format)
	r, err := pcall.Call(cb.Ptr(), &pcall.Args{Int: [6]uint64{uint64(uintptr(format)), 3}, Float: [8]float64{2.5}})
	fmt.Println(r.Int, err)
	// Output:
	// %d: %g -> 3 2.5
	// 3 <nil>
}
