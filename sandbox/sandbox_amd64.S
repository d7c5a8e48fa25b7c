// sandbox_amd64.S: the protected-call trampoline for linux/amd64 (SysV ABI).
//
// rp_invoke(struct rp_frame *fr) saves everything a return must restore
// (the callee-saved registers rbx, rbp, r12-r15, the MXCSR and x87 control
// words, which the ABI also makes callee-saved) in its own stack frame,
// records that frame's stack pointer in fr->sp, loads the argument
// registers from fr and calls fr->fn. This is a setjmp without the
// signal-mask save: no system call on the way in or out.
//
// When the signal handler claims a fault it rewrites the interrupted
// context (RIP = rp_recover, RSP = fr->sp) and returns; the kernel's
// sigreturn then restores the thread's signal mask and resumes here, on
// the trampoline's own frame, above every frame the plugin pushed.
// rp_recover puts the FPU/SSE control state and the direction flag back the
// way the ABI requires and returns 1 from rp_invoke.

#include "sandbox.h"

	.text

	.globl	rp_invoke
	.hidden	rp_invoke
	.type	rp_invoke, @function
	.p2align 4
rp_invoke:
	.cfi_startproc
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbp, 0
	pushq	%rbx
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbx, 0
	pushq	%r12
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r12, 0
	pushq	%r13
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r13, 0
	pushq	%r14
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r14, 0
	pushq	%r15
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r15, 0
	// Entry rsp = 8 mod 16; after six pushes still 8 mod 16; 24 more
	// bytes make it 16-byte aligned for the call. 0(%rsp) holds MXCSR,
	// 4(%rsp) the x87 control word.
	subq	$24, %rsp
	.cfi_adjust_cfa_offset 24
	stmxcsr	0(%rsp)
	fnstcw	4(%rsp)
	movq	%rdi, %rbx
	movq	%rsp, RP_FR_SP(%rbx)
	movsd	RP_FR_FLOAT+0(%rbx), %xmm0
	movsd	RP_FR_FLOAT+8(%rbx), %xmm1
	movsd	RP_FR_FLOAT+16(%rbx), %xmm2
	movsd	RP_FR_FLOAT+24(%rbx), %xmm3
	movsd	RP_FR_FLOAT+32(%rbx), %xmm4
	movsd	RP_FR_FLOAT+40(%rbx), %xmm5
	movsd	RP_FR_FLOAT+48(%rbx), %xmm6
	movsd	RP_FR_FLOAT+56(%rbx), %xmm7
	movq	RP_FR_INT+0(%rbx), %rdi
	movq	RP_FR_INT+8(%rbx), %rsi
	movq	RP_FR_INT+16(%rbx), %rdx
	movq	RP_FR_INT+24(%rbx), %rcx
	movq	RP_FR_INT+32(%rbx), %r8
	movq	RP_FR_INT+40(%rbx), %r9
	movq	RP_FR_FN(%rbx), %r11
	movl	$8, %eax		// vector registers used, for variadic callees
	callq	*%r11
	movq	%rax, RP_FR_RAX(%rbx)
	movsd	%xmm0, RP_FR_XMM0(%rbx)
	xorl	%eax, %eax
.Lreturn:
	addq	$24, %rsp
	.cfi_adjust_cfa_offset -24
	popq	%r15
	.cfi_adjust_cfa_offset -8
	popq	%r14
	.cfi_adjust_cfa_offset -8
	popq	%r13
	.cfi_adjust_cfa_offset -8
	popq	%r12
	.cfi_adjust_cfa_offset -8
	popq	%rbx
	.cfi_adjust_cfa_offset -8
	popq	%rbp
	.cfi_adjust_cfa_offset -8
	ret
	.cfi_endproc
	.size	rp_invoke, .-rp_invoke

	// rp_recover: entered by the signal handler's context rewrite with
	// rsp = fr->sp (the frame rp_invoke built). Never called.
	.globl	rp_recover
	.hidden	rp_recover
	.type	rp_recover, @function
	.p2align 4
rp_recover:
	cld
	fninit				// drop whatever the plugin left on the x87 stack
	fldcw	4(%rsp)
	ldmxcsr	0(%rsp)
	movl	$1, %eax
	jmp	.Lreturn
	.size	rp_recover, .-rp_recover

	// rp_resume(uint64_t sp): unwind to the recovery point saved at sp.
	// Used by rp_abort_current and rp_callback_leave (plain C code, so no
	// signal context to rewrite).
	.globl	rp_resume
	.hidden	rp_resume
	.type	rp_resume, @function
	.p2align 4
rp_resume:
	movq	%rdi, %rsp
	jmp	rp_recover
	.size	rp_resume, .-rp_resume

	.section .note.GNU-stack,"",@progbits
