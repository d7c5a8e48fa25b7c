package loader

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"unsafe"

	"github.com/runplug/runplug/internal/pcall"
)

// Memory shared with native code.
//
// Go memory may be handed to a native function for the duration of one
// call, under Go's cgo pointer rules: it is pinned (runtime.Pinner) so
// that it stays alive and in place, and it must not itself hold Go
// pointers (native code could keep or write them behind the garbage
// collector's back). Native code must not keep a pointer to it after the
// call returns: memory native code keeps is C memory, from the host's C
// allocator (Malloc, CString, NewCell), freed with Free.
//
// Native memory is read into Go by copying (GoString, GoStringN, GoBytes):
// a read of an address that is not mapped is an error wrapping
// ErrBadAddress, not a crash.

// ErrBadAddress is wrapped by the error of a read (or a Plugin.WriteMemory)
// of native memory at an address that is not readable (or writable).
var ErrBadAddress = pcall.ErrBadAddress

// ErrNoMemory is wrapped by the error of an allocation the host's C
// allocator refused (it returned NULL).
var ErrNoMemory = errors.New("loader: C allocator out of memory")

// Address is a native address as typed bindings pass it: a uintptr (or a
// type defined on it) or an unsafe.Pointer.
type Address interface{ ~uintptr | unsafe.Pointer }

// Pins holds Go memory pinned for native code: the values given to Pin
// and PinSlice stay alive and in place until Unpin. The zero value is
// ready to use; use one Pins per call (or group of calls) and Unpin it
// when they return:
//
//	var pins loader.Pins
//	defer pins.Unpin()
//	n, err := crc32(0, loader.PinSlice(&pins, buf), uint32(len(buf)))
type Pins struct {
	p runtime.Pinner
}

// Unpin releases everything pinned through ps. Native code must no longer
// use those addresses.
func (ps *Pins) Unpin() { ps.p.Unpin() }

// Pin pins *v and returns its address for native code (nil for a nil v).
// T must hold no Go pointers (no pointer, slice, string, map, channel,
// func or interface, also inside structs and arrays): Pin panics if it
// does, as cgo refuses such memory.
func Pin[T any](ps *Pins, v *T) unsafe.Pointer {
	mustBePointerFree(reflect.TypeFor[T]())
	if v == nil {
		return nil
	}
	ps.p.Pin(v)
	return unsafe.Pointer(v)
}

// PinSlice pins the array of s and returns the address of s[0] for native
// code (nil for an empty s). T must hold no Go pointers (see Pin).
func PinSlice[T any](ps *Pins, s []T) unsafe.Pointer {
	mustBePointerFree(reflect.TypeFor[T]())
	if len(s) == 0 {
		return nil
	}
	ps.p.Pin(&s[0])
	return unsafe.Pointer(&s[0])
}

// mustBePointerFree panics when values of t hold Go pointers.
func mustBePointerFree(t reflect.Type) {
	if why := goPointers(t); why != "" {
		panic(fmt.Sprintf("loader: %v holds Go pointers (%s): native code may not be given such memory", t, why))
	}
}

// goPointers says where values of t hold Go pointers ("" if nowhere).
// unsafe.Pointer and uintptr are taken to be native addresses.
func goPointers(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.String, reflect.Map, reflect.Chan, reflect.Func, reflect.Interface:
		return t.Kind().String()
	case reflect.Array:
		if t.Len() == 0 {
			return ""
		}
		return goPointers(t.Elem())
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if why := goPointers(t.Field(i).Type); why != "" {
				return "field " + t.Field(i).Name + ": " + why
			}
		}
	}
	return ""
}
