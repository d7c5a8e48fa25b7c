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
// r11 is a scratch register that no argument uses. rp_cb_entry builds a
// struct rp_cbframe (callback.h) at the bottom of its stack frame: the six
// integer and eight vector argument registers and the id. Outside any
// protected call, and with no cgo traceback context function installed
// (the common case), it enters Go itself: crosscall2(rp_cb_gofn, frame,
// 0, 0), which is what a cgo //export wrapper does minus its two calls
// into runtime/cgo for the traceback context (docs/ASSUMPTIONS.md).
// Otherwise rp_cb_c (callback.c) brackets the protected call and does the
// wrapper's whole protocol. The Go function (dispatch, callback.go)
// runs the callback and writes the result registers into the frame's
// args.i[0..1] and args.f[0..1], which the entry returns in rax, rdx,
// xmm0 and xmm1.

#include "callback.h"

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
	subq	$RP_CB_SIZE, %rsp
	// Entry rsp = 8 mod 16; after the push it is 0 mod 16, and
	// RP_CB_SIZE is too: the calls below are aligned. The frame is the
	// bottom of this one: the Go side finds the caller's stack
	// arguments RP_CB_SIZE+16 bytes above it (cbStackArgs, callback_cgo.go).
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
	// id, and incall and done = 0 (movl above zero-extended r11): one
	// store.
	movq	%r11, RP_CB_ID(%rsp)
	// In a protected call (rp_self.cur is not NULL), rp_cb_c brackets it.
	movq	rp_self@gottpoff(%rip), %rax
	cmpq	$0, %fs:RP_T_CUR(%rax)
	jne	1f
	// RelayForeignThreads hands such calls to a Go thread (relay.c).
	cmpq	$0, rp_foreign_fwd(%rip)
	jne	3f
	// With a cgo traceback context function installed, rp_cb_c calls it
	// as a cgo //export wrapper does.
	call	_cgo_get_context_function@PLT
	testq	%rax, %rax
	jne	1f
	movq	rp_cb_gofn(%rip), %rdi
	movq	%rsp, %rsi
	xorl	%edx, %edx
	xorl	%ecx, %ecx
	call	crosscall2@PLT
	jmp	2f
3:
	movq	%rsp, %rdi
	call	*rp_foreign_fwd(%rip)
	jmp	2f
1:
	movq	%rsp, %rdi
	call	rp_cb_c@PLT
2:
	// rax and xmm0, and for rp_cb_entry the second eightbytes of a
	// 16-byte struct result in rdx and xmm1 (a raw or frame function
	// writes them into Int[1] and Float[1]; otherwise they hold an
	// argument: scratch). The register and integer forms, the only ones
	// rp_cb_entry_iN serves, return rax and xmm0 alone.
	movq	RP_A_INT+0(%rsp), %rax
	movsd	RP_A_FLOAT+0(%rsp), %xmm0
.if \floats
	movq	RP_A_INT+8(%rsp), %rdx
	movsd	RP_A_FLOAT+8(%rsp), %xmm1
.endif
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

// The first thunk page, built into the binary: thunk k is what
// encodeThunk (thunk_amd64.go) writes for id k, jumping through cell k of
// rp_cb_cells0. The process's first 128 callbacks (the dynamic-linker
// imports of its first plugin, above all) then cost no mmap, mprotect or
// fresh page (mapThunkPage). It is read-and-execute text like the code
// around it; the cells are data.
	.p2align 12
	.globl	rp_cb_thunks0
	.hidden	rp_cb_thunks0
rp_cb_thunks0:
	.set	k, 0
	.rept	128
	.byte	0x41, 0xbb		// movl $k, %r11d
	.long	k
	.byte	0xff, 0x25		// jmp *rp_cb_cells0+8*k(%rip)
	.long	rp_cb_cells0 + 8*k - (. + 4)
	.balign	32, 0xcc
	.set	k, k+1
	.endr
	.size	rp_cb_thunks0, .-rp_cb_thunks0

	.bss
	.p2align 12
	.globl	rp_cb_cells0
	.hidden	rp_cb_cells0
rp_cb_cells0:
	.zero	8*128
	.size	rp_cb_cells0, .-rp_cb_cells0

	.section .note.GNU-stack,"",@progbits
