package abi_test

import (
	"errors"
	"testing"

	"github.com/runplug/runplug/abi"
)

// TestDescribe builds the types a host describes and checks the C layout
// and spelling a C compiler gives them, and that a bad description is an
// error, not a type.
func TestDescribe(t *testing.T) {
	must := func(t *abi.Type, err error) *abi.Type {
		if err != nil {
			panic(err)
		}
		return t
	}
	pair := must(abi.StructOf(abi.Int8, abi.Float64))
	tests := []struct {
		name        string
		typ         func() (*abi.Type, error)
		size, align uint64
		str         string // "" when the description must be refused
	}{
		{"padded struct", func() (*abi.Type, error) { return pair, nil }, 16, 8, "struct { int8_t; double }"},
		{"union", func() (*abi.Type, error) { return abi.UnionOf(abi.Int32, abi.Float64, abi.Uint8) }, 8, 8, "union { int32_t; double; uint8_t }"},
		{"array of structs", func() (*abi.Type, error) { return abi.ArrayOf(pair, 3) }, 48, 8, "struct { int8_t; double }[3]"},
		{"__int128 member", func() (*abi.Type, error) { return abi.StructOf(abi.Int8, abi.Int128) }, 32, 16, "struct { int8_t; __int128 }"},
		{"empty array", func() (*abi.Type, error) { return abi.ArrayOf(abi.Int64, 0) }, 0, 8, "int64_t[0]"},
		{"negative array", func() (*abi.Type, error) { return abi.ArrayOf(abi.Int64, -1) }, 0, 0, ""},
		{"void member", func() (*abi.Type, error) { return abi.StructOf(abi.Int32, abi.Void) }, 0, 0, ""},
		{"nil member", func() (*abi.Type, error) { return abi.UnionOf(nil) }, 0, 0, ""},
		{"array past 4 GiB", func() (*abi.Type, error) { return abi.ArrayOf(pair, 1<<30) }, 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ, err := tt.typ()
			if tt.str == "" {
				if err == nil || typ != nil {
					t.Fatalf("= %v, %v; want a refusal", typ, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if typ.Size() != tt.size || typ.Align() != tt.align || typ.String() != tt.str {
				t.Errorf("= %s (size %d, align %d), want %s (%d, %d)", typ, typ.Size(), typ.Align(), tt.str, tt.size, tt.align)
			}
		})
	}
}

// TestTypeOfValue: TypeOf reads the Go type of a value, refuses what has
// no C layout with a *TypeError, and refuses a nil interface.
func TestTypeOfValue(t *testing.T) {
	type vec struct {
		N    abi.Int128Value
		X, Y float64
	}
	typ, err := abi.TypeOf(vec{})
	if err != nil || typ.Size() != 32 || typ.Align() != 16 {
		t.Fatalf("TypeOf(vec{}) = %v, %v; want 32 bytes aligned to 16", typ, err)
	}
	if typ, err := abi.TypeOf(abi.LongDoubleValue{}); err != nil || typ != abi.LongDouble {
		t.Errorf("TypeOf(LongDoubleValue{}) = %v, %v; want long double", typ, err)
	}
	type ld2 struct{ A, B abi.LongDoubleValue } // a Go struct of long doubles: C's layout, at Go's alignment 8
	if typ, err := abi.TypeOf(ld2{}); err != nil || typ.Size() != 32 || typ.Align() != 16 {
		t.Errorf("TypeOf(ld2{}) = %v, %v; want 32 bytes aligned to 16", typ, err)
	}
	for _, v := range []any{nil, []int{}, map[int]int{}, struct{ P *int }{}} {
		typ, err := abi.TypeOf(v)
		var te *abi.TypeError
		if typ != nil || !errors.As(err, &te) {
			t.Errorf("TypeOf(%T) = %v, %v; want a *TypeError", v, typ, err)
		}
	}
}
