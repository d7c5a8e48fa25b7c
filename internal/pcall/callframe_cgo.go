//go:build linux && (amd64 || arm64)

package pcall

// The Go side of the general call (rp_frame_thunk in callframe_amd64.S
// and callframe_arm64.S):
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

// FramesSupported reports whether this build has the general call
// (CallFrame, CallGather): linux/amd64 or linux/arm64 with cgo.
const FramesSupported = true

// frameRecord is struct rp_framerec (same layout): rp_call's record, with
// c.args pointing to the Frame (a struct rp_frameargs, read by the thunk
// in place), and the thunk's inputs and outputs. c.args and the Frame's
// Stack and SRet are Go pointers: Go's stack copying updates them when a
// callback into Go moves the goroutine's stack, so the thunk, which
// reaches the Frame after fn returns through the record's current address,
// finds SRet where it now is.
type frameRecord struct {
	c      callRecord
	fn     uintptr
	rdx    uint64
	xmm1   uint64
	vhi    [vecHiResults]uint64 // arm64, with Frame.Quad: the high halves of v0..v3
	v2, v3 uint64               // arm64
}

var _ [unsafe.Sizeof(frameRecord{}) - C.RP_FX_SIZE]byte
var _ [C.RP_FX_SIZE - unsafe.Sizeof(frameRecord{})]byte
var _ [unsafe.Offsetof(frameRecord{}.fn) - C.RP_FX_FN]byte
var _ [C.RP_FX_FN - unsafe.Offsetof(frameRecord{}.fn)]byte
var _ [unsafe.Offsetof(frameRecord{}.xmm1) - C.RP_FX_XMM1]byte
var _ [C.RP_FX_XMM1 - unsafe.Offsetof(frameRecord{}.xmm1)]byte
var _ [unsafe.Offsetof(frameRecord{}.v2) - C.RP_FX_V2]byte
var _ [C.RP_FX_V2 - unsafe.Offsetof(frameRecord{}.v2)]byte

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
var _ [unsafe.Offsetof(Frame{}.Quad) - C.RP_F_QUAD]byte
var _ [C.RP_F_QUAD - unsafe.Offsetof(Frame{}.Quad)]byte
var _ [unsafe.Offsetof(Frame{}.VHi) - C.RP_F_VHI]byte
var _ [C.RP_F_VHI - unsafe.Offsetof(Frame{}.VHi)]byte
var _ [unsafe.Offsetof(frameRecord{}.vhi) - C.RP_FX_VHI]byte
var _ [C.RP_FX_VHI - unsafe.Offsetof(frameRecord{}.vhi)]byte
var _ [unsafe.Offsetof(Frame{}.More) - C.RP_F_MORE]byte
var _ [C.RP_F_MORE - unsafe.Offsetof(Frame{}.More)]byte
var _ [MaxFrameStack - C.RP_FX_MAXSTACK]byte
var _ [C.RP_FX_MAXSTACK - MaxFrameStack]byte
var _ [MaxFrameSRet - C.RP_FX_MAXSRET]byte

// gatherRecord is struct rp_gatherrec (same layout). prog, argv and sret
// are Go pointers: the record keeps them alive, and Go's stack copying
// updates argv and sret when they are on the goroutine's stack (argv is
// read before fn runs; sret after, through the record's current address).
type gatherRecord struct {
	c    callRecord
	fn   uintptr
	rdx  uint64
	xmm1 uint64
	prog *gatherHdr
	argv unsafe.Pointer
	sret unsafe.Pointer
	vhi  [vecHiResults]uint64 // arm64, with QuadRegs: the high halves of v0..v3 (none on amd64, where st0 stays at the end)
	st0  [16]byte             // amd64: a long double from st0; arm64: v2 and v3
}

var _ [unsafe.Sizeof(gatherRecord{}) - C.RP_GX_SIZE]byte
var _ [C.RP_GX_SIZE - unsafe.Sizeof(gatherRecord{})]byte
var _ [unsafe.Offsetof(gatherRecord{}.argv) - C.RP_GX_ARGV]byte
var _ [C.RP_GX_ARGV - unsafe.Offsetof(gatherRecord{}.argv)]byte
var _ [unsafe.Offsetof(gatherRecord{}.xmm1) - C.RP_GX_XMM1]byte
var _ [C.RP_GX_XMM1 - unsafe.Offsetof(gatherRecord{}.xmm1)]byte
var _ [unsafe.Offsetof(gatherRecord{}.sret) - C.RP_GX_SRET]byte
var _ [C.RP_GX_SRET - unsafe.Offsetof(gatherRecord{}.sret)]byte
var _ [unsafe.Sizeof(gatherHdr{}) - C.RP_GP_QUAD - 8]byte
var _ [unsafe.Offsetof(gatherHdr{}.x87) - C.RP_GP_X87]byte
var _ [C.RP_GP_X87 - unsafe.Offsetof(gatherHdr{}.x87)]byte
var _ [unsafe.Offsetof(gatherRecord{}.st0) - C.RP_GX_ST0]byte
var _ [C.RP_GX_ST0 - unsafe.Offsetof(gatherRecord{}.st0)]byte
var _ [unsafe.Offsetof(gatherHdr{}.sretSize) - C.RP_GP_SRETSIZE]byte
var _ [C.RP_GP_SRETSIZE - unsafe.Offsetof(gatherHdr{}.sretSize)]byte
var _ [unsafe.Sizeof(GatherMove{}) - C.RP_GM_BYTES]byte
var _ [C.RP_GM_BYTES - unsafe.Sizeof(GatherMove{})]byte
var _ [unsafe.Offsetof(GatherMove{}.Size) - C.RP_GM_SIZE]byte
var _ [C.RP_GM_SIZE - unsafe.Offsetof(GatherMove{}.Size)]byte
var _ [GatherRegs - C.RP_GM_REGS]byte
var _ [C.RP_GM_REGS - GatherRegs]byte
var _ [GatherSext - C.RP_GM_SEXT]byte
var _ [GatherF32F64 - C.RP_GM_F32F64]byte
var _ [GatherStackAddr - C.RP_GM_STACKADDR]byte
var _ [C.RP_GM_STACKADDR - GatherStackAddr]byte
var _ [unsafe.Offsetof(gatherRecord{}.st0) - C.RP_GX_V2]byte
var _ [gatherPair - C.RP_GM_PAIR]byte
var _ [unsafe.Offsetof(gatherHdr{}.quad) - C.RP_GP_QUAD]byte
var _ [C.RP_GP_QUAD - unsafe.Offsetof(gatherHdr{}.quad)]byte
var _ [GatherHigh - C.RP_GM_HIGH]byte
var _ [C.RP_GM_HIGH - GatherHigh]byte
var _ [vecHiResults - C.RP_GX_VHIWORDS]byte
var _ [C.RP_GX_VHIWORDS - vecHiResults]byte
var _ [unsafe.Offsetof(gatherRecord{}.vhi) - C.RP_GX_VHI]byte
var _ [C.RP_GX_VHI - unsafe.Offsetof(gatherRecord{}.vhi)]byte
var _ [C.RP_GM_PAIR - gatherPair]byte

// rpGatherThunk is rp_gather_thunk's address.
var rpGatherThunk = uintptr(unsafe.Pointer(C.rp_gather_thunk))

// CallGather calls the native function at fn with arguments that p
// gathers from the values args point to (each laid out as C lays out its
// argument's type), and, when p has a result in memory, copies that result
// to sret. Protection, gates and ctx are as for Gate.CallFrame. The values
// are read before fn runs; sret may be Go memory, even on the goroutine's
// stack.
func (g *Gate) CallGather(ctx context.Context, fn uintptr, p *GatherProgram, args []unsafe.Pointer, sret unsafe.Pointer) (FrameResult, error) {
	var res FrameResult
	err := g.CallGatherInto(ctx, fn, p, args, sret, &res)
	return res, err
}

// CallGatherInto is CallGather with the registers' values stored in *res
// (left as they were after an error). It is the form for a hot path:
// every field is stored on its own, 8 bytes at a time, so that nothing
// reads 16 bytes that the trampoline wrote as two 8-byte stores (a load
// the CPU cannot forward from them, which stalls: a 24-byte struct call
// went from 1.6 to 1.3 of cgo without that copy).
func (g *Gate) CallGatherInto(ctx context.Context, fn uintptr, p *GatherProgram, args []unsafe.Pointer, sret unsafe.Pointer, res *FrameResult) error {
	if len(args) != p.nargs || (sret == nil) != (p.hdr.sretSize == 0) {
		return gatherMismatch(len(args), p.nargs, sret != nil, p.hdr.sretSize)
	}
	if installErr != nil { // NewGate ran install
		return installErr
	}
	var r gatherRecord
	r.c.fn = rpGatherThunk
	r.c.gate = g
	r.fn = fn
	r.prog = &p.hdr
	r.argv = unsafe.Pointer(unsafe.SliceData(args))
	r.sret = sret
	if ctx == nil || ctx.Done() == nil { // runContext's first case, in this frame
		r.c.run()
		if r.c.info != statusOK {
			return callError(&r.c, nil)
		}
	} else if err := runContext(ctx, &r.c); err != nil {
		return err
	}
	res.RAX, res.RDX, res.XMM0, res.XMM1 = r.c.a, r.rdx, r.c.b, r.xmm1
	if vecResults > 2 { // arm64: v2 and v3 (a constant: no test on amd64)
		copy(res.V23[:], (*[2]uint64)(unsafe.Pointer(&r.st0))[:])
	}
	if vecHiResults > 0 && p.hdr.quad != 0 { // arm64: long doubles in q0..q3
		copy(res.VHi[:], r.vhi[:])
	}
	if p.hdr.x87 != 0 {
		src := (*[2]uint64)(unsafe.Pointer(&r.st0))
		dst := (*[2]uint64)(unsafe.Pointer(&res.ST0))
		dst[0], dst[1] = src[0], src[1]
	}
	return nil
}

// gatherMismatch is CallGather's error for arguments that do not fit the
// program (apart, so that CallGather's parameters do not escape).
func gatherMismatch(nargs, want int, sret bool, sretSize uintptr) error {
	return fmt.Errorf("%w: %d arguments for a program of %d; a result buffer: %v, for a %d-byte result", ErrFrame, nargs, want, sret, sretSize)
}

// runContext runs the record c (callRecord.run), under ctx's deadline when
// ctx can be done (nil cannot), and returns the call's error.
func runContext(ctx context.Context, c *callRecord) error {
	if ctx == nil || ctx.Done() == nil {
		c.run()
		if c.info != statusOK {
			return callError(c, nil)
		}
		return nil
	}
	if err := ctx.Err(); err != nil {
		return &DeadlineError{Cause: err}
	}
	slot := C.rp_slot_new()
	if slot == 0 {
		return errors.New("sandbox: allocate deadline slot: out of memory")
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		interrupt(slot)
		close(fired)
	})
	c.slot = uintptr(slot)
	c.run()
	if !stop() {
		<-fired // the interrupter has started: it may still read the slot
	}
	C.rp_slot_free(slot)
	if c.info != statusOK {
		return callError(c, ctx)
	}
	return nil
}

// rpFrameThunk is rp_frame_thunk's address.
var rpFrameThunk = uintptr(unsafe.Pointer(C.rp_frame_thunk))

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
	res := FrameResult{RAX: r.c.a, RDX: r.rdx, XMM0: r.c.b, XMM1: r.xmm1}
	copy(res.V23[:], []uint64{r.v2, r.v3})
	return res
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
	if err := runContext(ctx, &r.c); err != nil {
		return FrameResult{}, err
	}
	res := r.result()
	if f.Quad {
		copy(res.VHi[:], r.vhi[:])
	}
	return res, nil
}
