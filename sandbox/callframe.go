package sandbox

import "unsafe"

// Frame is the whole of a general native call under the SysV AMD64 ABI:
// the argument registers, the stack arguments, al, and a buffer for a
// result returned in memory. Package abi plans what goes where; the loader
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

	// SRet, when not nil, points to SRetSize bytes that receive a result
	// of class MEMORY. The callee writes it in a buffer on the calling
	// thread's system stack, whose address it gets in rdi (the hidden
	// first argument), and the buffer is copied to SRet after it returns:
	// SRet may be Go memory, even on the goroutine's stack.
	SRet     unsafe.Pointer
	SRetSize uintptr
}

// FrameResult holds the result registers of a general call: rax and rdx,
// and the bits of xmm0 and xmm1 (a float result is in the low 32 bits).
type FrameResult struct {
	RAX, RDX   uint64
	XMM0, XMM1 uint64
}

// Limits of a Frame, the bounds of rp_frame_thunk's stack use.
const (
	MaxFrameStack = 1 << 16 // bytes of stack arguments
	MaxFrameSRet  = 1 << 16 // bytes of a result in memory
)
