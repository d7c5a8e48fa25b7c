// Package abi describes C types and signatures at run time, for a host
// that calls C functions it knows only when it runs: the predefined scalar
// types (Int32, Float64, Pointer, ...), aggregates built with StructOf,
// UnionOf and ArrayOf (as libffi's ffi_type describes them), the C type of
// a Go value (TypeOf, which checks that the Go layout is the C layout), and
// C declarations read from text (ParseFunc). A *Type tells a person what
// it is (String) and a program its Size and Align; loader.NewSignature and
// loader.ParseSignature turn types into a callable signature.
//
// How the System V AMD64 psABI passes a type (its eightbyte classes, the
// register or stack slot each argument takes, where a result comes back)
// is the engine's business: internal/callconv. Type is defined there, and
// Type here is an alias of it, because the planner must read a type's kind
// and members and a host must not: callconv reads them through functions
// of its own package, so this alias shows a host exactly Size, Align and
// String, and the one Type value flows from a host's description into the
// plan without a copy or a conversion. (abi keeping Type and callconv
// importing abi would need exported accessors for the kind and members,
// the surface this split removes.)
//
// long double is 16 bytes passed in memory and returned in st0; Go has no
// 80-bit float, so TypeOf has no Go type for it: callers give and get its
// 16 bytes. On linux/arm64 it is IEEE binary128, passed and returned in
// whole q registers (alone or in a homogeneous aggregate of up to four),
// as the same opaque 16 bytes. __int128 (Int128, Uint128; Int128Value and Uint128Value in Go)
// is supported. Vector types (__m128, __m256) and bit-fields are not
// modelled. The package is pure Go and builds everywhere.
package abi
