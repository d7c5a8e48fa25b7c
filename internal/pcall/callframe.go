package pcall

import (
	"errors"
	"fmt"
	"unsafe"
)

// Frame is the whole of a general native call under the SysV AMD64 ABI
// (or the AAPCS64 on arm64, where Int holds x0-x5, More x6 and x7, Float
// d0-d7, and the result buffer's address goes in x8): the argument
// registers, the stack arguments, al, and a buffer for a result returned
// in memory. Package abi plans what goes where; the loader
// fills a Frame from that plan. Calls whose arguments fit in the registers
// and whose result is rax or xmm0 alone need none of this: Gate.Call and
// Gate.CallInts make them, for less.
type Frame struct {
	Args // rdi..r9 and xmm0..xmm7; with SRet set, Int[0] is replaced by the buffer's address

	// Stack holds the stack arguments as 8-byte words, in order: Stack[0]
	// is what the callee finds at 8(%rsp). At most MaxFrameStack bytes.
	Stack []uint64

	// NVec is what al holds at the call: the number of vector registers
	// used, which a variadic callee reads (an upper bound is allowed).
	NVec uint8
	// Quad (arm64) makes the call load v0..v7 whole, their high 64 bits
	// from VHi, and return the high 64 bits of v0..v3 in
	// FrameResult.VHi: long doubles (IEEE binary128) in q registers.
	Quad bool

	// SRet, when not nil, points to SRetSize bytes that receive a result
	// of class MEMORY. The callee writes it in a buffer on the calling
	// thread's system stack, whose address it gets in rdi (the hidden
	// first argument), and the buffer is copied to SRet after it returns:
	// SRet may be Go memory, even on the goroutine's stack.
	SRet     unsafe.Pointer
	SRetSize uintptr

	// VHi holds the high 64 bits of v0..v7 on arm64, loaded when Quad is
	// set; none on amd64.
	VHi [cbVecHighs]uint64

	// More holds x6 and x7 on arm64, whose eight integer argument
	// registers Args (sized for x86-64's six) lacks; unused on amd64.
	More [2]uint64
}

// FrameResult holds the result registers of a general call: rax and rdx,
// and the bits of xmm0 and xmm1 (a float result is in the low 32 bits);
// after a CallGather whose program has an x87 result, ST0 holds the long
// double from st0 as it lies in memory (10 bytes, then 6 zero bytes). On
// arm64 RAX and RDX hold x0 and x1, XMM0 and XMM1 the low 64 bits of v0
// and v1, and V23 those of v2 and v3 (an HFA result of up to four
// members); amd64 has no V23 (an empty array: the result costs nothing
// more to clear there). After a CallGather whose program has QuadRegs
// (arm64), VHi holds the high 64 bits of v0..v3: with the low halves,
// long doubles (IEEE binary128) in whole q registers; amd64 has no VHi.
type FrameResult struct {
	RAX, RDX   uint64
	XMM0, XMM1 uint64
	V23        [vecResults - 2]uint64
	VHi        [vecHiResults]uint64
	ST0        [16]byte
}

// ErrFrame is wrapped by the error of a general call whose Frame or
// GatherProgram is out of bounds (too many stack words, too large a result
// buffer, a move outside its argument or the frame).
var ErrFrame = errors.New("sandbox: invalid call frame")

// Limits of a Frame, the bounds of rp_frame_thunk's stack use.
const (
	MaxFrameStack = 1 << 16 // bytes of stack arguments
	MaxFrameSRet  = 1 << 16 // bytes of a result in memory
)

// GatherMove is one step of a GatherProgram: it reads Size bytes (1 to 8)
// at byte offset Src of argument Arg's value, converts them as Conv says,
// and puts the eightbyte in register Dst (0-5 rdi..r9, 6-13 xmm0..xmm7;
// on arm64 0-7 x0..x7, 8-15 d0..d7) or, from GatherRegs on, in stack
// argument word Dst-GatherRegs. A GatherStackAddr move (arm64) reads no
// argument: it puts the address of stack word Src in Dst, for a value
// passed by reference whose copy other moves wrote to the stack words
// from Src on. A GatherHigh move (arm64) puts its eightbyte in the high
// 64 bits of vector register Dst (8-15: v0..v7), the rest of a long
// double whose low eightbyte another move put in Dst; the program must
// have QuadRegs for the thunk to load them.
type GatherMove struct {
	Arg  uint32
	Dst  uint32
	Src  uint32
	Size uint8
	Conv uint8 // 0, GatherSext, GatherF32F64 or GatherStackAddr
	_    uint16
}

// GatherMove conversions (GatherRegs, where Dst's stack words begin, is
// per architecture: gatherregs_*.go).
const (
	GatherSext      = 1 // sign-extend the Size bytes to 64 bits
	GatherF32F64    = 2 // a float (4 bytes) passed as a double
	GatherStackAddr = 3 // the address of stack word Src (arm64 only; Size 8)
	GatherHigh      = 4 // the high 64 bits of vector register Dst (arm64 only; Size 8)
)

// GatherProgram is a checked list of moves that lays out a call's
// argument registers and stack words from its argument values in memory:
// what a caller that has its values in C layout (the loader's bindings)
// passes to Gate.CallGather, which then fills no Frame. Make it once per
// signature with NewGatherProgram; it is read-only and safe to share.
type GatherProgram struct {
	hdr   gatherHdr
	moves []GatherMove
	nargs int
}

// gatherHdr is struct rp_gprog, what the trampoline reads.
type gatherHdr struct {
	moves    unsafe.Pointer
	nmoves   uintptr
	nstack   uintptr
	nvec     uintptr
	sretSize uintptr
	x87      uintptr
	quad     uintptr
}

// X87Result returns p made to store and pop a long double result from
// the x87 register st0 into FrameResult.ST0 (the callee's result is of
// class X87). Without it, a callee that returns one leaves it on the x87
// stack.
func (p *GatherProgram) X87Result() *GatherProgram {
	c := *p
	c.hdr.x87 = 1
	return &c
}

// QuadRegs returns p made to load the argument vector registers v0..v7
// whole, their high 64 bits from its GatherHigh moves, and to store the
// high 64 bits of v0..v3 after the call in FrameResult.VHi: for a call
// that passes or returns a long double (IEEE binary128 on arm64) in q
// registers. Without it the thunk loads d0..d7, which clears the high
// bits. It panics on amd64, whose long double never takes a vector
// register.
func (p *GatherProgram) QuadRegs() *GatherProgram {
	if vecHiResults == 0 {
		panic("pcall: QuadRegs: no q registers on this architecture")
	}
	c := *p
	c.hdr.quad = 1
	return &c
}

// NewGatherProgram checks moves for a call with nargs argument values,
// nstack stack words, al = nvec and a result in memory of sretSize bytes
// (0: none; then Int register 0 is free for the moves, else on amd64 it
// holds the result buffer's address; arm64 passes it in x8).
func NewGatherProgram(moves []GatherMove, nargs, nstack int, nvec uint8, sretSize uintptr) (*GatherProgram, error) {
	if nstack < 0 || nstack*8 > MaxFrameStack || sretSize > MaxFrameSRet || nvec > 8 || nargs < 0 {
		return nil, fmt.Errorf("%w: %d stack words, al %d, a %d-byte result", ErrFrame, nstack, nvec, sretSize)
	}
	for i, m := range moves {
		switch {
		case int(m.Arg) >= nargs:
			return nil, fmt.Errorf("%w: move %d reads argument %d of %d", ErrFrame, i, m.Arg, nargs)
		case m.Size < 1 || m.Size > 8:
			return nil, fmt.Errorf("%w: move %d moves %d bytes", ErrFrame, i, m.Size)
		case m.Dst >= GatherRegs+uint32(nstack):
			return nil, fmt.Errorf("%w: move %d writes word %d of %d", ErrFrame, i, m.Dst, GatherRegs+nstack)
		case m.Dst == 0 && sretSize != 0 && sretInArgReg:
			return nil, fmt.Errorf("%w: move %d writes rdi, which holds the result buffer", ErrFrame, i)
		case m.Conv > maxGatherConv || m.Conv == GatherF32F64 && m.Size != 4 || m.Conv == GatherSext && m.Size == 8 || m.Conv == GatherStackAddr && m.Size != 8:
			return nil, fmt.Errorf("%w: move %d: conversion %d of %d bytes", ErrFrame, i, m.Conv, m.Size)
		case m.Conv == GatherHigh && (m.Size != 8 || m.Dst < GatherVec || m.Dst >= GatherRegs):
			return nil, fmt.Errorf("%w: move %d puts the high half of word %d, not a vector register", ErrFrame, i, m.Dst)
		case m.Conv == GatherStackAddr && m.Src >= uint32(nstack):
			return nil, fmt.Errorf("%w: move %d takes the address of stack word %d of %d", ErrFrame, i, m.Src, nstack)
		}
	}
	p := &GatherProgram{moves: fusePairs(moves), nargs: nargs}
	p.hdr = gatherHdr{nmoves: uintptr(len(p.moves)), nstack: uintptr(nstack), nvec: uintptr(nvec), sretSize: sretSize}
	if len(p.moves) > 0 {
		p.hdr.moves = unsafe.Pointer(&p.moves[0])
	}
	return p, nil
}

// gatherPair is the Size of a fused move (RP_GM_PAIR): two eightbytes of
// one value to two stack words, written with one 16-byte store.
const gatherPair = 16

// fusePairs returns a copy of moves in which, where the trampoline can
// (gatherPairs), two moves of consecutive eightbytes of one value to
// consecutive stack words become one fused move, paired from the
// value's first eightbyte on: the layout a compiler's copy stores, so
// that the callee's 16-byte loads of it are forwarded from one store
// instead of waiting for two (docs/PERFORMANCE.md). The moves were
// checked one by one; a fused move covers exactly the two it replaces.
func fusePairs(moves []GatherMove) []GatherMove {
	out := make([]GatherMove, 0, len(moves))
	for i := 0; i < len(moves); i++ {
		m := moves[i]
		if gatherPairs && i+1 < len(moves) && m.Dst >= GatherRegs && m.Size == 8 && m.Conv == 0 {
			n := moves[i+1]
			if n.Arg == m.Arg && n.Src == m.Src+8 && n.Dst == m.Dst+1 && n.Size == 8 && n.Conv == 0 {
				m.Size = gatherPair
				i++
			}
		}
		out = append(out, m)
	}
	return out
}

// SRetSize returns the size of the result in memory the program expects
// a buffer for (0 if none).
func (p *GatherProgram) SRetSize() uintptr { return p.hdr.sretSize }
