//go:build linux && cgo

#include "textflag.h"

// sigsysHandler is the child's SIGSYS handler on AArch64 (see
// sigsys_amd64.s), entered by the kernel as handler(signo=R0,
// siginfo=R1, ucontext=R2). The siginfo of a seccomp trap has the same
// layout as on x86-64: si_call_addr at 16, si_syscall at 24, si_arch at
// 28, and si_code at 8: a SIGSYS that is not a trap's returns at once,
// through sigsysRestorer (LR). The word at 4 (the record is complete) is
// stored last, with release order. No Go code runs here.
TEXT ·sigsysHandler(SB),NOSPLIT|NOFRAME,$0
	MOVW	8(R1), R4
	CMPW	$1, R4 // SYS_SECCOMP
	BNE	ignore
	MOVD	·sigsysRecord(SB), R3
	CBZ	R3, exit
	MOVWU	24(R1), R4
	MOVW	R4, 0(R3)
	MOVD	16(R1), R4
	MOVD	R4, 8(R3)
	MOVWU	28(R1), R4
	MOVW	R4, 16(R3)
	MOVD	$1, R4
	ADD	$4, R3, R5
	STLRW	R4, (R5)
exit:
	MOVD	$159, R0 // 128 + SIGSYS
	MOVD	$94, R8  // exit_group
	SVC
	UNDEF
ignore:
	RET // to sa_restorer, sigsysRestorer

// sigsysRestorer returns from the handler (sa_restorer).
TEXT ·sigsysRestorer(SB),NOSPLIT|NOFRAME,$0
	MOVD	$139, R8 // rt_sigreturn
	SVC
	UNDEF

// func sigsysRestorerAddr() uintptr
TEXT ·sigsysRestorerAddr(SB),NOSPLIT,$0-8
	MOVD	$·sigsysRestorer(SB), R0
	MOVD	R0, ret+0(FP)
	RET

// func sigsysHandlerAddr() uintptr
TEXT ·sigsysHandlerAddr(SB),NOSPLIT,$0-8
	MOVD	$·sigsysHandler(SB), R0
	MOVD	R0, ret+0(FP)
	RET
