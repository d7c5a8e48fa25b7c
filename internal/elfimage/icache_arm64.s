#include "textflag.h"

// func syncICache(addr, n uintptr)
//
// Makes [addr, addr+n) coherent between the data and instruction caches,
// as gcc's __builtin___clear_cache does on AArch64: clean each data-cache
// line to the point of unification (DC CVAU), DSB ISH, invalidate each
// instruction-cache line (IC IVAU), DSB ISH, ISB. Line sizes come from
// CTR_EL0 (DminLine bits 19:16, IminLine bits 3:0: log2 of 4-byte words),
// which Linux lets user space read. The range must be readable.
TEXT ·syncICache(SB), NOSPLIT, $0-16
	MOVD	addr+0(FP), R0
	MOVD	n+8(FP), R1
	ADD	R0, R1, R1 // end
	MRS	CTR_EL0, R2
	MOVD	$4, R4
	UBFX	$16, R2, $4, R3
	LSL	R3, R4, R3 // data-cache line size
	AND	$15, R2, R5
	LSL	R5, R4, R5 // instruction-cache line size
	SUB	$1, R3, R6
	BIC	R6, R0, R7
dloop:
	CMP	R1, R7
	BHS	ddone
	DC	CVAU, R7
	ADD	R3, R7, R7
	B	dloop
ddone:
	DSB	$0xb // ISH
	SUB	$1, R5, R6
	BIC	R6, R0, R7
iloop:
	CMP	R1, R7
	BHS	idone
	WORD	$0xd50b7527 // IC IVAU, R7 (the Go assembler lacks IC IVAU)
	ADD	R5, R7, R7
	B	iloop
idone:
	DSB	$0xb
	ISB	$15
	RET
