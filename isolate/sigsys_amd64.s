//go:build linux && cgo

#include "textflag.h"

// sigsysHandler is the child's SIGSYS handler, installed with
// rt_sigaction (sigsys_unsafe.go), entered by the kernel as
// handler(signo=DI, siginfo=SI, ucontext=DX). A seccomp trap's siginfo
// has si_code SYS_SECCOMP (1) at 8, si_call_addr at 16, si_syscall at
// 24, si_arch at 28. It writes them to the sysRecord at sigsysRecord (in
// the memory shared with the host) and ends the process: the plugin made
// a system call the policy forbids, and nothing of it may run on. A
// SIGSYS that is not a trap's (a kill or tgkill the plugin sent itself:
// the kernel sets their si_code; the filter refuses the calls that could
// queue a forged one, seccomp_rules.go notSigsys) names no call: the
// handler returns, through sigsysRestorer, and the signal has no effect.
// No Go code runs here (no g, no stack checks).
TEXT ·sigsysHandler(SB),NOSPLIT|NOFRAME,$0
	CMPL	8(SI), $1 // SYS_SECCOMP
	JNE	ignore
	MOVQ	·sigsysRecord(SB), AX
	TESTQ	AX, AX
	JZ	exit
	MOVL	24(SI), CX
	MOVL	CX, 0(AX)
	MOVQ	16(SI), CX
	MOVQ	CX, 8(AX)
	MOVL	28(SI), CX
	MOVL	CX, 16(AX)
	MOVL	$1, 4(AX)
exit:
	MOVL	$159, DI // 128 + SIGSYS
	MOVL	$231, AX // exit_group
	SYSCALL
	HLT
ignore:
	RET // to sa_restorer, sigsysRestorer

// sigsysRestorer returns from the handler (sa_restorer).
TEXT ·sigsysRestorer(SB),NOSPLIT|NOFRAME,$0
	MOVL	$15, AX // rt_sigreturn
	SYSCALL
	HLT

// func sigsysRestorerAddr() uintptr
TEXT ·sigsysRestorerAddr(SB),NOSPLIT,$0-8
	MOVQ	$·sigsysRestorer(SB), AX
	MOVQ	AX, ret+0(FP)
	RET

// func sigsysHandlerAddr() uintptr
TEXT ·sigsysHandlerAddr(SB),NOSPLIT,$0-8
	MOVQ	$·sigsysHandler(SB), AX
	MOVQ	AX, ret+0(FP)
	RET
