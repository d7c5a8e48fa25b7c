// Package callconv is runplug's one model of calling conventions: how the
// System V AMD64 psABI (Conv SysV) and the AAPCS64 (Conv AAPCS64, as
// Linux uses it: aapcs64.go) pass C values, and, in detail for SysV, how
// the psABI does it (which eightbytes of a value are
// INTEGER, SSE or MEMORY class, psABI 1.0 section 3.2.3; which register or
// stack slot each argument takes; where the result comes back: rax:rdx,
// xmm0:xmm1, mixed, st0, or memory through a hidden pointer), and how Go's
// internal register ABI (ABIInternal) passes Go values, which the loader's
// host functions and callbacks must read and write by hand.
//
// The loader's typed bindings, run-time signatures, callbacks, host
// functions and the isolated tier's call frames all plan with it; the
// protected-call trampoline performs the plan.
//
// Type, the C type, is defined here and is abi.Type by alias: the planner
// reads a type's kind and members (KindOf, FieldsOf, ElemOf, LenOf) and a
// host does not, so those are functions of this package rather than
// methods that the alias would show a host. Go has no 80-bit float:
// long double (class X87) is passed in memory and returned in st0
// (ResultLoc.X87). __int128 is two INTEGER eightbytes, 16-byte aligned,
// never split between a register and the stack. Vector types (__m128,
// __m256: SSEUP) and bit-fields are not modelled.
//
// Under the AAPCS64 a homogeneous floating-point aggregate (HFA, one to
// four floats or doubles) travels in vector registers, one member each;
// another composite of up to 16 bytes in general registers, a larger one
// by reference (ArgLoc.ByRef: the address of a copy the caller makes); a
// result in memory has its address in x8; long double (IEEE binary128
// there) is a floating-point type that takes a whole 128-bit q register
// (a Part of 16 bytes), alone or as an HFA member.
//
// It is pure Go (reflect, no cgo, no unsafe) and builds everywhere; both
// planners are table-tested on every machine, and Native (NewPlan) is the
// running architecture's.
package callconv
