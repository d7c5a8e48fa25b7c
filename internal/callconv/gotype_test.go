package callconv

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

type point struct{ X, Y float64 }

type mixed struct {
	A int32
	B float32
	C float64
	D [3]uint8
	P uintptr
}

type nested struct {
	In  point
	Tag int64
}

func TestTypeOf(t *testing.T) {
	for _, tc := range []struct {
		goType reflect.Type
		want   *Type
	}{
		{reflect.TypeFor[int32](), Int32},
		{reflect.TypeFor[uint](), Uint64},
		{reflect.TypeFor[unsafe.Pointer](), Pointer},
		{reflect.TypeFor[point](), st(Float64, Float64)},
		{reflect.TypeFor[mixed](), st(Int32, Float32, Float64, arr(Uint8, 3), Pointer)},
		{reflect.TypeFor[nested](), st(st(Float64, Float64), Int64)},
		{reflect.TypeFor[[4]float32](), arr(Float32, 4)},
		{reflect.TypeFor[Int128Value](), Int128},
	} {
		got, err := TypeOf(tc.goType)
		if err != nil {
			t.Errorf("TypeOf(%v): %v", tc.goType, err)
			continue
		}
		if !SameLayout(got, tc.want) {
			t.Errorf("TypeOf(%v) = %v, want %v", tc.goType, got, tc.want)
		}
		if got.Size() != uint64(tc.goType.Size()) {
			t.Errorf("TypeOf(%v) size %d, Go size %d", tc.goType, got.Size(), tc.goType.Size())
		}
	}
}

// TestTypeOfRefuses checks that Go types the garbage collector must see,
// and layouts C would not reproduce, are refused naming the field.
func TestTypeOfRefuses(t *testing.T) {
	type withString struct {
		N    int32
		Name string
	}
	type deep struct {
		A int64
		B struct {
			X []byte
		}
	}
	type withPtr struct{ P *int }
	type zeroTail struct {
		A int64
		Z struct{}
	}
	type misaligned struct {
		A int32
		W Int128Value
	}
	for _, tc := range []struct {
		goType reflect.Type
		field  string
		reason string
	}{
		{reflect.TypeFor[withString](), "Name", "string"},
		{reflect.TypeFor[deep](), "B.X", "slice"},
		{reflect.TypeFor[withPtr](), "P", "Go pointer"},
		{reflect.TypeFor[map[int]int](), "", "map"},
		{reflect.TypeFor[any](), "", "interface"},
		{reflect.TypeFor[func()](), "", "func"},
		{reflect.TypeFor[chan int](), "", "chan"},
		{reflect.TypeFor[zeroTail](), "Z", "empty struct"},
		{reflect.TypeFor[misaligned](), "W", "C offset 16"},
	} {
		_, err := TypeOf(tc.goType)
		var te *TypeError
		if !errors.As(err, &te) {
			t.Errorf("TypeOf(%v): %v, want a *TypeError", tc.goType, err)
			continue
		}
		if te.Field != tc.field || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("TypeOf(%v): field %q, %v; want field %q and %q", tc.goType, te.Field, err, tc.field, tc.reason)
		}
	}
}
