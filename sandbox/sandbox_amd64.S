// sandbox_amd64.S: the protected call for linux/amd64 (SysV ABI).
//
// struct rp_result rp_call(uint64_t fn, const struct rp_args *a, uintptr_t slot, uintptr_t gate)
//
// The cgo wrapper calls this directly with rdi = the result buffer (a
// struct returned in memory), rsi = fn, rdx = a, rcx = slot, r8 = gate. It saves what a
// return must restore (the callee-saved registers rbx, rbp, r12-r15),
// builds a struct rp_frame on its own stack whose address is also the
// recovery stack pointer, marks it active and links it into the thread's
// initial-exec TLS block (cur = frame, the previous cur restored on the
// way out: a call made by a Go callback nests inside the plugin call that
// made the callback), loads the argument registers from a and calls fn.
// (Storing a constant NULL on the way out instead, without reading cur on
// entry, measured ~8 ns slower per call on the 2-core AMD EPYC VM.) This is a setjmp without the signal-mask save: no system call.
//
// When the signal handler claims a fault it rewrites the interrupted
// context (RIP = rp_recover, RSP = the frame) and returns; the kernel's
// sigreturn restores the thread's signal mask and resumes rp_recover on
// rp_call's own frame, above every frame the plugin pushed. rp_recover
// reloads its registers from the frame, clears the direction flag, resets
// the x87 unit (fninit) and MXCSR to their ABI defaults (0x37f, 0x1f80) and
// returns the fault record. The control words are reset rather than saved
// per call because fnstcw and stmxcsr alone cost more than the rest of the
// trampoline; the Go runtime never changes them, so the only loss is a
// non-default mode the host's own C code set on that thread before a call
// that faulted.
//
// A gated call (gate != 0, see "Gates" in sandbox.c) first records the gate
// with plain stores: gates[depth] = gate, depth + 1 (or, when the thread's
// gates[] is full or membarrier is unavailable, a lock-prefixed increment
// of gate->overflow), and only then loads gate->closing. No atomic
// read-modify-write on the fast path: the x86 store->load reordering
// between the slot stores and the closing load is made harmless by the
// membarrier the closer issues after setting closing. The frame keeps the
// gates[] index (or -1 for the overflow count) and .Lleave, which every way
// out of rp_call goes through (normal return, fault recovery, deadline
// interrupt, rp_abort_current, RP_CLOSED), gives it back by storing depth
// = that index: restoring the entry value rather than decrementing keeps
// the slots right whatever happened in between.

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
	movq	%rdi, %r12			// r12 = result
	movq	%rsi, %r15			// r15 = fn
	movq	%rdx, %rbp			// rbp = a
	movq	%rcx, %r14			// r14 = slot
	movq	rp_self@gottpoff(%rip), %r13	// r13 = TLS offset of rp_self
	movq	%rdi, RP_FR_RESULT(%rbx)
	movq	%rcx, RP_FR_SLOT(%rbx)
	movq	$0, RP_FR_SEQ(%rbx)
	movq	%fs:RP_T_CUR(%r13), %rax
	movq	%rax, RP_FR_PREV(%rbx)
	movq	%r8, RP_FR_GATE(%rbx)
	testq	%r8, %r8
	jz	.Lgated
	// Gated call, on the way in (rax, rcx and rdx are free: the
	// arguments were copied to callee-saved registers and the frame).
	cmpl	$0, %fs:RP_T_REGISTERED(%r13)
	jz	.Lgate_register
.Lgate_registered:
	cmpl	$0, rp_gate_fallback(%rip)
	jnz	.Lgate_overflow
	movq	%fs:RP_T_DEPTH(%r13), %rax
	cmpq	$RP_GATE_SLOTS, %rax
	jae	.Lgate_overflow
	movq	%rax, RP_FR_GSLOT(%rbx)
	movq	%r8, %fs:RP_T_GATES(%r13,%rax,8)	// gates[depth] = gate, then
	leaq	1(%rax), %rcx
	movq	%rcx, %fs:RP_T_DEPTH(%r13)	// depth + 1, then
.Lgate_check:
	cmpl	$0, RP_GATE_CLOSING(%r8)	// load closing
	jnz	.Lgate_closed
.Lgated:
	testq	%r14, %r14
	jnz	.Lslot_begin
.Lenter:
	movq	$1, RP_FR_ACTIVE(%rbx)		// active = 1, pending = 0
	movq	%rbx, %fs:RP_T_CUR(%r13)
	testq	%r14, %r14
	jnz	.Lcheck_cancel
.Lcall:
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
	callq	*%r15
	movl	$0, RP_FR_ACTIVE(%rbx)
	// rax, xmm0, then info = RP_OK and code = 0, in three 8-byte stores.
	// (Packing rax and xmm0 into one 16-byte store for the cgo wrapper's
	// 16-byte load, movq + movlhps + movups, measured slower on this
	// AMD EPYC: BenchmarkCall/protected 41-49 ns against 33-34 ns this
	// way, with the plain cgo call at 28-30 ns.)
	movq	%rax, RP_R_A(%r12)
	movsd	%xmm0, RP_R_A+8(%r12)
	movq	$0, RP_R_INFO(%r12)
	testq	%r14, %r14
	jnz	.Lslot_end
.Lleave:
	movq	RP_FR_PREV(%rbx), %rax
	movq	%rax, %fs:RP_T_CUR(%r13)
	movq	RP_FR_GATE(%rbx), %rax
	testq	%rax, %rax
	jz	.Lreturn
	// Gated call, on the way out: give back what the way in took.
	movq	RP_FR_GSLOT(%rbx), %rcx
	testq	%rcx, %rcx
	js	.Lgate_leave_overflow
	movq	%rcx, %fs:RP_T_DEPTH(%r13)
.Lreturn:
	movq	%r12, %rax			// a struct return gives back its buffer
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

	// Closing: don't call fn; .Lleave gives the slot back.
.Lgate_closed:
	movq	$0, RP_R_A(%r12)
	movq	$0, RP_R_B(%r12)
	movq	$RP_CLOSED, RP_R_INFO(%r12)
	jmp	.Lleave

	// gates[] full (deep nesting through callbacks) or no membarrier:
	// count the call in the gate itself. The locked add is a full
	// barrier, so the closing load below cannot pass it.
.Lgate_overflow:
	movq	$-1, RP_FR_GSLOT(%rbx)
	lock incq RP_GATE_OVERFLOW(%r8)
	jmp	.Lgate_check

	// First gated call on this thread: put it on the registry that
	// rp_gate_busy scans.
.Lgate_register:
	call	rp_gate_register
	movq	RP_FR_GATE(%rbx), %r8
	jmp	.Lgate_registered

	// Gated overflow call, on the way out (rax = gate).
.Lgate_leave_overflow:
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
	movq	RP_FR_RESULT(%rbx), %r12
	movq	RP_FR_SLOT(%rbx), %r14
	movq	rp_self@gottpoff(%rip), %r13
	movl	$0, RP_FR_ACTIVE(%rbx)
	testq	%r14, %r14
	jz	.Lfill
	movq	%r14, %rdi
	call	rp_slot_end
.Lfill:
	movq	%r12, %rdi
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
