package loader_test

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/runplug/runplug/loader"
)

// Receive a handle through an out-parameter (sqlite3 **ppDb) that the host
// allocates in the library's memory, and read the C strings it returns.
// The same code runs with the library isolated in a child process.
func ExamplePlugin_Alloc() {
	ctx := context.Background()
	l := loader.New(loader.Options{})
	defer l.Close(context.Background())
	p, err := l.Load(context.Background(), "libsqlite3.so.0")
	if err != nil {
		fmt.Println(err)
		return
	}
	open, _ := p.Func("sqlite3_open")     // int sqlite3_open(const char *, sqlite3 **)
	errmsg, _ := p.Func("sqlite3_errmsg") // const char *sqlite3_errmsg(sqlite3 *)
	closeDB, _ := p.Func("sqlite3_close")

	name, err := p.CString(ctx, ":memory:")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Free(ctx, name)
	cell, err := p.Alloc(ctx, 8) // sqlite3 *
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Free(ctx, cell)
	rc, err := open.Call(ctx, uint64(name), uint64(cell))
	var b [8]byte
	if err == nil {
		err = p.ReadMemory(cell, b[:])
	}
	db := binary.LittleEndian.Uint64(b[:])
	fmt.Println("open:", rc, err, db != 0)

	msg, _ := errmsg.Call(ctx, db)
	s, err := p.ReadString(uintptr(msg), -1)
	fmt.Printf("errmsg: %q %v\n", s, err)
	rc, err = closeDB.Call(ctx, db)
	fmt.Println("close:", rc, err)
	// Output:
	// open: 0 <nil> true
	// errmsg: "not an error" <nil>
	// close: 0 <nil>
}

// Copy a string into the plugin's memory, where C code may keep it, and
// read it back.
func ExamplePlugin_CString() {
	ctx := context.Background()
	l := loader.New(loader.Options{})
	defer l.Close(context.Background())
	libc, err := l.Load(context.Background(), "libc.so.6")
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := libc.CString(ctx, "kept by C")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer libc.Free(ctx, s)
	head, err := libc.ReadString(s, 4)
	fmt.Printf("%q %v\n", head, err)
	b := make([]byte, 10)
	err = libc.ReadMemory(s, b)
	fmt.Printf("%q %v\n", b, err)
	// Output:
	// "kept" <nil>
	// "kept by C\x00" <nil>
}
