//go:build linux && (amd64 || arm64) && cgo

package pcall

import (
	"math"
	"unsafe"
)

// IntsCall is CallInts laid out in its caller's frame: Gate.Ints, Run and
// Int inline, so the caller makes the protected call with one Go frame
// fewer than CallInts (the frame is a tenth of a call's cost against a
// bare cgo call). The caller checks what CallInts checks: at most six
// integers.
type IntsCall struct{ r callRecord }

// Ints prepares the protected call of fn with the integer arguments ints
// (at most six) through g.
func (g *Gate) Ints(fn uintptr, ints []uint64) IntsCall {
	return IntsCall{callRecord{fn: fn, args: unsafe.Pointer(unsafe.SliceData(ints)), nints: len(ints), gate: g}}
}

// Run makes the call and reports whether it returned normally; if not,
// Err says why.
func (c *IntsCall) Run() bool {
	if installErr != nil {
		return false
	}
	c.r.run()
	return c.r.info == statusOK
}

// Int is the call's integer result register (rax).
func (c *IntsCall) Int() uint64 { return c.r.a }

// Result is both of the call's result registers.
func (c *IntsCall) Result() Result { return Result{Int: c.r.a, Float: math.Float64frombits(c.r.b)} }

// Err is the error of a call that did not return normally.
func (c *IntsCall) Err() error {
	if installErr != nil {
		return installErr
	}
	return callError(&c.r, nil)
}
