// Package abi describes C types and how the System V AMD64 psABI passes
// them: which eightbytes of a value are INTEGER, SSE or MEMORY class
// (psABI 1.0, section 3.2.3), which register or stack slot each argument of
// a call takes, and where the result comes back (rax:rdx, xmm0:xmm1, mixed,
// or memory through a hidden pointer).
//
// It is pure Go (reflect, no cgo, no unsafe) and builds everywhere: the
// loader's typed bindings and its run-time signatures plan their calls with
// it, and the sandbox trampoline performs the plan.
//
// A C type is a *Type: the predefined scalars (Int32, Float64, Pointer, ...),
// or aggregates built at run time with StructOf, UnionOf and ArrayOf, as
// libffi's ffi_type describes them. TypeOf maps a Go type to its C
// counterpart and checks that the Go layout is the C layout.
//
// long double (class X87) is passed in memory, as the psABI says, and
// returned in the x87 register st0 (ResultLoc.X87); Go has no 80-bit float,
// so TypeOf has no Go type for it: callers give and get its 16 bytes. __int128 (Int128, Uint128) is supported: two INTEGER eightbytes, 16-byte
// aligned in memory, never split between a register and the stack. Vector
// types (__m128, __m256: SSEUP) and bit-fields are not modelled.
package abi
