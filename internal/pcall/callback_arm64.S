//go:build linux && arm64 && cgo

// callback_arm64.S: the common entry of host callbacks for linux/arm64
// (AAPCS64). The protocol is callback_amd64.S's (read that file's comment
// first); what differs:
//
//   - The thunk (thunk_arm64.go) loads its id into w17 and branches to its
//     cell's entry through x16: IP1 and IP0, the scratch registers no
//     argument uses. The entry begins with a BTI landing pad (a no-op
//     where branch protection is off) that admits that branch.
//   - The frame saves x0-x5 and d0-d7 in struct rp_args (six integer
//     slots, x86-64's count) and, for rp_cb_entry, x6, x7 and x8 (the
//     result buffer of a struct returned in memory) in more[] (MoreRegs),
//     then the high halves of v0-v7 (VecHighs: long doubles in q
//     registers).
//   - The frame record (x29, x30) lies above the frame, so the caller's
//     stack arguments begin RP_CB_SIZE+16 bytes above it, at the caller's
//     sp, as on x86-64 (cbStackArgs).
//   - The result: x0 and d0, and for rp_cb_entry x1 and d1-d3 (a 16-byte
//     struct in x0:x1, or an HFA of up to four in d0-d3) with the high
//     halves of v0-v3 (q0-q3: long doubles).

#include "callback.h"

	.text

.macro CB_ENTRY name, ints, floats
	.globl	\name
	.hidden	\name
	.type	\name, %function
	.p2align 4
\name:
	.cfi_startproc
	hint	#34				// bti c
	stp	x29, x30, [sp, #-16]!
	.cfi_def_cfa_offset 16
	.cfi_offset x29, -16
	.cfi_offset x30, -8
	mov	x29, sp
	.cfi_def_cfa x29, 16
	sub	sp, sp, #RP_CB_SIZE		// sp stays 16-byte aligned
.if \ints > 1
	stp	x0, x1, [sp, #RP_A_INT+0]
.elseif \ints > 0
	str	x0, [sp, #RP_A_INT+0]
.endif
.if \ints > 3
	stp	x2, x3, [sp, #RP_A_INT+16]
.elseif \ints > 2
	str	x2, [sp, #RP_A_INT+16]
.endif
.if \ints > 5
	stp	x4, x5, [sp, #RP_A_INT+32]
.elseif \ints > 4
	str	x4, [sp, #RP_A_INT+32]
.endif
.if \floats
	stp	x6, x7, [sp, #RP_CB_MORE]
	str	x8, [sp, #RP_CB_MORE+16]
	stp	d0, d1, [sp, #RP_A_FLOAT+0]
	stp	d2, d3, [sp, #RP_A_FLOAT+16]
	stp	d4, d5, [sp, #RP_A_FLOAT+32]
	stp	d6, d7, [sp, #RP_A_FLOAT+48]
	// The high halves of v0-v7 (long doubles: IEEE binary128 in whole q
	// registers), lane 1 of four registers per store.
	add	x9, sp, #RP_CB_VHI
	st4	{v0.d, v1.d, v2.d, v3.d}[1], [x9], #32
	st4	{v4.d, v5.d, v6.d, v7.d}[1], [x9]
.endif
	// id, and incall and done = 0 (the movz/movk of w17 zeroed x17's
	// upper half): one store.
	str	x17, [sp, #RP_CB_ID]
	// In a protected call (rp_self.cur is not NULL), rp_cb_c brackets it.
	mrs	x9, tpidr_el0
	adrp	x10, :gottprel:rp_self
	ldr	x10, [x10, #:gottprel_lo12:rp_self]
	add	x9, x9, x10
	ldr	x10, [x9, #RP_T_CUR]
	cbnz	x10, 1f
	// RelayForeignThreads hands such calls to a Go thread (relay.c).
	adrp	x10, rp_foreign_fwd
	ldr	x10, [x10, #:lo12:rp_foreign_fwd]
	cbnz	x10, 3f
	// With a cgo traceback context function installed, rp_cb_c calls it
	// as a cgo //export wrapper does.
	bl	_cgo_get_context_function
	cbnz	x0, 1f
	adrp	x10, rp_cb_gofn
	ldr	x0, [x10, #:lo12:rp_cb_gofn]
	mov	x1, sp
	mov	x2, #0
	mov	x3, #0
	bl	crosscall2
	b	2f
3:
	mov	x0, sp
	blr	x10
	b	2f
1:
	mov	x0, sp
	bl	rp_cb_c
2:
	ldr	x0, [sp, #RP_A_INT+0]
	ldr	d0, [sp, #RP_A_FLOAT+0]
.if \floats
	ldr	x1, [sp, #RP_A_INT+8]
	ldr	d1, [sp, #RP_A_FLOAT+8]
	ldp	d2, d3, [sp, #RP_A_FLOAT+16]
	add	x9, sp, #RP_CB_VHI
	ld4	{v0.d, v1.d, v2.d, v3.d}[1], [x9] // long double results: q0-q3 whole
.endif
	mov	sp, x29
	ldp	x29, x30, [sp], #16
	.cfi_def_cfa sp, 0
	ret
	.cfi_endproc
	.size	\name, .-\name
.endm

	CB_ENTRY rp_cb_entry, 6, 1
	// For callbacks whose Go function takes N integer arguments and no
	// float one (NewCallbackRegs, NewCallbackInts).
	CB_ENTRY rp_cb_entry_i0, 0, 0
	CB_ENTRY rp_cb_entry_i1, 1, 0
	CB_ENTRY rp_cb_entry_i2, 2, 0
	CB_ENTRY rp_cb_entry_i3, 3, 0
	CB_ENTRY rp_cb_entry_i4, 4, 0
	CB_ENTRY rp_cb_entry_i5, 5, 0
	CB_ENTRY rp_cb_entry_i6, 6, 0

	.section .note.GNU-stack,"",%progbits
