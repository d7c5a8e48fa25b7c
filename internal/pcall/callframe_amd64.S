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
	movq	RP_C_ARGS(%r10), %r11		// the frame args, where they are now
	movq	RP_F_SRETSIZE(%r11), %rcx
	movq	RP_F_SRET(%r11), %rdi
	jmp	.Lthunk_out
	.cfi_endproc
	.size	rp_frame_thunk, .-rp_frame_thunk

// rp_gather_thunk: the general call for callers that have their argument
// values in memory (the loader's bindings): entered as rp_frame_thunk is,
// but with no argument register loaded (c.nints = 0) and rbx = a struct
// rp_gatherrec. Below rp_call's frame it reserves the result buffer, a
// 14-word image of the argument registers and the stack arguments, runs
// the program's moves (each an eightbyte, or fewer bytes, read from an
// argument value and sign-extended or widened to double as asked) into the
// image and the stack words, loads the registers from the image (words no
// move wrote are not arguments: their garbage is never read), sets al and
// calls fn. The moves were checked when the program was made (their
// destinations within the image and the stack words, their arguments
// within argv), so nothing here writes out of bounds. After fn it stores
// and pops st0 when the program says the result is a long double (left on
// the x87 stack, eight such results would overflow it), then does what
// rp_frame_thunk does, with the record's sret.
	.globl	rp_gather_thunk
	.hidden	rp_gather_thunk
	.type	rp_gather_thunk, @function
	.p2align 4
rp_gather_thunk:
	.cfi_startproc
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbp, 0
	movq	%rsp, %rbp
	.cfi_def_cfa_register %rbp
	movq	RP_GX_PROG(%rbx), %r10		// the program
	movq	RP_GP_SRETSIZE(%r10), %rax
	addq	$15, %rax
	andq	$-16, %rax
	subq	%rax, %rsp			// the result buffer (maybe none)
	movq	%rsp, %r9			// r9 = its address
	subq	$RP_GM_REGS*8, %rsp		// the register image (struct rp_args)
	movq	%rsp, %r8			// r8 = the image
	movq	RP_GP_NSTACK(%r10), %rax
	addq	$1, %rax
	andq	$-2, %rax
	shlq	$3, %rax
	subq	%rax, %rsp			// the stack words, rsp 16-byte aligned
	movq	%r9, RP_A_INT+0(%r8)		// rdi = the result buffer, unless a move says otherwise
	movq	RP_GX_ARGV(%rbx), %rdi		// rdi = argv
	movq	RP_GP_MOVES(%r10), %rsi		// rsi = the moves
	movq	RP_GP_NMOVES(%r10), %rdx	// rdx = how many
	testq	%rdx, %rdx
	jz	.Lg_load
.Lg_move:
	movl	RP_GM_ARG(%rsi), %eax
	movq	(%rdi,%rax,8), %r11		// the argument's address
	movl	RP_GM_SRC(%rsi), %eax
	addq	%rax, %r11			// the eightbyte's
	movzbl	RP_GM_SIZE(%rsi), %ecx
	cmpl	$8, %ecx
	jne	.Lg_small
	movq	(%r11), %rax
	jmp	.Lg_conv
	// A fused pair (NewGatherProgram): two eightbytes of a value passed
	// on the stack, read as two and written as one 16-byte store, the
	// way a compiler copies it; the callee then reads its first sixteen
	// bytes with one load that the store forwards to (a load spanning two
	// 8-byte stores waits for both to reach the cache: AMD Zen, Intel).
.Lg_pair:
	movq	(%r11), %xmm0
	movhps	8(%r11), %xmm0
	movl	RP_GM_DST(%rsi), %ecx
	movdqu	%xmm0, -RP_GM_REGS*8(%rsp,%rcx,8)
	jmp	.Lg_next
.Lg_small:
	cmpl	$RP_GM_PAIR, %ecx
	je	.Lg_pair
	// Fewer than 8 bytes: read them last to first into rax.
	xorl	%eax, %eax
.Lg_byte:
	shlq	$8, %rax
	movzbl	-1(%r11,%rcx), %r10d
	orq	%r10, %rax
	decl	%ecx
	jnz	.Lg_byte
.Lg_conv:
	movzbl	RP_GM_CONV(%rsi), %ecx
	testl	%ecx, %ecx
	jz	.Lg_store
	cmpl	$RP_GM_SEXT, %ecx
	jne	.Lg_f32
	movzbl	RP_GM_SIZE(%rsi), %ecx
	negl	%ecx
	leal	64(,%rcx,8), %ecx		// 64 - 8*size
	shlq	%cl, %rax
	sarq	%cl, %rax
	jmp	.Lg_store
.Lg_f32:
	movd	%eax, %xmm0
	cvtss2sd %xmm0, %xmm0
	movq	%xmm0, %rax
.Lg_store:
	movl	RP_GM_DST(%rsi), %ecx
	cmpl	$RP_GM_REGS, %ecx
	jae	.Lg_stack
	movq	%rax, (%r8,%rcx,8)
	jmp	.Lg_next
.Lg_stack:
	movq	%rax, -RP_GM_REGS*8(%rsp,%rcx,8)
.Lg_next:
	addq	$RP_GM_BYTES, %rsi
	decq	%rdx
	jnz	.Lg_move
.Lg_load:
	movsd	RP_A_FLOAT+0(%r8), %xmm0
	movsd	RP_A_FLOAT+8(%r8), %xmm1
	movsd	RP_A_FLOAT+16(%r8), %xmm2
	movsd	RP_A_FLOAT+24(%r8), %xmm3
	movsd	RP_A_FLOAT+32(%r8), %xmm4
	movsd	RP_A_FLOAT+40(%r8), %xmm5
	movsd	RP_A_FLOAT+48(%r8), %xmm6
	movsd	RP_A_FLOAT+56(%r8), %xmm7
	movq	RP_A_INT+0(%r8), %rdi
	movq	RP_A_INT+8(%r8), %rsi
	movq	RP_A_INT+16(%r8), %rdx
	movq	RP_A_INT+24(%r8), %rcx
	movq	RP_A_INT+40(%r8), %r9
	movq	RP_A_INT+32(%r8), %r8
	movq	RP_GX_PROG(%rbx), %rax
	movq	RP_GP_NVEC(%rax), %rax		// al
	movq	RP_GX_FN(%rbx), %r11
	callq	*%r11
	movq	RP_FR_RESULT+16(%rbp), %r10	// the record, where it is now
	movq	RP_GX_PROG(%r10), %r11
	cmpq	$0, RP_GP_X87(%r11)
	je	7f
	fstpt	RP_GX_ST0(%r10)			// a long double: store st0 and pop it
7:
	movq	RP_GP_SRETSIZE(%r11), %rcx
	movq	RP_GX_SRET(%r10), %rdi
	// The way out of both thunks: r10 = the record, rcx = the size of a
	// result in memory (0: none) and rdi = where it goes.
.Lthunk_out:
	movq	%rdx, RP_FX_RDX(%r10)
	movq	%xmm1, RP_FX_XMM1(%r10)
	testq	%rcx, %rcx
	jz	.Lthunk_ret
	leaq	15(%rcx), %rsi
	andq	$-16, %rsi
	negq	%rsi
	addq	%rbp, %rsi			// the buffer, at rbp - rounded size
	// Copy rcx bytes, eight at a time and then one at a time, never past
	// the end of the destination (rep movsb costs more to start than a
	// small result).
.Lcopy8:
	cmpq	$8, %rcx
	jb	.Lcopy1
	movq	(%rsi), %r11
	movq	%r11, (%rdi)
	addq	$8, %rsi
	addq	$8, %rdi
	subq	$8, %rcx
	jmp	.Lcopy8
.Lcopy1:
	testq	%rcx, %rcx
	jz	.Lthunk_ret
	movb	(%rsi), %r11b
	movb	%r11b, (%rdi)
	incq	%rsi
	incq	%rdi
	decq	%rcx
	jmp	.Lcopy1
.Lthunk_ret:
	movq	%rbp, %rsp
	popq	%rbp
	.cfi_def_cfa %rsp, 8
	ret
	.cfi_endproc
	.size	rp_gather_thunk, .-rp_gather_thunk

	.section .note.GNU-stack,"",@progbits
