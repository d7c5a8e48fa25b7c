package loader

import (
	"errors"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestNativeReads(t *testing.T) {
	p, err := CString("hello\x01world")
	if err != nil {
		t.Fatal(err)
	}
	defer Free(p)
	tests := []struct {
		name string
		get  func() (string, error)
		want string
	}{
		{"GoString", func() (string, error) { return GoString(p) }, "hello\x01world"},
		{"GoString uintptr", func() (string, error) { return GoString(uintptr(p)) }, "hello\x01world"},
		{"GoString NULL", func() (string, error) { return GoString(uintptr(0)) }, ""},
		{"GoStringN short", func() (string, error) { return GoStringN(p, 3) }, "hel"},
		{"GoStringN past NUL", func() (string, error) { return GoStringN(p, 100) }, "hello\x01world"},
		{"GoStringN 0", func() (string, error) { return GoStringN(p, 0) }, ""},
		{"GoBytes", func() (string, error) { b, err := GoBytes(p, 12); return string(b), err }, "hello\x01world\x00"},
		{"GoBytes 0 of NULL", func() (string, error) { b, err := GoBytes(uintptr(0), 0); return string(b), err }, ""},
	}
	for _, tc := range tests {
		got, err := tc.get()
		if err != nil || got != tc.want {
			t.Errorf("%s = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	// Unreadable memory is an error, not a crash.
	bad := uintptr(8) // the zero page is never mapped
	if _, err := GoString(bad); !errors.Is(err, ErrBadAddress) {
		t.Errorf("GoString(8): %v, want ErrBadAddress", err)
	}
	none, err := unix.Mmap(-1, 0, 4096, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(none)
	if _, err := GoString(unsafe.Pointer(&none[0])); !errors.Is(err, ErrBadAddress) {
		t.Errorf("GoString of a PROT_NONE page: %v, want ErrBadAddress", err)
	}
	if _, err := GoBytes(bad, 4); !errors.Is(err, ErrBadAddress) {
		t.Errorf("GoBytes(8): %v", err)
	}
	if _, err := GoBytes(uintptr(0), 4); !errors.Is(err, ErrBadAddress) {
		t.Errorf("GoBytes(NULL, 4): %v", err)
	}
	if _, err := GoSlice[uint64](bad, 2); !errors.Is(err, ErrBadAddress) {
		t.Errorf("GoSlice(8): %v", err)
	}
	if _, err := GoBytes(p, -1); err == nil {
		t.Error("GoBytes with a negative length succeeded")
	}
	if _, err := GoStringN(p, -1); err == nil {
		t.Error("GoStringN with a negative length succeeded")
	}
	if _, err := CString("a\x00b"); err == nil || strings.Count(err.Error(), "loader:") != 1 {
		t.Errorf("CString with a NUL: %v", err)
	}
}

func TestCMemory(t *testing.T) {
	b, err := CBytes([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	if err != nil {
		t.Fatal(err)
	}
	got, err := GoSlice[uint32](b, 4)
	if err != nil || got[0] != 0x04030201 || got[3] != 0x100f0e0d {
		t.Errorf("GoSlice[uint32] = %#x, %v", got, err)
	}
	if err := Free(b); err != nil {
		t.Fatal(err)
	}
	z, err := Calloc(100, 8)
	if err != nil {
		t.Fatal(err)
	}
	zs, _ := GoSlice[uint64](z, 100)
	for i, v := range zs {
		if v != 0 {
			t.Fatalf("calloc'd word %d = %#x", i, v)
		}
	}
	Free(z)
	if _, err := Calloc(1<<62, 1<<8); !errors.Is(err, ErrNoMemory) {
		t.Errorf("Calloc overflowing: %v, want ErrNoMemory", err)
	}
	if err := Free(uintptr(0)); err != nil {
		t.Errorf("Free(NULL): %v", err)
	}

	type pair struct {
		A int32
		B float64
	}
	c, err := NewCell[pair]()
	if err != nil {
		t.Fatal(err)
	}
	if c.Get() != (pair{}) {
		t.Errorf("new cell holds %+v", c.Get())
	}
	c.Set(pair{7, 2.5})
	if v := *(*pair)(c.Ptr()); v != (pair{7, 2.5}) {
		t.Errorf("cell memory holds %+v", v)
	}
	if err := c.Free(); err != nil || c.Free() != nil || c.Ptr() != nil {
		t.Errorf("Free twice: %v", err)
	}
	if _, err := NewCell[*int](); err == nil {
		t.Error("NewCell[*int] succeeded")
	}
	if _, err := NewCell[struct{ S string }](); err == nil || !strings.Contains(err.Error(), "field S") {
		t.Errorf("NewCell of a struct with a string: %v", err)
	}
}

func TestPins(t *testing.T) {
	var pins Pins
	defer pins.Unpin()
	if PinSlice[byte](&pins, nil) != nil || Pin[int](&pins, nil) != nil {
		t.Error("pinning nothing gave an address")
	}
	x := struct{ A, B int64 }{1, 2}
	if p := Pin(&pins, &x); p != unsafe.Pointer(&x) {
		t.Error("Pin gave another address")
	}
	for _, f := range []func(){
		func() { PinSlice(&pins, []*int{new(int)}) },
		func() { PinSlice(&pins, []string{"x"}) },
		func() { v := struct{ M map[int]int }{}; Pin(&pins, &v) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(r.(string), "Go pointers") {
					t.Errorf("pinning Go pointers: recovered %v", r)
				}
			}()
			f()
		}()
	}
}
