//go:build linux && amd64

package sandbox

// The Go side of the general call (rp_frame_thunk in callframe_amd64.S):
// a frameRecord is rp_call's callRecord followed by what the thunk reads
// and writes, and is run exactly as a callRecord is (callRecord.run), so
// faults, deadlines and gates behave as for every other call.

/*
#include "sandbox.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"unsafe"
)

// frameRecord is struct rp_framerec (same layout): rp_call's record, with
// c.args pointing to the Frame (a struct rp_frameargs, read by the thunk
// in place), and the thunk's inputs and outputs. c.args and the Frame's
// Stack and SRet are Go pointers: Go's stack copying updates them when a
// callback into Go moves the goroutine's stack, so the thunk, which
// reaches the Frame after fn returns through the record's current address,
// finds SRet where it now is.
type frameRecord struct {
	c    callRecord
	fn   uintptr
	rdx  uint64
	xmm1 uint64
}

var _ [unsafe.Sizeof(frameRecord{}) - C.RP_FX_SIZE]byte
var _ [C.RP_FX_SIZE - unsafe.Sizeof(frameRecord{})]byte
var _ [unsafe.Offsetof(frameRecord{}.fn) - C.RP_FX_FN]byte
var _ [C.RP_FX_FN - unsafe.Offsetof(frameRecord{}.fn)]byte
var _ [unsafe.Offsetof(frameRecord{}.xmm1) - C.RP_FX_XMM1]byte
var _ [C.RP_FX_XMM1 - unsafe.Offsetof(frameRecord{}.xmm1)]byte

// Frame is struct rp_frameargs: same layout.
var _ [unsafe.Sizeof(Frame{}) - C.RP_F_SIZE]byte
var _ [C.RP_F_SIZE - unsafe.Sizeof(Frame{})]byte
var _ [unsafe.Offsetof(Frame{}.Stack) - C.RP_F_STACK]byte
var _ [C.RP_F_STACK - unsafe.Offsetof(Frame{}.Stack)]byte
var _ [unsafe.Offsetof(Frame{}.NVec) - C.RP_F_NVEC]byte
var _ [C.RP_F_NVEC - unsafe.Offsetof(Frame{}.NVec)]byte
var _ [unsafe.Offsetof(Frame{}.SRet) - C.RP_F_SRET]byte
var _ [C.RP_F_SRET - unsafe.Offsetof(Frame{}.SRet)]byte
var _ [unsafe.Offsetof(Frame{}.SRetSize) - C.RP_F_SRETSIZE]byte
var _ [C.RP_F_SRETSIZE - unsafe.Offsetof(Frame{}.SRetSize)]byte
var _ [MaxFrameStack - C.RP_FX_MAXSTACK]byte
var _ [C.RP_FX_MAXSTACK - MaxFrameStack]byte
var _ [MaxFrameSRet - C.RP_FX_MAXSRET]byte

// rpFrameThunk is rp_frame_thunk's address.
var rpFrameThunk = uintptr(unsafe.Pointer(C.rp_frame_thunk))

// ErrFrame is wrapped by the error of a general call whose Frame is out
// of bounds (too many stack words, too large a result buffer).
var ErrFrame = errors.New("sandbox: invalid call frame")

// checkFrame checks a Frame's bounds (its fields passed by value, so that
// the Frame does not escape).
func checkFrame(nstack int, sret bool, sretSize uintptr) error {
	if nstack*8 > MaxFrameStack {
		return fmt.Errorf("%w: %d bytes of stack arguments, at most %d", ErrFrame, nstack*8, MaxFrameStack)
	}
	if sretSize > MaxFrameSRet || sret != (sretSize != 0) {
		return fmt.Errorf("%w: a result buffer of %d bytes (at most %d; SRet and SRetSize both set or neither)", ErrFrame, sretSize, MaxFrameSRet)
	}
	return nil
}

func (r *frameRecord) result() FrameResult {
	return FrameResult{RAX: r.c.a, RDX: r.rdx, XMM0: r.c.b, XMM1: r.xmm1}
}

// CallFrame calls the native function at fn with the whole frame f (see
// Frame) through the gate, as Call does with registers only: the same
// protection from faults, the same refusal once the gate is closed. A ctx
// that can be done (nil is never done) interrupts the call at its
// deadline, as CallContext does.
func (g *Gate) CallFrame(ctx context.Context, fn uintptr, f *Frame) (FrameResult, error) {
	return callFrame(ctx, fn, f, g)
}

// CallFrame is Gate.CallFrame without a gate.
func CallFrame(ctx context.Context, fn uintptr, f *Frame) (FrameResult, error) {
	return callFrame(ctx, fn, f, nil)
}

func callFrame(ctx context.Context, fn uintptr, f *Frame, g *Gate) (FrameResult, error) {
	installOnce.Do(install)
	if installErr != nil {
		return FrameResult{}, installErr
	}
	if len(f.Stack) > MaxFrameStack/8 || f.SRetSize > MaxFrameSRet || (f.SRet == nil) != (f.SRetSize == 0) {
		return FrameResult{}, checkFrame(len(f.Stack), f.SRet != nil, f.SRetSize)
	}
	// Built here, a local (stores into a record behind a pointer would
	// make f escape to the heap), field by field: a composite literal is
	// built aside and copied in 16-byte moves, each of which stalls on the
	// two 8-byte stores it reads (no store forwarding on this CPU).
	var r frameRecord
	r.c.fn = rpFrameThunk
	r.c.args = unsafe.Pointer(f)
	r.c.nints = argsBlock
	r.c.gate = g
	r.fn = fn
	if ctx == nil || ctx.Done() == nil {
		r.c.run()
		if r.c.info != statusOK {
			return FrameResult{}, callError(&r.c, nil)
		}
		return r.result(), nil
	}
	if err := ctx.Err(); err != nil {
		return FrameResult{}, &DeadlineError{Cause: err}
	}
	slot := C.rp_slot_new()
	if slot == 0 {
		return FrameResult{}, errors.New("sandbox: allocate deadline slot: out of memory")
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		C.rp_interrupt(slot)
		close(fired)
	})
	r.c.slot = uintptr(slot)
	r.c.run()
	if !stop() {
		<-fired // the interrupter has started: it may still read the slot
	}
	C.rp_slot_free(slot)
	if r.c.info != statusOK {
		return FrameResult{}, callError(&r.c, ctx)
	}
	return r.result(), nil
}
