//go:build linux && amd64 && cgo

// callback_amd64.S: the common entry of host callbacks for linux/amd64
// (SysV ABI).
//
// Every callback has a thunk of its own in an executable page that
// callback_cgo.go generates:
//
//	movl $ID, %r11d
//	jmp  *cell(%rip)   // the slot's entry: rp_cb_entry or rp_cb_entry_iN
//
// r11 is a scratch register that no argument uses. rp_cb_entry
// stores the six integer and eight vector argument registers into a struct
// rp_args on its own stack, calls rp_cb_c(ID, &args) (callback.c) or,
// outside any protected call, the Go dispatcher's cgo wrapper
// rpGoCallback(ID, &args, 0) directly; either runs the Go function and
// writes the result registers into args.i[0] and args.f[0], which it
// returns in rax and xmm0.

#include "sandbox.h"

	.text

// CB_ENTRY name, ints, floats: an entry that saves the first ints integer
// argument registers and, when floats is 1, the vector ones.
.macro CB_ENTRY name, ints, floats
	.globl	\name
	.hidden	\name
	.type	\name, @function
	.p2align 4
\name:
	.cfi_startproc
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbp, 0
	movq	%rsp, %rbp
	.cfi_def_cfa_register %rbp
	// Entry rsp = 8 mod 16; after the push it is 0 mod 16, and struct
	// rp_args is 112 bytes: the call below is aligned. rp_args is the
	// bottom of this frame: the Go side finds the caller's stack
	// arguments 112+16 bytes above it (cbStackArgs, callback_cgo.go).
	subq	$112, %rsp
.if \ints > 0
	movq	%rdi, RP_A_INT+0(%rsp)
.endif
.if \ints > 1
	movq	%rsi, RP_A_INT+8(%rsp)
.endif
.if \ints > 2
	movq	%rdx, RP_A_INT+16(%rsp)
.endif
.if \ints > 3
	movq	%rcx, RP_A_INT+24(%rsp)
.endif
.if \ints > 4
	movq	%r8, RP_A_INT+32(%rsp)
.endif
.if \ints > 5
	movq	%r9, RP_A_INT+40(%rsp)
.endif
.if \floats
	movsd	%xmm0, RP_A_FLOAT+0(%rsp)
	movsd	%xmm1, RP_A_FLOAT+8(%rsp)
	movsd	%xmm2, RP_A_FLOAT+16(%rsp)
	movsd	%xmm3, RP_A_FLOAT+24(%rsp)
	movsd	%xmm4, RP_A_FLOAT+32(%rsp)
	movsd	%xmm5, RP_A_FLOAT+40(%rsp)
	movsd	%xmm6, RP_A_FLOAT+48(%rsp)
	movsd	%xmm7, RP_A_FLOAT+56(%rsp)
.endif
	movl	%r11d, %edi
	movq	%rsp, %rsi
	// Outside any protected call (rp_self.cur is NULL) there is nothing
	// to bracket: call the Go dispatcher's cgo wrapper directly, one C
	// frame less between this entry and cgo's callback path.
	movq	rp_self@gottpoff(%rip), %rax
	cmpq	$0, %fs:RP_T_CUR(%rax)
	jne	1f
	// RelayForeignThreads hands such calls to a Go thread (relay.c).
	cmpq	$0, rp_foreign_fwd(%rip)
	jne	3f
	xorl	%edx, %edx
	call	rpGoCallback
	jmp	2f
3:
	call	*rp_foreign_fwd(%rip)
	jmp	2f
1:
	call	rp_cb_c
2:
	// rax and xmm0, and the second eightbytes of a 16-byte struct
	// result in rdx and xmm1 (a raw function writes them into Int[1]
	// and Float[1]; otherwise they hold an argument: scratch).
	movq	RP_A_INT+0(%rsp), %rax
	movq	RP_A_INT+8(%rsp), %rdx
	movsd	RP_A_FLOAT+0(%rsp), %xmm0
	movsd	RP_A_FLOAT+8(%rsp), %xmm1
	leave
	.cfi_def_cfa %rsp, 8
	ret
	.cfi_endproc
	.size	\name, .-\name
.endm

	CB_ENTRY rp_cb_entry, 6, 1
	// For callbacks whose Go function takes N integer arguments and no
	// float one (NewCallbackRegs): each store saved counts, since the
	// stores before cgo's locked instructions drain there.
	CB_ENTRY rp_cb_entry_i0, 0, 0
	CB_ENTRY rp_cb_entry_i1, 1, 0
	CB_ENTRY rp_cb_entry_i2, 2, 0
	CB_ENTRY rp_cb_entry_i3, 3, 0
	CB_ENTRY rp_cb_entry_i4, 4, 0
	CB_ENTRY rp_cb_entry_i5, 5, 0
	CB_ENTRY rp_cb_entry_i6, 6, 0

	.section .note.GNU-stack,"",@progbits
