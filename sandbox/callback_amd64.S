//go:build linux && amd64 && cgo

// callback_amd64.S: the common entry of host callbacks for linux/amd64
// (SysV ABI).
//
// Every callback has a thunk of its own in an executable page that
// callback.go generates:
//
//	movabs $ID, %r11
//	movabs $rp_cb_entry, %r10
//	jmp    *%r10
//
// r10 and r11 are scratch registers that no argument uses. rp_cb_entry
// stores the six integer and eight vector argument registers into a struct
// rp_args on its own stack, calls rp_cb_c(ID, &args) (callback.c), which
// runs the Go function and writes the result registers into args.i[0] and
// args.f[0], and returns them in rax and xmm0.

#include "sandbox.h"

	.text

	.globl	rp_cb_entry
	.hidden	rp_cb_entry
	.type	rp_cb_entry, @function
	.p2align 4
rp_cb_entry:
	.cfi_startproc
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbp, 0
	movq	%rsp, %rbp
	.cfi_def_cfa_register %rbp
	// Entry rsp = 8 mod 16; after the push it is 0 mod 16, and struct
	// rp_args is 112 bytes: the call below is aligned.
	subq	$112, %rsp
	movq	%rdi, RP_A_INT+0(%rsp)
	movq	%rsi, RP_A_INT+8(%rsp)
	movq	%rdx, RP_A_INT+16(%rsp)
	movq	%rcx, RP_A_INT+24(%rsp)
	movq	%r8, RP_A_INT+32(%rsp)
	movq	%r9, RP_A_INT+40(%rsp)
	movsd	%xmm0, RP_A_FLOAT+0(%rsp)
	movsd	%xmm1, RP_A_FLOAT+8(%rsp)
	movsd	%xmm2, RP_A_FLOAT+16(%rsp)
	movsd	%xmm3, RP_A_FLOAT+24(%rsp)
	movsd	%xmm4, RP_A_FLOAT+32(%rsp)
	movsd	%xmm5, RP_A_FLOAT+40(%rsp)
	movsd	%xmm6, RP_A_FLOAT+48(%rsp)
	movsd	%xmm7, RP_A_FLOAT+56(%rsp)
	movl	%r11d, %edi
	movq	%rsp, %rsi
	call	rp_cb_c
	movq	RP_A_INT+0(%rsp), %rax
	movsd	RP_A_FLOAT+0(%rsp), %xmm0
	leave
	.cfi_def_cfa %rsp, 8
	ret
	.cfi_endproc
	.size	rp_cb_entry, .-rp_cb_entry

	.section .note.GNU-stack,"",@progbits
