package abi

import (
	"fmt"
	"reflect"

	"github.com/runplug/runplug/internal/callconv"
)

// Type is a C type: its size, alignment and, for an aggregate, its
// members. Types are immutable once made; the predefined scalars and the
// results of StructOf, UnionOf and ArrayOf may be shared freely. String
// returns a C-like description, e.g. "struct { int32_t; double }".
type Type = callconv.Type

// The scalar C types of the psABI's Figure 3.1 that runplug can pass.
// char, short, int and long are Int8, Int16, Int32 and Int64 (and the
// unsigned ones Uint*); size_t and pointers to anything are Uint64 and
// Pointer.
var (
	Void       = callconv.Void
	Bool       = callconv.Bool
	Int8       = callconv.Int8
	Int16      = callconv.Int16
	Int32      = callconv.Int32
	Int64      = callconv.Int64
	Uint8      = callconv.Uint8
	Uint16     = callconv.Uint16
	Uint32     = callconv.Uint32
	Uint64     = callconv.Uint64
	Pointer    = callconv.Pointer
	Float32    = callconv.Float32
	Float64    = callconv.Float64
	LongDouble = callconv.LongDouble // 16 bytes: x87 80-bit extended on amd64, IEEE binary128 (in q registers) on arm64
	Int128     = callconv.Int128
	Uint128    = callconv.Uint128
)

// StructOf returns the C struct with the given member types laid out as a
// C compiler lays them out: each at the next offset aligned to its
// alignment, the size rounded up to the largest alignment.
func StructOf(members ...*Type) (*Type, error) { return callconv.StructOf(members...) }

// UnionOf returns the C union of the given member types: all at offset 0,
// the size the largest member's rounded up to the largest alignment.
func UnionOf(members ...*Type) (*Type, error) { return callconv.UnionOf(members...) }

// ArrayOf returns the C array elem[n].
func ArrayOf(elem *Type, n int) (*Type, error) {
	if n < 0 {
		return nil, fmt.Errorf("abi: array %s[%d]: negative length", elem, n)
	}
	return callconv.ArrayOf(elem, uint64(n))
}

// TypeOf returns the C type of v's Go type: bool is _Bool; intN, uintN,
// int and uint the integers of their size; uintptr and unsafe.Pointer a
// pointer; float32 and float64 float and double; Int128Value and
// Uint128Value the 128-bit integers; LongDoubleValue long double; arrays
// and structs of those are C
// arrays and structs, whose Go layout must be the C layout (the same
// size, alignment and member offsets). Only v's type matters: pass a
// zero value, as with reflect.TypeOf.
//
// Types that are Go memory the garbage collector must see (string, slice,
// map, interface, func, chan, and Go pointers *T) have no C counterpart
// and are refused with a *TypeError naming the field.
func TypeOf(v any) (*Type, error) { return callconv.TypeOf(reflect.TypeOf(v)) }

// Int128Value and Uint128Value are the Go types TypeOf maps to __int128
// and unsigned __int128: two's complement, low half first (Lo, Hi), as
// the value lies in memory on a little-endian machine.
type (
	Int128Value  = callconv.Int128Value
	Uint128Value = callconv.Uint128Value
)

// LongDoubleValue is the Go type TypeOf maps to long double, which Go has
// no float for: its 16 bytes as they lie in memory, low half first (Lo,
// Hi). On amd64 that is x87's 80-bit extended format (the 64-bit
// significand in Lo, sign and exponent in Hi's low 16 bits, the rest
// padding); on arm64 IEEE binary128 (sign, exponent and the top 48
// fraction bits in Hi). A callback or host function takes and returns
// long doubles with it; a Signature's long double is a LongDoubleValue
// or a []byte of 16.
type LongDoubleValue = callconv.LongDoubleValue

// TypeError reports a Go type that has no C counterpart, or whose Go
// layout differs from the C layout of its counterpart. Field names the
// member at fault as a path from the outer type ("Inner.Name", "[2]"), or
// is empty when the type itself is at fault.
type TypeError = callconv.TypeError
