// tls_desc_a64: an AArch64 plugin's own check that a TLS descriptor call
// (R_AARCH64_TLSDESC, the default -fPIC model there) keeps every register
// but x0 and x30: the resolver runplug writes into its descriptor, the
// dynamic one on a thread's first access (its slow path allocates the
// block) and after. Built by the arm64 tests only (loader
// TestTLSDescriptorsAArch64).
//
// Build: cc -shared -fPIC -O2 -Wall -o tls_desc_a64.so tls_desc_a64.c

#include <stdint.h>
#include <string.h>

__thread int64_t a64_counter;

int64_t tls_a64_bump(void) { return ++a64_counter; }

// regs holds x1-x16, x18 (17 x 8 bytes) and v0-v31 (32 x 16 bytes).
struct regs {
	uint64_t x[17];
	uint64_t pad;
	uint8_t v[32][16];
};

// tls_a64_regs_ok calls a64_counter's descriptor, through x17 as the
// compiler's scratch register, with known values in x1-x16, x18 and all
// 128 bits of v0-v31, and returns 1 when they all survive, 100 + the
// vector register that changed, 132 + the index of the general one (x1
// first, x18 last), or 99 when the address is not a64_counter's.
int64_t tls_a64_regs_ok(void) {
	struct regs io[2];
	memset(io, 0, sizeof io);
	for (int i = 0; i < 17; i++) {
		io[0].x[i] = 0x0123456789abcdefULL * (uint64_t)(i + 1);
	}
	for (int i = 0; i < 32; i++) {
		for (int j = 0; j < 16; j++) {
			io[0].v[i][j] = (uint8_t)(0x11 * i + j + 1);
		}
	}
	register uint64_t x0 __asm__("x0") = (uint64_t)io;
	__asm__ volatile(
		"mov x19, x0\n\t"
		"add x20, x0, #656\n\t" // io[1]
#define LQ(a, b) "ldp q" #a ", q" #b ", [x19, #144+" #a "*16]\n\t"
		LQ(0, 1) LQ(2, 3) LQ(4, 5) LQ(6, 7) LQ(8, 9) LQ(10, 11) LQ(12, 13) LQ(14, 15)
		LQ(16, 17) LQ(18, 19) LQ(20, 21) LQ(22, 23) LQ(24, 25) LQ(26, 27) LQ(28, 29) LQ(30, 31)
#undef LQ
#define LX(a, b, off) "ldp x" #a ", x" #b ", [x19, #" #off "]\n\t"
		LX(1, 2, 0) LX(3, 4, 16) LX(5, 6, 32) LX(7, 8, 48) LX(9, 10, 64) LX(11, 12, 80) LX(13, 14, 96)
		LX(15, 16, 112)
#undef LX
		"ldr x18, [x19, #128]\n\t"
		"adrp x0, :tlsdesc:a64_counter\n\t"
		"ldr x17, [x0, #:tlsdesc_lo12:a64_counter]\n\t"
		"add x0, x0, #:tlsdesc_lo12:a64_counter\n\t"
		".tlsdesccall a64_counter\n\t"
		"blr x17\n\t"
#define SQ(a, b) "stp q" #a ", q" #b ", [x20, #144+" #a "*16]\n\t"
		SQ(0, 1) SQ(2, 3) SQ(4, 5) SQ(6, 7) SQ(8, 9) SQ(10, 11) SQ(12, 13) SQ(14, 15)
		SQ(16, 17) SQ(18, 19) SQ(20, 21) SQ(22, 23) SQ(24, 25) SQ(26, 27) SQ(28, 29) SQ(30, 31)
#undef SQ
#define SX(a, b, off) "stp x" #a ", x" #b ", [x20, #" #off "]\n\t"
		SX(1, 2, 0) SX(3, 4, 16) SX(5, 6, 32) SX(7, 8, 48) SX(9, 10, 64) SX(11, 12, 80) SX(13, 14, 96)
		SX(15, 16, 112)
#undef SX
		"str x18, [x20, #128]\n\t"
		"mrs x1, tpidr_el0\n\t"
		"add x0, x0, x1"
		: "+r"(x0)
		:
		: "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14",
		  "x15", "x16", "x17", "x18", "x19", "x20", "x30", "memory", "cc", "v0", "v1", "v2", "v3",
		  "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12", "v13", "v14", "v15", "v16",
		  "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28",
		  "v29", "v30", "v31");
	uint64_t addr = x0; // before any call: x0 is only the asm's
	if ((int64_t *)addr != &a64_counter) {
		return 99;
	}
	for (int i = 0; i < 32; i++) {
		if (memcmp(io[0].v[i], io[1].v[i], 16) != 0) {
			return 100 + i;
		}
	}
	for (int i = 0; i < 17; i++) {
		if (io[0].x[i] != io[1].x[i]) {
			return 132 + i;
		}
	}
	return 1;
}
