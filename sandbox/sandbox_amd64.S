// sandbox_amd64.S: the protected call for linux/amd64 (SysV ABI).
//
// void rp_call(struct rp_callrec *c)
//
// runtime.cgocall runs it on the thread's system stack with rdi = c (see
// protectedCall in sandbox_cgo.go: no cgo wrapper in between). It saves
// what a return must restore (the callee-saved registers rbx, rbp,
// r12-r15), builds a struct rp_frame on its own stack whose address is
// also the recovery stack pointer, makes it the thread's cur in the
// initial-exec TLS block, loads the argument registers from c->args and
// calls c->fn. This is a setjmp without the signal-mask save: no system
// call. When fn returns, cur goes back to NULL at once (a call made by a
// Go callback nests inside the plugin call that made the callback: that
// frame is on the thread's outer chain, and rp_callback_leave makes it
// cur again), and rax and xmm0 go to the record.
//
// The record is on the goroutine's stack, which a callback into Go can
// move; what is read of it is read before fn is called, and the result is
// written through the frame's record pointer, which rp_callback_leave
// keeps current. On the normal path the frame is written and never read
// back (the gates[] index the call took is kept in r12): on this AMD EPYC
// a store-to-load round trip through the frame cost more than the rest of
// the bookkeeping.
//
// When the signal handler claims a fault it rewrites the interrupted
// context (RIP = rp_recover, RSP = the frame) and returns; the kernel's
// sigreturn restores the thread's signal mask and resumes rp_recover on
// rp_call's own frame, above every frame the plugin pushed. rp_recover
// reloads its registers from the frame, clears the direction flag, resets
// the x87 unit (fninit) and MXCSR to their ABI defaults (0x37f, 0x1f80) and
// writes the fault record. The control words are reset rather than saved
// per call because fnstcw and stmxcsr alone cost more than the rest of the
// trampoline; the Go runtime never changes them, so the only loss is a
// non-default mode the host's own C code set on that thread before a call
// that faulted.
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
	// Entry rsp = 8 mod 16; six pushes keep it 8 mod 16; the frame
	// (112 bytes) plus 8 makes it 16-byte aligned for the calls below.
	subq	$(RP_FR_SIZE+8), %rsp
	.cfi_adjust_cfa_offset RP_FR_SIZE+8
	movq	%rsp, %rbx			// rbx = fr
	movq	%rdi, %r15			// r15 = c (until fn is called)
	movq	%rdi, RP_FR_RESULT(%rbx)
	movq	RP_C_ARGS(%rdi), %rbp		// rbp = args
	movq	RP_C_SLOT(%rdi), %r14		// r14 = slot
	movq	%r14, RP_FR_SLOT(%rbx)
	movq	$0, RP_FR_SEQ(%rbx)
	movq	rp_self@gottpoff(%rip), %r13	// r13 = TLS offset of rp_self
	movq	RP_C_GATE(%rdi), %r8
	movq	%r8, RP_FR_GATE(%rbx)
	movq	$RP_GSLOT_NONE, %r12		// r12 = gslot
	testq	%r8, %r8
	jz	.Lopen
	// Gated call, on the way in (rax, rcx and rdx are free: everything
	// kept is in callee-saved registers or the frame).
	cmpl	$0, %fs:RP_T_REGISTERED(%r13)
	jz	.Lgate_register
.Lgate_registered:
	cmpl	$0, rp_gate_fallback(%rip)
	jnz	.Lgate_overflow
	movq	%fs:RP_T_DEPTH(%r13), %r12
	cmpq	$RP_GATE_SLOTS, %r12
	jae	.Lgate_overflow
	movq	%r8, %fs:RP_T_GATES(%r13,%r12,8)	// gates[depth] = gate, then
	leaq	1(%r12), %rax
	movq	%rax, %fs:RP_T_DEPTH(%r13)	// depth + 1, then
.Lgate_check:
	cmpl	$0, RP_GATE_CLOSING(%r8)	// load closing
	jnz	.Lgate_closed
.Lopen:
	movq	%r12, RP_FR_GSLOT(%rbx)
	testq	%r14, %r14
	jnz	.Lslot_begin
.Lenter:
	movq	$1, RP_FR_ACTIVE(%rbx)		// active = 1, pending = 0
	movq	%rbx, %fs:RP_T_CUR(%r13)
	testq	%r14, %r14
	jnz	.Lcheck_cancel
.Lcall:
	movq	RP_C_FN(%r15), %r11
	movq	RP_C_NINTS(%r15), %rax
	testq	%rax, %rax
	jns	.Lints
	movsd	RP_A_FLOAT+0(%rbp), %xmm0
	movsd	RP_A_FLOAT+8(%rbp), %xmm1
	movsd	RP_A_FLOAT+16(%rbp), %xmm2
	movsd	RP_A_FLOAT+24(%rbp), %xmm3
	movsd	RP_A_FLOAT+32(%rbp), %xmm4
	movsd	RP_A_FLOAT+40(%rbp), %xmm5
	movsd	RP_A_FLOAT+48(%rbp), %xmm6
	movsd	RP_A_FLOAT+56(%rbp), %xmm7
	movq	RP_A_INT+0(%rbp), %rdi
	movq	RP_A_INT+8(%rbp), %rsi
	movq	RP_A_INT+16(%rbp), %rdx
	movq	RP_A_INT+24(%rbp), %rcx
	movq	RP_A_INT+32(%rbp), %r8
	movq	RP_A_INT+40(%rbp), %r9
	movl	$8, %eax			// vector registers used, for variadic callees
.Lcall_fn:
	callq	*%r11
	movq	$0, %fs:RP_T_CUR(%r13)		// plugin code is done: no signal is ours now
	cmpq	RP_FR_RESULT(%rbx), %r15	// has a callback moved c?
	jne	.Lmoved
.Lstore_result:
	movq	%rax, RP_C_A(%r15)
	movsd	%xmm0, RP_C_B(%r15)
	movq	$0, RP_C_INFO(%r15)		// info = RP_OK, code = 0
	testq	%r14, %r14
	jnz	.Lslot_end
.Lleave:
	// r12 = gslot, r13 = the TLS offset: give back what the way in took.
	testq	%r12, %r12
	js	.Lgate_leave_other
	movq	%r12, %fs:RP_T_DEPTH(%r13)
.Lreturn:
	addq	$(RP_FR_SIZE+8), %rsp
	.cfi_adjust_cfa_offset -(RP_FR_SIZE+8)
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
	.cfi_adjust_cfa_offset RP_FR_SIZE+8+48

	// Integer arguments only (nints in rax, 0 to 6): load that many
	// from the array at rbp, so that the Go caller need not fill (and
	// zero) a whole struct rp_args; the other registers are not
	// arguments, and no vector register is (al = 0).
.Lints:
	cmpq	$1, %rax
	jb	.Lints_done
	movq	0(%rbp), %rdi
	je	.Lints_done
	movq	8(%rbp), %rsi
	cmpq	$3, %rax
	jb	.Lints_done
	movq	16(%rbp), %rdx
	je	.Lints_done
	movq	24(%rbp), %rcx
	cmpq	$5, %rax
	jb	.Lints_done
	movq	32(%rbp), %r8
	je	.Lints_done
	movq	40(%rbp), %r9
.Lints_done:
	xorl	%eax, %eax
	jmp	.Lcall_fn

	// A callback into Go moved the goroutine's stack and c with it
	// (rp_callback_leave moved the frame's pointer). Compared rather
	// than reloaded on the normal path, so that the result stores need
	// not wait for a load of what this function stored before the call.
.Lmoved:
	movq	RP_FR_RESULT(%rbx), %r15
	jmp	.Lstore_result

	// Closing: don't call fn (no callback has run, so r15 is still c);
	// .Lleave gives the slot back.
.Lgate_closed:
	movq	$0, RP_C_A(%r15)
	movq	$0, RP_C_B(%r15)
	movq	$RP_CLOSED, RP_C_INFO(%r15)
	jmp	.Lleave

	// gates[] full (deep nesting through callbacks) or no membarrier:
	// count the call in the gate itself. The locked add is a full
	// barrier, so the closing load below cannot pass it.
.Lgate_overflow:
	movq	$RP_GSLOT_OVERFLOW, %r12
	lock incq RP_GATE_OVERFLOW(%r8)
	jmp	.Lgate_check

	// First gated call on this thread: put it on the registry that
	// rp_gate_busy scans.
.Lgate_register:
	call	rp_gate_register
	movq	RP_FR_GATE(%rbx), %r8
	jmp	.Lgate_registered

	// Out of an overflow-counted call, or of an ungated one.
.Lgate_leave_other:
	cmpq	$RP_GSLOT_OVERFLOW, %r12
	jne	.Lreturn
	movq	RP_FR_GATE(%rbx), %rax
	lock decq RP_GATE_OVERFLOW(%rax)
	jmp	.Lreturn

	// CallContext only: take a sequence number and publish (tid, seq,
	// running) in the slot. (Plain calls keep seq 0, which no deadline
	// signal carries.)
.Lslot_begin:
	movq	%r14, %rdi
	call	rp_slot_begin
	movq	%rax, RP_FR_SEQ(%rbx)
	jmp	.Lenter

	// Then, with the frame published (so a deadline signal from now on
	// interrupts the call), look at cancel: if the deadline passed before
	// the frame was published, its signal may have been dropped, but
	// rp_interrupt stored cancel before sending it, so we see it here.
	// (rp_slot_begin's seq_cst store orders this load after the slot's
	// "running" against rp_interrupt's store of cancel and load of state.)
.Lcheck_cancel:
	movl	RP_SLOT_CANCEL(%r14), %eax
	testl	%eax, %eax
	jz	.Lcall
	movl	$RP_INTERRUPTED, RP_FR_STATUS(%rbx)
	movq	$0, RP_FR_PC(%rbx)
	jmp	rp_recover			// rsp is the frame: end the call there

.Lslot_end:
	movq	%r14, %rdi
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
	movq	%rsp, %rbx
	movq	rp_self@gottpoff(%rip), %r13
	movq	$0, %fs:RP_T_CUR(%r13)
	movl	$0, RP_FR_ACTIVE(%rbx)
	movq	RP_FR_SLOT(%rbx), %r14
	movq	RP_FR_GSLOT(%rbx), %r12
	testq	%r14, %r14
	jz	.Lfill
	movq	%r14, %rdi
	call	rp_slot_end
.Lfill:
	movq	RP_FR_RESULT(%rbx), %rdi
	movq	%rbx, %rsi
	call	rp_fill_result
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

	.section .rodata
	.p2align 2
.Lmxcsr_default:
	.long	0x1f80

	.section .note.GNU-stack,"",@progbits
