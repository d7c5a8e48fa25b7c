//go:build linux && amd64 && cgo

// tlsdesc_amd64.S: the resolvers of TLS descriptors (-mtls-dialect=gnu2,
// R_X86_64_TLSDESC) for the objects runplug loads.
//
// A descriptor is {entry, arg}. Code reaches a thread-local variable by
//
//	lea  var@tlsdesc(%rip), %rax
//	call *var@tlscall(%rax)      // %rax = &descriptor
//	mov  %fs:(%rax), ...         // %rax = &var - thread pointer
//
// and counts on every register but %rax and the flags being preserved
// (the call site saves nothing: that is the point of the dialect).
//
// rp_tlsdesc_static serves a variable in static TLS: arg is its offset
// from the thread pointer.
//
// rp_tlsdesc_dynamic serves a variable of a dynamic module of tls.c: arg is
// module | offset << RP_TLSDESC_MOD_BITS. Its fast path reads the thread's
// block as rp_tls_get_addr's does (four registers, pushed and popped).
// Its slow path calls rp_tls_get_addr, which may call malloc and memcpy,
// and those may use any call-clobbered register, vector registers
// included (glibc's AVX2 and EVEX string functions, vzeroupper): it saves
// the nine call-clobbered general registers and the whole extended state
// with XSAVE (every component XCR0 enables; FXSAVE where the OS does not
// enable XSAVE) on a 64-byte-aligned area of rp_tlsdesc_save bytes, as
// glibc 2.40's _dl_tlsdesc_dynamic does since its bug 31372.

#include "tls.h"

	.text

	.globl	rp_tlsdesc_static
	.hidden	rp_tlsdesc_static
	.type	rp_tlsdesc_static, @function
	.p2align 4
rp_tlsdesc_static:
	.cfi_startproc
	endbr64 // an indirect call's target (a NOP without CET)
	movq	8(%rax), %rax
	ret
	.cfi_endproc
	.size	rp_tlsdesc_static, .-rp_tlsdesc_static

	.globl	rp_tlsdesc_dynamic
	.hidden	rp_tlsdesc_dynamic
	.type	rp_tlsdesc_dynamic, @function
	.p2align 4
rp_tlsdesc_dynamic:
	.cfi_startproc
	endbr64
	pushq	%rdi
	.cfi_adjust_cfa_offset 8
	pushq	%rsi
	.cfi_adjust_cfa_offset 8
	pushq	%rdx
	.cfi_adjust_cfa_offset 8
	pushq	%rcx
	.cfi_adjust_cfa_offset 8
	movq	8(%rax), %rsi
	movzwl	%si, %edi                      // module
	shrq	$RP_TLSDESC_MOD_BITS, %rsi     // offset
	// Fast path, as rp_tls_get_addr's: m < rp_tls_self.n, the slot's
	// generation is the module's, and the slot has a block.
	movq	rp_tls_self@gottpoff(%rip), %rdx
	cmpq	%fs:RP_TLS_THREAD_N(%rdx), %rdi
	jae	1f
	movq	%fs:RP_TLS_THREAD_SLOTS(%rdx), %rdx
	movq	%rdi, %rcx
	shlq	$RP_TLS_SLOT_SHIFT, %rcx
	addq	%rcx, %rdx                     // &slots[m]
	imulq	$RP_TLS_MOD_SIZE, %rdi, %rcx
	leaq	rp_tls_mods(%rip), %rax
	movq	RP_TLS_MOD_GEN(%rax,%rcx), %rcx
	cmpq	%rcx, RP_TLS_SLOT_GEN(%rdx)
	jne	1f
	movq	RP_TLS_SLOT_BLOCK(%rdx), %rax
	testq	%rax, %rax
	jz	1f
	addq	%rsi, %rax                     // the variable's address
	subq	%fs:0, %rax
	popq	%rcx
	.cfi_adjust_cfa_offset -8
	popq	%rdx
	.cfi_adjust_cfa_offset -8
	popq	%rsi
	.cfi_adjust_cfa_offset -8
	popq	%rdi
	.cfi_adjust_cfa_offset -8
	ret
	.cfi_adjust_cfa_offset 32
1:	// Slow path: %rdi = module, %rsi = offset.
	pushq	%r8
	.cfi_adjust_cfa_offset 8
	pushq	%r9
	.cfi_adjust_cfa_offset 8
	pushq	%r10
	.cfi_adjust_cfa_offset 8
	pushq	%r11
	.cfi_adjust_cfa_offset 8
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbp, 0
	movq	%rsp, %rbp
	.cfi_def_cfa_register %rbp
	subq	$16, %rsp                      // -16(%rbp): the index {module, offset}
	movq	%rdi, -16(%rbp)
	movq	%rsi, -8(%rbp)
	subq	rp_tlsdesc_save(%rip), %rsp
	andq	$-64, %rsp
	cmpl	$0, rp_tlsdesc_xsave(%rip)
	je	3f
	// XRSTOR faults on a header whose reserved bytes are not zero, and
	// XSAVE writes only XSTATE_BV: clear the 64-byte header first.
	xorl	%eax, %eax
	movq	%rax, 512(%rsp)
	movq	%rax, 520(%rsp)
	movq	%rax, 528(%rsp)
	movq	%rax, 536(%rsp)
	movq	%rax, 544(%rsp)
	movq	%rax, 552(%rsp)
	movq	%rax, 560(%rsp)
	movq	%rax, 568(%rsp)
	movl	$-1, %eax
	movl	$-1, %edx
	xsave64	(%rsp)
	jmp	4f
3:	fxsave64 (%rsp)
4:	leaq	-16(%rbp), %rdi
	call	rp_tls_get_addr
	movq	%rax, -16(%rbp)                // the result, past the call
	cmpl	$0, rp_tlsdesc_xsave(%rip)
	je	5f
	movl	$-1, %eax
	movl	$-1, %edx
	xrstor64 (%rsp)
	jmp	6f
5:	fxrstor64 (%rsp)
6:	movq	-16(%rbp), %rax
	subq	%fs:0, %rax
	movq	%rbp, %rsp
	.cfi_def_cfa_register %rsp
	popq	%rbp
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbp
	popq	%r11
	.cfi_adjust_cfa_offset -8
	popq	%r10
	.cfi_adjust_cfa_offset -8
	popq	%r9
	.cfi_adjust_cfa_offset -8
	popq	%r8
	.cfi_adjust_cfa_offset -8
	popq	%rcx
	.cfi_adjust_cfa_offset -8
	popq	%rdx
	.cfi_adjust_cfa_offset -8
	popq	%rsi
	.cfi_adjust_cfa_offset -8
	popq	%rdi
	.cfi_adjust_cfa_offset -8
	ret
	.cfi_endproc
	.size	rp_tlsdesc_dynamic, .-rp_tlsdesc_dynamic

	.section .note.GNU-stack,"",@progbits
