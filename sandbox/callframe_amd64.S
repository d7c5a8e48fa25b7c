// callframe_amd64.S: the general call, for signatures the register-only
// path of rp_call cannot make (stack arguments, a result in memory or in
// rdx/xmm1, variadic callees).
//
// rp_frame_thunk is not called by Go: Go runs rp_call (sandbox_amd64.S)
// with a struct rp_framerec whose c.fn is rp_frame_thunk and whose c.args
// is a whole struct rp_args. So every protection of rp_call (the frame that
// faults and deadlines unwind to, gates, deadline slots) is rp_call's own,
// unchanged and at no cost to its other calls; the thunk only adds what
// the general call needs between rp_call's register loads and fn.
//
// On entry: the argument registers hold c.args (rdi..r9, xmm0..xmm7: the
// first member of the struct rp_frameargs, the Go Frame, that c.args
// points to), al = 8, rbx = the record (rp_call keeps c there; no callback
// has run yet, so it is current), and rsp + 8 = rp_call's frame. The
// thunk:
//
//   - pushes rbp and keeps its rsp in rbp (16-byte aligned: rp_call's
//     frame is), to find its way back whatever fn does to the stack;
//   - for a result in memory, reserves sretsize bytes (rounded to 16) and
//     points rdi at them: the buffer is on this system stack, which does
//     not move, unlike the goroutine's stack the record is on;
//   - copies nstack words to the stack arguments (their count rounded to
//     even, so that rsp is 16-byte aligned at the call), sets al = nvec
//     and calls fn;
//   - after it, reloads the record through the frame (a callback into Go
//     may have moved it, see RP_FR_RESULT) and stores rdx and xmm1 there,
//     and copies the result buffer to the Frame's SRet, found through the
//     record's args: Go pointers that Go's stack copying keeps current, as
//     it does every pointer in a frame;
//   - returns to rp_call with rax and xmm0 as fn left them.
//
// A fault or a deadline in fn unwinds to rp_call's frame as for any call:
// the thunk's stack lies below it and is dropped with fn's, and rp_call's
// epilogue restores rbp. The thunk runs while the frame is the thread's
// current one, before and after fn: a deadline that fires in those few
// instructions ends the call as interrupted (fn's result, if it had one,
// is then dropped: the caller gets the error and a zero result).

#include "sandbox.h"

	.text
	.globl	rp_frame_thunk
	.hidden	rp_frame_thunk
	.type	rp_frame_thunk, @function
	.p2align 4
rp_frame_thunk:
	.cfi_startproc
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbp, 0
	movq	%rsp, %rbp
	.cfi_def_cfa_register %rbp
	movq	RP_C_ARGS(%rbx), %r10		// the struct rp_frameargs
	movq	RP_F_SRETSIZE(%r10), %rax
	testq	%rax, %rax
	jz	1f
	addq	$15, %rax
	andq	$-16, %rax
	subq	%rax, %rsp
	movq	%rsp, %rdi			// the hidden result pointer
1:
	movq	RP_F_NSTACK(%r10), %r11
	leaq	1(%r11), %rax
	andq	$-2, %rax
	shlq	$3, %rax
	subq	%rax, %rsp
	movq	RP_F_STACK(%r10), %r10
	testq	%r11, %r11
	jz	3f
2:
	movq	-8(%r10,%r11,8), %rax
	movq	%rax, -8(%rsp,%r11,8)
	decq	%r11
	jnz	2b
3:
	movq	RP_C_ARGS(%rbx), %rax
	movzbl	RP_F_NVEC(%rax), %eax
	movq	RP_FX_FN(%rbx), %r11
	callq	*%r11
	movq	RP_FR_RESULT+16(%rbp), %r10	// the record, where it is now
	movq	%rdx, RP_FX_RDX(%r10)
	movq	%xmm1, RP_FX_XMM1(%r10)
	movq	RP_C_ARGS(%r10), %r10		// the frame args, where they are now
	movq	RP_F_SRETSIZE(%r10), %rcx
	testq	%rcx, %rcx
	jz	4f
	movq	RP_F_SRET(%r10), %rdi
	leaq	15(%rcx), %rsi
	andq	$-16, %rsi
	negq	%rsi
	addq	%rbp, %rsi			// the buffer, at rbp - rounded size
	// Copy rcx bytes, eight at a time and then one at a time, never past
	// the end of sret (rep movsb costs more to start than a small result).
5:
	cmpq	$8, %rcx
	jb	6f
	movq	(%rsi), %r11
	movq	%r11, (%rdi)
	addq	$8, %rsi
	addq	$8, %rdi
	subq	$8, %rcx
	jmp	5b
6:
	testq	%rcx, %rcx
	jz	4f
	movb	(%rsi), %r11b
	movb	%r11b, (%rdi)
	incq	%rsi
	incq	%rdi
	decq	%rcx
	jmp	6b
4:
	movq	%rbp, %rsp
	popq	%rbp
	.cfi_def_cfa %rsp, 8
	ret
	.cfi_endproc
	.size	rp_frame_thunk, .-rp_frame_thunk

	.section .note.GNU-stack,"",@progbits
