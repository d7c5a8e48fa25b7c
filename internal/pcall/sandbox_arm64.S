//go:build linux && arm64 && cgo

// sandbox_arm64.S: the protected call for linux/arm64 (AAPCS64).
//
// void rp_call(struct rp_callrec *c)
//
// The same protocol as sandbox_amd64.S (read that file's comment first):
// runtime.cgocall runs rp_call on the thread's system stack with x0 = c;
// it builds a struct rp_frame at sp, which is also the recovery stack
// pointer, makes it the thread's cur (initial-exec TLS, from TPIDR_EL0),
// loads the argument registers and calls c->fn.
//
// What differs on AArch64:
//   - Registers. rp_call saves every callee-saved register, x19-x28,
//     x29 (fp), x30 (lr) and d8-d15, above the frame, and every way out
//     restores them from there: a fault or deadline that stops fn anywhere
//     gives the Go runtime back exactly what it had, without relying on
//     what asmcgocall keeps across the call. Across fn, x19 = c and
//     x20 = the gates[] index. rp_recover resets FPCR to 0 (Go's and the
//     ABI's default: round to nearest, no traps, no flush-to-zero).
//   - Arguments. x0-x5 and d0-d7 from struct rp_args (whose integer array
//     has six entries, x86-64's count: the general call's thunks in
//     callframe_arm64.S load x6, x7 and x8), or nints (0 to 6) integers.
//   - Stores. As on x86-64, the frame's seq is written only for a call
//     with a deadline slot and its gate only for a call counted in its
//     gate's overflow (the signal handler and rp_gate_held_here look at
//     slot and gslot, always written, first), and a normal return leaves
//     the record's info as it came (0, RP_OK: every record is fresh).
//   - Memory order. Gates rely on the closer's membarrier as on x86-64
//     (the plain stores of gates[] and depth, then the load of closing);
//     membarrier's IPIs are full barriers on arm64 too. Where x86-64's
//     order is implicit and AArch64's is not, barriers are explicit: the
//     overflow count is an exclusive-monitor loop followed by DMB ISH
//     (x86-64's lock prefix is a full barrier), the decrement and the
//     store of depth on the way out are releases (the plugin's accesses
//     happen before the gate can be seen free), and a CallContext call
//     issues DMB ISH between publishing its frame and loading cancel.
#include "sandbox.h"

#define FR_SAVE RP_FR_SIZE            // saved registers: x19-x30, d8-d15
#define FR_TOTAL (RP_FR_SIZE + 160)  // 272, a multiple of 16

// tls_self sets reg to &rp_self (initial-exec), using tmp.
.macro tls_self reg, tmp
	mrs	\reg, tpidr_el0
	adrp	\tmp, :gottprel:rp_self
	ldr	\tmp, [\tmp, #:gottprel_lo12:rp_self]
	add	\reg, \reg, \tmp
.endm

	.text
	.globl	rp_call
	.hidden	rp_call
	.type	rp_call, %function
	.p2align 4
rp_call:
	.cfi_startproc
	sub	sp, sp, #FR_TOTAL
	.cfi_def_cfa_offset FR_TOTAL
	stp	x19, x20, [sp, #FR_SAVE+0]
	stp	x21, x22, [sp, #FR_SAVE+16]
	stp	x23, x24, [sp, #FR_SAVE+32]
	stp	x25, x26, [sp, #FR_SAVE+48]
	stp	x27, x28, [sp, #FR_SAVE+64]
	stp	x29, x30, [sp, #FR_SAVE+80]
	stp	d8, d9, [sp, #FR_SAVE+96]
	stp	d10, d11, [sp, #FR_SAVE+112]
	stp	d12, d13, [sp, #FR_SAVE+128]
	stp	d14, d15, [sp, #FR_SAVE+144]
	.cfi_offset x19, -160
	.cfi_offset x20, -152
	.cfi_offset x21, -144
	.cfi_offset x22, -136
	.cfi_offset x23, -128
	.cfi_offset x24, -120
	.cfi_offset x25, -112
	.cfi_offset x26, -104
	.cfi_offset x27, -96
	.cfi_offset x28, -88
	.cfi_offset x29, -80
	.cfi_offset x30, -72
	.cfi_offset d8, -64
	.cfi_offset d9, -56
	.cfi_offset d10, -48
	.cfi_offset d11, -40
	.cfi_offset d12, -32
	.cfi_offset d13, -24
	.cfi_offset d14, -16
	.cfi_offset d15, -8
	add	x29, sp, #FR_SAVE+80		// frame record for unwinders
	mov	x19, x0				// x19 = c (as long as no callback moved it)
	str	x0, [sp, #RP_FR_RESULT]
	ldr	x11, [x0, #RP_C_SLOT]		// x11 = slot
	str	x11, [sp, #RP_FR_SLOT]
	ldr	x8, [x0, #RP_C_GATE]		// x8 = gate
	tls_self x9, x12			// x9 = &rp_self
	mov	x10, #RP_GSLOT_NONE		// x10 = gslot
	cbz	x8, .Lopen
	// Gated call, on the way in.
	ldr	w12, [x9, #RP_T_REGISTERED]
	cbz	w12, .Lgate_register
.Lgate_registered:
	adrp	x12, rp_gate_fallback
	ldr	w12, [x12, #:lo12:rp_gate_fallback]
	cbnz	w12, .Lgate_overflow
	ldr	x10, [x9, #RP_T_DEPTH]
	cmp	x10, #RP_GATE_SLOTS
	b.hs	.Lgate_overflow
	add	x12, x9, #RP_T_GATES
	str	x8, [x12, x10, lsl #3]		// gates[depth] = gate, then
	add	x12, x10, #1
	str	x12, [x9, #RP_T_DEPTH]		// depth + 1, then
.Lgate_check:
	ldr	w12, [x8, #RP_GATE_CLOSING]	// load closing
	cbnz	w12, .Lgate_closed
.Lopen:
	str	x10, [sp, #RP_FR_GSLOT]
	mov	x20, x10			// x20 = gslot
	cbnz	x11, .Lslot_begin
.Lenter:
	mov	x12, #1
	str	x12, [sp, #RP_FR_ACTIVE]	// active = 1, pending = 0
	mov	x12, sp
	str	x12, [x9, #RP_T_CUR]
	cbnz	x11, .Lcheck_cancel
.Lcall:
	ldr	x10, [sp, #RP_FR_RESULT]	// c (no callback has run yet)
	ldr	x16, [x10, #RP_C_FN]
	ldr	x12, [x10, #RP_C_NINTS]
	ldr	x10, [x10, #RP_C_ARGS]
	tbz	x12, #63, .Lints
	ldp	d0, d1, [x10, #RP_A_FLOAT+0]
	ldp	d2, d3, [x10, #RP_A_FLOAT+16]
	ldp	d4, d5, [x10, #RP_A_FLOAT+32]
	ldp	d6, d7, [x10, #RP_A_FLOAT+48]
	ldp	x0, x1, [x10, #RP_A_INT+0]
	ldp	x2, x3, [x10, #RP_A_INT+16]
	ldp	x4, x5, [x10, #RP_A_INT+32]
.Lcall_fn:
	blr	x16
	tls_self x9, x12
	str	xzr, [x9, #RP_T_CUR]		// plugin code is done: no signal is ours now
	ldr	x10, [sp, #RP_FR_RESULT]
	cmp	x10, x19			// has a callback moved c?
	b.ne	.Lmoved
.Lstore_result:
	str	x0, [x19, #RP_C_A]
	str	d0, [x19, #RP_C_B]		// info stays RP_OK, as the record came
	ldr	x10, [sp, #RP_FR_SLOT]
	cbnz	x10, .Lslot_end
.Lleave:
	// sp = fr, x20 = gslot: give back what the way in took.
	tbnz	x20, #63, .Lgate_leave_other
	tls_self x9, x12
	add	x12, x9, #RP_T_DEPTH
	stlr	x20, [x12]
.Lreturn:
	ldp	x19, x20, [sp, #FR_SAVE+0]
	ldp	x21, x22, [sp, #FR_SAVE+16]
	ldp	x23, x24, [sp, #FR_SAVE+32]
	ldp	x25, x26, [sp, #FR_SAVE+48]
	ldp	x27, x28, [sp, #FR_SAVE+64]
	ldp	x29, x30, [sp, #FR_SAVE+80]
	ldp	d8, d9, [sp, #FR_SAVE+96]
	ldp	d10, d11, [sp, #FR_SAVE+112]
	ldp	d12, d13, [sp, #FR_SAVE+128]
	ldp	d14, d15, [sp, #FR_SAVE+144]
	add	sp, sp, #FR_TOTAL
	ret
	// A callback into Go moved the goroutine's stack and c with it.
.Lmoved:
	mov	x19, x10
	b	.Lstore_result
	// Integer arguments only (nints in x12, 0 to 6).
.Lints:
	cbz	x12, .Lcall_fn
	ldr	x0, [x10, #0]
	cmp	x12, #2
	b.lo	.Lcall_fn
	ldr	x1, [x10, #8]
	cmp	x12, #3
	b.lo	.Lcall_fn
	ldr	x2, [x10, #16]
	cmp	x12, #4
	b.lo	.Lcall_fn
	ldr	x3, [x10, #24]
	cmp	x12, #5
	b.lo	.Lcall_fn
	ldr	x4, [x10, #32]
	cmp	x12, #6
	b.lo	.Lcall_fn
	ldr	x5, [x10, #40]
	b	.Lcall_fn
	// Closing: don't call fn; .Lleave gives the slot back.
.Lgate_closed:
	mov	x20, x10
	str	xzr, [x19, #RP_C_A]
	str	xzr, [x19, #RP_C_B]
	mov	x12, #RP_CLOSED
	str	x12, [x19, #RP_C_INFO]		// info = RP_CLOSED, code = 0
	b	.Lleave
	// gates[] full or no membarrier: count the call in the gate itself,
	// then a full barrier so that the closing load cannot pass it.
.Lgate_overflow:
	mov	x10, #RP_GSLOT_OVERFLOW
	str	x8, [sp, #RP_FR_GATE]		// read only for overflow calls
	add	x12, x8, #RP_GATE_OVERFLOW
1:	ldxr	x13, [x12]
	add	x13, x13, #1
	stxr	w14, x13, [x12]
	cbnz	w14, 1b
	dmb	ish
	b	.Lgate_check
	// First gated call on this thread: put it on the registry.
.Lgate_register:
	bl	rp_gate_register
	ldr	x8, [x19, #RP_C_GATE]		// x19 = c, kept across the C call
	ldr	x11, [sp, #RP_FR_SLOT]
	tls_self x9, x12
	b	.Lgate_registered
	// Out of an overflow-counted call (a release), or of an ungated one.
.Lgate_leave_other:
	cmn	x20, #1				// RP_GSLOT_OVERFLOW?
	b.ne	.Lreturn
	ldr	x8, [sp, #RP_FR_GATE]
	add	x12, x8, #RP_GATE_OVERFLOW
1:	ldxr	x13, [x12]
	sub	x13, x13, #1
	stlxr	w14, x13, [x12]
	cbnz	w14, 1b
	b	.Lreturn
	// CallContext only: take a sequence number and publish (tid, seq,
	// running) in the slot.
.Lslot_begin:
	mov	x0, x11
	bl	rp_slot_begin
	str	x0, [sp, #RP_FR_SEQ]
	ldr	x11, [sp, #RP_FR_SLOT]
	tls_self x9, x12
	b	.Lenter
	// With the frame published, look at cancel (see sandbox_amd64.S);
	// the barrier keeps the load after the slot's "running" and cur.
.Lcheck_cancel:
	dmb	ish
	ldr	w12, [x11, #RP_SLOT_CANCEL]
	cbz	w12, .Lcall
	mov	w12, #RP_INTERRUPTED
	str	w12, [sp, #RP_FR_STATUS]
	str	xzr, [sp, #RP_FR_PC]
	b	rp_recover			// sp is the frame: end the call there
.Lslot_end:
	ldr	x0, [sp, #RP_FR_SLOT]
	bl	rp_slot_end
	b	.Lleave

	// rp_recover: entered by the signal handler's context rewrite (or
	// rp_resume) with sp = the frame, holding the record. Never called.
	.globl	rp_recover
	.hidden	rp_recover
rp_recover:
	msr	fpcr, xzr
	tls_self x9, x12
	str	xzr, [x9, #RP_T_CUR]
	str	wzr, [sp, #RP_FR_ACTIVE]
	ldr	x0, [sp, #RP_FR_SLOT]
	cbz	x0, 1f
	bl	rp_slot_end
1:	ldr	x0, [sp, #RP_FR_RESULT]
	mov	x1, sp
	bl	rp_fill_result
	ldr	x20, [sp, #RP_FR_GSLOT]
	b	.Lleave
	.cfi_endproc
	.size	rp_call, .-rp_call

	// rp_resume(struct rp_frame *fr): unwind to fr's recovery point.
	.globl	rp_resume
	.hidden	rp_resume
	.type	rp_resume, %function
	.p2align 4
rp_resume:
	mov	sp, x0
	b	rp_recover
	.size	rp_resume, .-rp_resume

	.section .note.GNU-stack,"",%progbits
