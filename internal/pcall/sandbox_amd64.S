//go:build linux && amd64 && cgo

// sandbox_amd64.S: the protected call for linux/amd64 (SysV ABI).
//
// void rp_call(struct rp_callrec *c)
//
// runtime.cgocall runs it on the thread's system stack with rdi = c (see
// callRecord.run in sandbox_cgo.go: no cgo wrapper in between). It builds
// a struct rp_frame on its own stack, whose address is also the recovery
// stack pointer, makes it the thread's cur in the initial-exec TLS block,
// loads the argument registers from c->args and calls c->fn. This is a
// setjmp without the signal-mask save: no system call. When fn returns,
// cur goes back to NULL at once (a call made by a Go callback nests inside
// the plugin call that made the callback: that frame is on the thread's
// outer chain, and rp_callback_leave makes it cur again), and rax and xmm0
// go to the record.
//
// Registers. Across fn, rp_call keeps c in rbx and the gates[] index it
// took in r12 (the exit stores then need no load), and the rest in the
// frame, which is rsp itself. It saves only rbp, the frame pointer that
// Go's unwinder follows: rbx, r12-r15 go back to its caller holding what
// rp_call or the plugin left in them. That is sound for the one caller,
// the Go runtime's asmcgocall, which keeps nothing in them across the
// call (it reloads g and its stack pointer from memory, and
// runtime.cgocall re-establishes R14 and X15 after it, as after any ABI0
// call), and five pushes fewer per call than the C ABI asks (rbx,
// r12-r15). Every store of a call must drain at the locked instruction
// of the runtime's exitsyscall, so they show (docs/PERFORMANCE.md).
// TestABIContractAfterPoison (loader) and the 100,000-fault soak would show
// a runtime that came to depend on them (docs/ASSUMPTIONS.md).
//
// The frame's seq is written only for a call with a deadline slot, and its
// gate only for a call counted in its gate's overflow: the signal handler
// and rp_gate_held_here look at slot and gslot, always written, first.
//
// The record is on the goroutine's stack, which a callback into Go can
// move: what is read of it is read before fn is called, and the result is
// written through the frame's record pointer, which rp_callback_leave
// keeps current.
//
// When the signal handler claims a fault it rewrites the interrupted
// context (RIP = rp_recover, RSP = the frame) and returns; the kernel's
// sigreturn restores the thread's signal mask and resumes rp_recover on
// rp_call's own frame, above every frame the plugin pushed. rp_recover
// clears the direction flag, resets the x87 unit (fninit) and MXCSR to
// their ABI defaults (0x37f, 0x1f80) and writes the fault record. The
// control words are reset rather than saved per call because fnstcw and
// stmxcsr alone cost more than the rest of the trampoline; the Go runtime
// never changes them, so the only loss is a non-default mode the host's
// own C code set on that thread before a call that faulted.
//
// A gated call (c->gate != 0, see "Gates" in sandbox.c) first records the
// gate with plain stores: gates[depth] = gate, depth + 1 (or, when the
// thread's gates[] is full or membarrier is unavailable, a lock-prefixed
// increment of gate->overflow), and only then loads gate->closing. No
// atomic read-modify-write on the fast path: the x86 store->load
// reordering between the slot stores and the closing load is made harmless
// by the membarrier the closer issues after setting closing. The frame
// keeps the gates[] index (RP_GSLOT_OVERFLOW for the overflow count,
// RP_GSLOT_NONE for an ungated call) and .Lleave, which every way out of
// rp_call goes through (normal return, fault recovery, deadline interrupt,
// rp_abort_current, RP_CLOSED), gives it back by storing depth = that
// index: restoring the entry value rather than decrementing keeps the
// slots right whatever happened in between.

#include "sandbox.h"

	.text

	.globl	rp_call
	.hidden	rp_call
	.type	rp_call, @function
	.p2align 4
rp_call:
	.cfi_startproc
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbp, 0
	// Entry rsp = 8 mod 16; the push and the frame (112 bytes) make it
	// 16-byte aligned for the calls below. From here on rsp = fr.
	subq	$RP_FR_SIZE, %rsp
	.cfi_adjust_cfa_offset RP_FR_SIZE
	movq	%rdi, %rbx			// rbx = c (as long as no callback moved it)
	movq	%rdi, RP_FR_RESULT(%rsp)
	movq	RP_C_SLOT(%rdi), %r11		// r11 = slot
	movq	%r11, RP_FR_SLOT(%rsp)
	movq	RP_C_GATE(%rdi), %r8		// r8 = gate
	movq	rp_self@gottpoff(%rip), %r9	// r9 = TLS offset of rp_self
	movq	$RP_GSLOT_NONE, %r10		// r10 = gslot
	testq	%r8, %r8
	jz	.Lopen
	// Gated call, on the way in.
	cmpl	$0, %fs:RP_T_REGISTERED(%r9)
	jz	.Lgate_register
.Lgate_registered:
	cmpl	$0, rp_gate_fallback(%rip)
	jnz	.Lgate_overflow
	movq	%fs:RP_T_DEPTH(%r9), %r10
	cmpq	$RP_GATE_SLOTS, %r10
	jae	.Lgate_overflow
	movq	%r8, %fs:RP_T_GATES(%r9,%r10,8)	// gates[depth] = gate, then
	leaq	1(%r10), %rax
	movq	%rax, %fs:RP_T_DEPTH(%r9)	// depth + 1, then
.Lgate_check:
	cmpl	$0, RP_GATE_CLOSING(%r8)	// load closing
	jnz	.Lgate_closed
.Lopen:
	movq	%r10, RP_FR_GSLOT(%rsp)
	movq	%r10, %r12			// r12 = gslot
	testq	%r11, %r11
	jnz	.Lslot_begin
.Lenter:
	movq	$1, RP_FR_ACTIVE(%rsp)		// active = 1, pending = 0
	movq	%rsp, %fs:RP_T_CUR(%r9)
	testq	%r11, %r11
	jnz	.Lcheck_cancel
.Lcall:
	movq	RP_FR_RESULT(%rsp), %r10	// c (no callback has run yet)
	movq	RP_C_FN(%r10), %r11
	movq	RP_C_NINTS(%r10), %rax
	movq	RP_C_ARGS(%r10), %r10
	testq	%rax, %rax
	jns	.Lints
	movsd	RP_A_FLOAT+0(%r10), %xmm0
	movsd	RP_A_FLOAT+8(%r10), %xmm1
	movsd	RP_A_FLOAT+16(%r10), %xmm2
	movsd	RP_A_FLOAT+24(%r10), %xmm3
	movsd	RP_A_FLOAT+32(%r10), %xmm4
	movsd	RP_A_FLOAT+40(%r10), %xmm5
	movsd	RP_A_FLOAT+48(%r10), %xmm6
	movsd	RP_A_FLOAT+56(%r10), %xmm7
	movq	RP_A_INT+0(%r10), %rdi
	movq	RP_A_INT+8(%r10), %rsi
	movq	RP_A_INT+16(%r10), %rdx
	movq	RP_A_INT+24(%r10), %rcx
	movq	RP_A_INT+32(%r10), %r8
	movq	RP_A_INT+40(%r10), %r9
	movl	$8, %eax			// vector registers used, for variadic callees
.Lcall_fn:
	callq	*%r11
	movq	rp_self@gottpoff(%rip), %rcx
	movq	$0, %fs:RP_T_CUR(%rcx)		// plugin code is done: no signal is ours now
	cmpq	RP_FR_RESULT(%rsp), %rbx	// has a callback moved c?
	jne	.Lmoved
.Lstore_result:
	movq	%rax, RP_C_A(%rbx)
	movsd	%xmm0, RP_C_B(%rbx)		// info stays RP_OK, as the record came
	cmpq	$0, RP_FR_SLOT(%rsp)
	jnz	.Lslot_end
.Lleave:
	// rsp = fr, r12 = gslot: give back what the way in took.
	testq	%r12, %r12
	js	.Lgate_leave_other
	movq	rp_self@gottpoff(%rip), %rcx
	movq	%r12, %fs:RP_T_DEPTH(%rcx)
.Lreturn:
	addq	$RP_FR_SIZE, %rsp
	.cfi_adjust_cfa_offset -RP_FR_SIZE
	popq	%rbp
	.cfi_adjust_cfa_offset -8
	ret
	.cfi_adjust_cfa_offset RP_FR_SIZE+8

	// A callback into Go moved the goroutine's stack and c with it
	// (rp_callback_leave moved the frame's pointer). Compared rather
	// than reloaded on the normal path, so that the result stores need
	// not wait for a load.
.Lmoved:
	movq	RP_FR_RESULT(%rsp), %rbx
	jmp	.Lstore_result

	// Integer arguments only (nints in rax, 0 to 6): load that many
	// from the array at r10, so that the Go caller need not fill (and
	// zero) a whole struct rp_args; the other registers are not
	// arguments, and no vector register is (al = 0).
.Lints:
	cmpq	$1, %rax
	jb	.Lints_done
	movq	0(%r10), %rdi
	je	.Lints_done
	movq	8(%r10), %rsi
	cmpq	$3, %rax
	jb	.Lints_done
	movq	16(%r10), %rdx
	je	.Lints_done
	movq	24(%r10), %rcx
	cmpq	$5, %rax
	jb	.Lints_done
	movq	32(%r10), %r8
	je	.Lints_done
	movq	40(%r10), %r9
.Lints_done:
	xorl	%eax, %eax
	jmp	.Lcall_fn

	// Closing: don't call fn (no callback has run, so the frame's
	// pointer is c); .Lleave gives the slot back.
.Lgate_closed:
	movq	%r10, %r12
	movq	$0, RP_C_A(%rbx)
	movq	$0, RP_C_B(%rbx)
	movq	$RP_CLOSED, RP_C_INFO(%rbx)
	jmp	.Lleave

	// gates[] full (deep nesting through callbacks) or no membarrier:
	// count the call in the gate itself. The locked add is a full
	// barrier, so the closing load below cannot pass it.
.Lgate_overflow:
	movq	$RP_GSLOT_OVERFLOW, %r10
	movq	%r8, RP_FR_GATE(%rsp)
	lock incq RP_GATE_OVERFLOW(%r8)
	jmp	.Lgate_check

	// First gated call on this thread: put it on the registry that
	// rp_gate_busy scans (a C call: reload what it may clobber).
.Lgate_register:
	call	rp_gate_register
	movq	RP_C_GATE(%rbx), %r8
	movq	RP_FR_SLOT(%rsp), %r11
	movq	rp_self@gottpoff(%rip), %r9
	jmp	.Lgate_registered

	// Out of an overflow-counted call, or of an ungated one.
.Lgate_leave_other:
	cmpq	$RP_GSLOT_OVERFLOW, %r12
	jne	.Lreturn
	movq	RP_FR_GATE(%rsp), %rax
	lock decq RP_GATE_OVERFLOW(%rax)
	jmp	.Lreturn

	// CallContext only: take a sequence number and publish (tid, seq,
	// running) in the slot. (Plain calls keep seq 0, which no deadline
	// signal carries.)
.Lslot_begin:
	movq	%r11, %rdi
	call	rp_slot_begin
	movq	%rax, RP_FR_SEQ(%rsp)
	movq	RP_FR_SLOT(%rsp), %r11
	movq	rp_self@gottpoff(%rip), %r9
	jmp	.Lenter

	// Then, with the frame published (so a deadline signal from now on
	// interrupts the call), look at cancel: if the deadline passed before
	// the frame was published, its signal may have been dropped, but
	// rp_interrupt stored cancel before sending it, so we see it here.
	// (rp_slot_begin's seq_cst store orders this load after the slot's
	// "running" against rp_interrupt's store of cancel and load of state.)
.Lcheck_cancel:
	movl	RP_SLOT_CANCEL(%r11), %eax
	testl	%eax, %eax
	jz	.Lcall
	movl	$RP_INTERRUPTED, RP_FR_STATUS(%rsp)
	movq	$0, RP_FR_PC(%rsp)
	jmp	rp_recover			// rsp is the frame: end the call there

.Lslot_end:
	movq	RP_FR_SLOT(%rsp), %rdi
	call	rp_slot_end
	jmp	.Lleave

	// rp_recover: entered by the signal handler's context rewrite (or
	// rp_resume) with rsp = the frame, holding the record. Never called.
	.globl	rp_recover
	.hidden	rp_recover
rp_recover:
	cld
	fninit				// drop whatever the plugin left on the x87 stack
	ldmxcsr	.Lmxcsr_default(%rip)
	movq	rp_self@gottpoff(%rip), %rcx
	movq	$0, %fs:RP_T_CUR(%rcx)
	movl	$0, RP_FR_ACTIVE(%rsp)
	movq	RP_FR_SLOT(%rsp), %rdi
	testq	%rdi, %rdi
	jz	.Lfill
	call	rp_slot_end
.Lfill:
	movq	RP_FR_RESULT(%rsp), %rdi
	movq	%rsp, %rsi
	call	rp_fill_result
	movq	RP_FR_GSLOT(%rsp), %r12
	jmp	.Lleave
	.cfi_endproc
	.size	rp_call, .-rp_call

	// rp_resume(struct rp_frame *fr): unwind to fr's recovery point.
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

	// rp_jump_recover(struct rp_frame *fr): the signal handler's way to
	// fr's recovery point (rp_uc_recover): DF and AC cleared, as
	// sigreturn to a rewritten context used to clear them.
	.globl	rp_jump_recover
	.hidden	rp_jump_recover
	.type	rp_jump_recover, @function
	.p2align 4
rp_jump_recover:
	pushfq
	andq	$~0x40400, (%rsp)
	popfq
	movq	%rdi, %rsp
	jmp	rp_recover
	.size	rp_jump_recover, .-rp_jump_recover

	.section .rodata
	.p2align 2
.Lmxcsr_default:
	.long	0x1f80

	.section .note.GNU-stack,"",@progbits
