//go:build linux && cgo

// tls_arm64.c: the AArch64 parts of tls.c: the thread pointer, and the
// test hook that overwrites every call-clobbered register.

#include "tls.h"

// rp_tls_tp returns the thread pointer: TPIDR_EL0 points at the thread's
// TCB, its static TLS blocks above it (TLS variant I).
char *rp_tls_tp(void) {
	char *tp;
	__asm__("mrs %0, tpidr_el0" : "=r"(tp));
	return tp;
}

// rp_tls_clobber overwrites x1-x18, v0-v7 and v16-v31 whole, and the
// upper halves of v8-v15 (AAPCS64 keeps only their low 64 bits, d8-d15,
// across a call): everything a C function called from the TLSDESC
// resolver's slow path may change.
void rp_tls_clobber(void) {
	__asm__ volatile("movi v0.16b, #0xff\n\t"
#define V(n) "mov v" #n ".16b, v0.16b\n\t"
			 V(1) V(2) V(3) V(4) V(5) V(6) V(7) V(16) V(17) V(18) V(19) V(20) V(21) V(22) V(23)
			 V(24) V(25) V(26) V(27) V(28) V(29) V(30) V(31)
#undef V
#define H(n) "mov v" #n ".d[1], v0.d[0]\n\t"
			 H(8) H(9) H(10) H(11) H(12) H(13) H(14) H(15)
#undef H
#define X(n) "mov x" #n ", #-1\n\t"
			 X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
			 X(16) X(17) "mov x18, #-1"
#undef X
			 ::: "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13",
			 "x14", "x15", "x16", "x17", "x18", "cc", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7",
			 "v8", "v9", "v10", "v11", "v12", "v13", "v14", "v15", "v16", "v17", "v18", "v19", "v20",
			 "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31");
}
