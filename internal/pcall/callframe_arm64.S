//go:build linux && arm64 && cgo

// callframe_arm64.S: the general call on linux/arm64 (AAPCS64), for the
// signatures rp_call's register-only path cannot make: x6 and x7, stack
// arguments, a result in memory (its address in x8), in x1 or in v1-v3,
// values passed by reference.
//
// The design is callframe_amd64.S's (read that file's comment first): Go
// runs rp_call (sandbox_arm64.S) with a record whose c.fn is one of these
// thunks, so that every protection of rp_call is its own; the thunk only
// adds what the general call needs between rp_call's register loads and
// fn. On entry x19 = the record (no callback has run yet, so it is
// current), sp = rp_call's frame, x30 = the way back into rp_call. The
// thunk pushes a frame record (x29, x30), keeps its sp in x29 (16-byte
// aligned: rp_call's frame is) to find its way back whatever fn does, and
// finds the record after fn through rp_call's frame at x29 + 16, which a
// callback into Go that moved the goroutine's stack has kept current.
// Below its frame record lie the result buffer (x8 points to it: on this
// system stack, which does not move), then the stack arguments, their
// count rounded to even so that sp stays 16-byte aligned at the call.
// After fn, x1 and the low 64 bits of v1, v2 and v3 go to the record (x0
// and d0 stay for rp_call, which stores them), and the result buffer to
// the record's sret.
//
// A fault or a deadline in fn unwinds to rp_call's frame as for any call:
// the thunk's stack lies below it and is dropped with fn's, and rp_call's
// way out restores x29 and x30 from its own save area.

#include "sandbox.h"

#define THUNK_REC (16 + RP_FR_RESULT) // the record's address, from x29

// thunk_frame pushes a frame record (x29, x30) and keeps sp in x29.
.macro thunk_frame
	stp	x29, x30, [sp, #-16]!
	.cfi_def_cfa_offset 16
	.cfi_offset x29, -16
	.cfi_offset x30, -8
	mov	x29, sp
	.cfi_def_cfa x29, 16
.endm

// sret_buffer reserves size (a register, clobbered) bytes rounded up to
// 16 below sp for a result in memory, and points x8 at them.
.macro sret_buffer size
	add	\size, \size, #15
	and	\size, \size, #~15
	sub	sp, sp, \size
	mov	x8, sp				// the result buffer (maybe none)
.endm

// high_halves sets the high 64 bits of va and vb from the register
// image's words at x12 + off (clobbers x9, x11).
.macro high_halves a, b, off
	ldp	x9, x11, [x12, #\off]
	mov	v\a\().d[1], x9
	mov	v\b\().d[1], x11
.endm

// store_high_halves stores the high 64 bits of v0-v3 at x10 + off
// (clobbers x12, x13).
.macro store_high_halves off
	mov	x12, v0.d[1]
	mov	x13, v1.d[1]
	stp	x12, x13, [x10, #\off]
	mov	x12, v2.d[1]
	mov	x13, v3.d[1]
	stp	x12, x13, [x10, #\off + 16]
.endm

	.text

// rp_frame_thunk: CallFrame. rp_call has loaded x0-x5 and d0-d7 from the
// Frame's Args (c.nints = -1); the thunk adds x6, x7 (Frame.More), x8,
// the stack words and, with Frame.Quad, the high halves of v0-v7
// (Frame.VHi), whose q0-q3 it stores back after fn.
	.globl	rp_frame_thunk
	.hidden	rp_frame_thunk
	.type	rp_frame_thunk, %function
	.p2align 4
rp_frame_thunk:
	.cfi_startproc
	thunk_frame
	ldr	x10, [x19, #RP_C_ARGS]		// the struct rp_frameargs
	ldr	x11, [x10, #RP_F_SRETSIZE]
	sret_buffer x11
	ldr	x11, [x10, #RP_F_NSTACK]
	add	x12, x11, #1
	and	x12, x12, #~1
	sub	sp, sp, x12, lsl #3		// the stack words, sp 16-byte aligned
	ldr	x12, [x10, #RP_F_STACK]
	cbz	x11, 2f
1:	sub	x11, x11, #1
	ldr	x13, [x12, x11, lsl #3]
	str	x13, [sp, x11, lsl #3]
	cbnz	x11, 1b
2:	ldrb	w9, [x10, #RP_F_QUAD]
	cbz	w9, 3f
	add	x12, x10, #RP_F_VHI		// long doubles: v0-v7's high halves
	high_halves 0, 1, 0
	high_halves 2, 3, 16
	high_halves 4, 5, 32
	high_halves 6, 7, 48
3:	ldp	x6, x7, [x10, #RP_F_MORE]
	ldr	x16, [x19, #RP_FX_FN]
	blr	x16
	ldr	x10, [x29, #THUNK_REC]		// the record, where it is now
	str	x1, [x10, #RP_FX_RDX]
	str	d1, [x10, #RP_FX_XMM1]
	str	d2, [x10, #RP_FX_V2]
	str	d3, [x10, #RP_FX_V3]
	ldr	x11, [x10, #RP_C_ARGS]		// the frame args, where they are now
	ldrb	w12, [x11, #RP_F_QUAD]
	cbz	w12, 4f
	store_high_halves RP_FX_VHI		// long double results: q0-q3 whole
4:	ldr	x12, [x11, #RP_F_SRETSIZE]
	ldr	x13, [x11, #RP_F_SRET]
	b	thunk_out
	.cfi_endproc
	.size	rp_frame_thunk, .-rp_frame_thunk

// rp_gather_thunk: CallGather. rp_call has loaded no argument register
// (c.nints = 0) and x19 = a struct rp_gatherrec. Below its frame record
// the thunk reserves the result buffer, a 24-word image of the argument
// registers (x0-x7, d0-d7, then the high halves of v0-v7) and the stack
// words, runs the program's moves into the image and the stack words
// (each reads 1 to 8 bytes of an argument value, last to first, and
// sign-extends them or widens a float to double as asked; a GatherHigh
// move puts them in the high half of a v register, the rest of a long
// double; a GatherStackAddr move instead puts the address of a stack
// word, the start of a copy passed by reference), then loads the
// registers from the image (v0-v7 whole when the program has quad, else
// d0-d7) and calls fn. After fn, with quad, the high halves of v0-v3 go
// to the record too: long double results, IEEE binary128 in q0-q3. The moves were checked when the
// program was made (NewGatherProgram: destinations within the image and
// the stack words, arguments within argv, stack addresses within the
// stack words), so nothing here writes out of bounds. Words no move wrote
// are not arguments: their garbage is never read.
	.globl	rp_gather_thunk
	.hidden	rp_gather_thunk
	.type	rp_gather_thunk, %function
	.p2align 4
rp_gather_thunk:
	.cfi_startproc
	thunk_frame
	ldr	x10, [x19, #RP_GX_PROG]		// the program
	ldr	x11, [x10, #RP_GP_SRETSIZE]
	sret_buffer x11
	sub	sp, sp, #RP_GM_IMAGE*8
	mov	x12, sp				// x12 = the register image
	ldr	x11, [x10, #RP_GP_NSTACK]
	add	x11, x11, #1
	and	x11, x11, #~1
	sub	sp, sp, x11, lsl #3		// the stack words, sp 16-byte aligned
	ldr	x14, [x19, #RP_GX_ARGV]		// x14 = argv
	ldr	x15, [x10, #RP_GP_MOVES]	// x15 = the moves
	ldr	x9, [x10, #RP_GP_NMOVES]	// x9 = how many
	cbz	x9, .Lg_load
.Lg_move:
	ldrb	w0, [x15, #RP_GM_CONV]
	ldr	w1, [x15, #RP_GM_SRC]
	cmp	w0, #RP_GM_STACKADDR
	b.eq	.Lg_addr
	ldr	w2, [x15, #RP_GM_ARG]
	ldr	x3, [x14, x2, lsl #3]		// the argument's address
	add	x3, x3, x1			// the bytes'
	ldrb	w4, [x15, #RP_GM_SIZE]
	cmp	w4, #8
	b.ne	.Lg_small
	ldr	x5, [x3]
	b	.Lg_conv
.Lg_small:
	// Fewer than 8 bytes: read them last to first into x5.
	mov	x5, #0
1:	sub	w4, w4, #1
	ldrb	w6, [x3, x4]
	orr	x5, x6, x5, lsl #8
	cbnz	w4, 1b
.Lg_conv:
	cbz	w0, .Lg_store
	cmp	w0, #RP_GM_HIGH
	b.eq	.Lg_high
	cmp	w0, #RP_GM_SEXT
	b.ne	.Lg_f32
	ldrb	w4, [x15, #RP_GM_SIZE]
	mov	w6, #64
	sub	w6, w6, w4, lsl #3		// 64 - 8*size
	lsl	x5, x5, x6
	asr	x5, x5, x6
	b	.Lg_store
.Lg_f32:
	fmov	s16, w5
	fcvt	d16, s16
	fmov	x5, d16
	b	.Lg_store
.Lg_high:
	// The high half of v(dst-8), dst 8-15 (checked): image word dst+8.
	ldr	w2, [x15, #RP_GM_DST]
	add	w2, w2, #8
	str	x5, [x12, x2, lsl #3]
	b	.Lg_next
.Lg_addr:
	add	x5, sp, x1, lsl #3		// the address of stack word src
.Lg_store:
	ldr	w2, [x15, #RP_GM_DST]
	cmp	w2, #RP_GM_REGS
	b.hs	.Lg_stack
	str	x5, [x12, x2, lsl #3]
	b	.Lg_next
.Lg_stack:
	sub	w2, w2, #RP_GM_REGS
	str	x5, [sp, x2, lsl #3]
.Lg_next:
	add	x15, x15, #RP_GM_BYTES
	subs	x9, x9, #1
	b.ne	.Lg_move
.Lg_load:
	ldp	d0, d1, [x12, #64]
	ldp	d2, d3, [x12, #80]
	ldp	d4, d5, [x12, #96]
	ldp	d6, d7, [x12, #112]
	ldr	x9, [x10, #RP_GP_QUAD]
	cbz	x9, 1f
	// Long doubles: the high halves of v0-v7 (ldr d cleared them).
	high_halves 0, 1, 128
	high_halves 2, 3, 144
	high_halves 4, 5, 160
	high_halves 6, 7, 176
1:	ldp	x0, x1, [x12, #0]
	ldp	x2, x3, [x12, #16]
	ldp	x4, x5, [x12, #32]
	ldp	x6, x7, [x12, #48]
	ldr	x16, [x19, #RP_GX_FN]
	blr	x16
	ldr	x10, [x29, #THUNK_REC]		// the record, where it is now
	str	x1, [x10, #RP_GX_RDX]
	str	d1, [x10, #RP_GX_XMM1]
	str	d2, [x10, #RP_GX_V2]
	str	d3, [x10, #RP_GX_V3]
	ldr	x11, [x10, #RP_GX_PROG]
	ldr	x12, [x11, #RP_GP_QUAD]
	cbz	x12, 1f
	store_high_halves RP_GX_VHI		// long double results: q0-q3 whole
1:	ldr	x12, [x11, #RP_GP_SRETSIZE]
	ldr	x13, [x10, #RP_GX_SRET]
	// The way out of both thunks: x12 = the size of a result in memory
	// (0: none), x13 = where it goes. x0 and d0 are fn's and stay.
thunk_out:
	cbz	x12, 2f
	add	x14, x12, #15
	and	x14, x14, #~15
	sub	x14, x29, x14			// the buffer, at x29 - rounded size
	// Copy x12 bytes, eight at a time and then one at a time, never
	// past the end of the destination.
1:	cmp	x12, #8
	b.lo	3f
	ldr	x15, [x14], #8
	str	x15, [x13], #8
	sub	x12, x12, #8
	b	1b
3:	cbz	x12, 2f
	ldrb	w15, [x14], #1
	strb	w15, [x13], #1
	sub	x12, x12, #1
	b	3b
2:	mov	sp, x29
	ldp	x29, x30, [sp], #16
	.cfi_def_cfa sp, 0
	ret
	.cfi_endproc
	.size	rp_gather_thunk, .-rp_gather_thunk

	.section .note.GNU-stack,"",%progbits
