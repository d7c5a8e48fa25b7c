//go:build linux && cgo

// tlsdesc_arm64.S: the resolvers of TLS descriptors (R_AARCH64_TLSDESC,
// the default model of -fPIC thread-local access on AArch64) for the
// objects runplug loads.
//
// A descriptor is {entry, arg}. Code reaches a thread-local variable by
//
//	adrp x0, :tlsdesc:var
//	ldr  x1, [x0, #:tlsdesc_lo12:var]
//	add  x0, x0, #:tlsdesc_lo12:var
//	blr  x1                  // x0 = &descriptor
//	mrs  x1, tpidr_el0
//	ldr  w2, [x1, x0]        // x0 = &var - thread pointer
//
// and counts on every register but x0, x30 (the return address) and the
// flags being preserved: the call site saves nothing.
//
// rp_tlsdesc_static serves a variable in static TLS: arg is its offset
// from the thread pointer (positive: TLS variant I).
//
// rp_tlsdesc_dynamic serves a variable of a dynamic module of tls.c: arg is
// module | offset << RP_TLSDESC_MOD_BITS. Its fast path reads the thread's
// block as rp_tls_get_addr's does, with x1-x4 saved. Its slow path calls
// rp_tls_get_addr, a C function that may change every register AAPCS64
// lets a callee change (malloc and memcpy do): it saves x5-x18 and the
// whole of v0-v31 (AAPCS64 keeps only the low halves of v8-v15, and the
// caller here expects all 128 bits of every vector register kept), as
// glibc's _dl_tlsdesc_dynamic saves what a call may clobber. SVE state
// beyond the low 128 bits is not saved: a compiler marks it clobbered
// across a TLSDESC call, as across any call.
//
// Both begin with BTI C: they are reached by an indirect call.

#include "tls.h"

// The slow path's frame, above the frame record {x29, x30}: the index
// {module, offset} that rp_tls_get_addr reads, x5-x18, then q0-q31.
#define SLOW_INDEX 16
#define SLOW_X 32
#define SLOW_Q 144
#define SLOW_SIZE (SLOW_Q + 32 * 16)

	.text

	.globl	rp_tlsdesc_static
	.hidden	rp_tlsdesc_static
	.type	rp_tlsdesc_static, %function
	.p2align 4
rp_tlsdesc_static:
	.cfi_startproc
	hint	#34 // BTI C (a NOP without BTI)
	ldr	x0, [x0, #8]
	ret
	.cfi_endproc
	.size	rp_tlsdesc_static, .-rp_tlsdesc_static

	.globl	rp_tlsdesc_dynamic
	.hidden	rp_tlsdesc_dynamic
	.type	rp_tlsdesc_dynamic, %function
	.p2align 4
rp_tlsdesc_dynamic:
	.cfi_startproc
	hint	#34
	stp	x1, x2, [sp, #-32]!
	.cfi_adjust_cfa_offset 32
	.cfi_rel_offset x1, 0
	.cfi_rel_offset x2, 8
	stp	x3, x4, [sp, #16]
	.cfi_rel_offset x3, 16
	.cfi_rel_offset x4, 24
	ldr	x1, [x0, #8]
	and	x2, x1, #((1 << RP_TLSDESC_MOD_BITS) - 1) // module
	lsr	x1, x1, #RP_TLSDESC_MOD_BITS               // offset
	// Fast path, as rp_tls_get_addr's: m < rp_tls_self.n, the slot's
	// generation is the module's, and the slot has a block.
	mrs	x3, tpidr_el0
	adrp	x4, :gottprel:rp_tls_self
	ldr	x4, [x4, #:gottprel_lo12:rp_tls_self]
	add	x3, x3, x4                                 // &rp_tls_self
	ldr	x4, [x3, #RP_TLS_THREAD_N]
	cmp	x2, x4
	b.hs	1f
	ldr	x3, [x3, #RP_TLS_THREAD_SLOTS]
	add	x3, x3, x2, lsl #RP_TLS_SLOT_SHIFT         // &slots[m]
	adrp	x4, rp_tls_mods
	add	x4, x4, #:lo12:rp_tls_mods
	mov	x0, #RP_TLS_MOD_SIZE
	madd	x4, x2, x0, x4                             // &rp_tls_mods[m]
	ldr	x4, [x4, #RP_TLS_MOD_GEN]
	ldr	x0, [x3, #RP_TLS_SLOT_GEN]
	cmp	x0, x4
	b.ne	1f
	ldr	x0, [x3, #RP_TLS_SLOT_BLOCK]
	cbz	x0, 1f
	add	x0, x0, x1                                 // the variable's address
	mrs	x3, tpidr_el0
	sub	x0, x0, x3
2:	// Both paths leave here, with x1-x4 to restore.
	.cfi_remember_state
	ldp	x3, x4, [sp, #16]
	ldp	x1, x2, [sp], #32
	.cfi_adjust_cfa_offset -32
	.cfi_restore x1
	.cfi_restore x2
	.cfi_restore x3
	.cfi_restore x4
	ret
	.cfi_restore_state
1:	// Slow path: x2 = module, x1 = offset.
	sub	sp, sp, #SLOW_SIZE
	.cfi_adjust_cfa_offset SLOW_SIZE
	stp	x29, x30, [sp]
	.cfi_rel_offset x29, 0
	.cfi_rel_offset x30, 8
	mov	x29, sp
	stp	x2, x1, [sp, #SLOW_INDEX]
	stp	x5, x6, [sp, #SLOW_X + 0]
	stp	x7, x8, [sp, #SLOW_X + 16]
	stp	x9, x10, [sp, #SLOW_X + 32]
	stp	x11, x12, [sp, #SLOW_X + 48]
	stp	x13, x14, [sp, #SLOW_X + 64]
	stp	x15, x16, [sp, #SLOW_X + 80]
	stp	x17, x18, [sp, #SLOW_X + 96]
	stp	q0, q1, [sp, #SLOW_Q + 0]
	stp	q2, q3, [sp, #SLOW_Q + 32]
	stp	q4, q5, [sp, #SLOW_Q + 64]
	stp	q6, q7, [sp, #SLOW_Q + 96]
	stp	q8, q9, [sp, #SLOW_Q + 128]
	stp	q10, q11, [sp, #SLOW_Q + 160]
	stp	q12, q13, [sp, #SLOW_Q + 192]
	stp	q14, q15, [sp, #SLOW_Q + 224]
	stp	q16, q17, [sp, #SLOW_Q + 256]
	stp	q18, q19, [sp, #SLOW_Q + 288]
	stp	q20, q21, [sp, #SLOW_Q + 320]
	stp	q22, q23, [sp, #SLOW_Q + 352]
	stp	q24, q25, [sp, #SLOW_Q + 384]
	stp	q26, q27, [sp, #SLOW_Q + 416]
	stp	q28, q29, [sp, #SLOW_Q + 448]
	stp	q30, q31, [sp, #SLOW_Q + 480]
	add	x0, sp, #SLOW_INDEX
	bl	rp_tls_get_addr
	mrs	x1, tpidr_el0
	sub	x0, x0, x1
	ldp	x5, x6, [sp, #SLOW_X + 0]
	ldp	x7, x8, [sp, #SLOW_X + 16]
	ldp	x9, x10, [sp, #SLOW_X + 32]
	ldp	x11, x12, [sp, #SLOW_X + 48]
	ldp	x13, x14, [sp, #SLOW_X + 64]
	ldp	x15, x16, [sp, #SLOW_X + 80]
	ldp	x17, x18, [sp, #SLOW_X + 96]
	ldp	q0, q1, [sp, #SLOW_Q + 0]
	ldp	q2, q3, [sp, #SLOW_Q + 32]
	ldp	q4, q5, [sp, #SLOW_Q + 64]
	ldp	q6, q7, [sp, #SLOW_Q + 96]
	ldp	q8, q9, [sp, #SLOW_Q + 128]
	ldp	q10, q11, [sp, #SLOW_Q + 160]
	ldp	q12, q13, [sp, #SLOW_Q + 192]
	ldp	q14, q15, [sp, #SLOW_Q + 224]
	ldp	q16, q17, [sp, #SLOW_Q + 256]
	ldp	q18, q19, [sp, #SLOW_Q + 288]
	ldp	q20, q21, [sp, #SLOW_Q + 320]
	ldp	q22, q23, [sp, #SLOW_Q + 352]
	ldp	q24, q25, [sp, #SLOW_Q + 384]
	ldp	q26, q27, [sp, #SLOW_Q + 416]
	ldp	q28, q29, [sp, #SLOW_Q + 448]
	ldp	q30, q31, [sp, #SLOW_Q + 480]
	ldp	x29, x30, [sp]
	add	sp, sp, #SLOW_SIZE
	.cfi_adjust_cfa_offset -SLOW_SIZE
	.cfi_restore x29
	.cfi_restore x30
	b	2b
	.cfi_endproc
	.size	rp_tlsdesc_dynamic, .-rp_tlsdesc_dynamic

	.section .note.GNU-stack,"",%progbits
