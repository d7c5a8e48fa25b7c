//go:build linux && cgo

// tlsdesc_arm64.c: the AArch64 TLS descriptor resolvers' address
// (tlsdesc_arm64.S), and the tests' native callers of a descriptor.

#include <stdint.h>
#include <string.h>

#include "tls.h"

uint64_t rp_tlsdesc_dynamic_addr(void) { return (uint64_t)&rp_tlsdesc_dynamic; }

// Test fixture: calls a descriptor as plugin code does and returns the
// variable's address (the resolver's result plus the thread pointer).
// The entry goes through x17, as a compiler's through a scratch register
// of its choosing (not x30: qemu-user's BLR X30 branches to the return
// address it has just written).
static uint64_t rp_tlsdesc_fixture(uint64_t *desc) {
	register uint64_t x0 __asm__("x0") = (uint64_t)desc;
	__asm__ volatile("ldr x17, [x0]\n\tblr x17\n\tmrs x17, tpidr_el0\n\tadd x0, x0, x17"
			 : "+r"(x0)
			 :
			 : "x17", "x30", "memory", "cc");
	return x0;
}

uint64_t rp_tlsdesc_fixture_addr(void) { return (uint64_t)&rp_tlsdesc_fixture; }

// rp_tlsdesc_fixture_regs calls the descriptor with known values in every
// register but x0, x30 and x17, which holds the entry (x1-x16, x18 and
// all 128 bits of v0-v31; x19-x28 are the C compiler's to check), and
// returns 1 when they all survive, 100 + the first that changed (vector
// 0-31, general x1-x18 as 132-149), or 99 when the address is not want
// (unchecked when want is 0). wide is ignored: every vector register is
// checked whole.
extern int rp_tls_clobber_test;

struct rp_regs {
	uint64_t g[18]; // x1-x18
	uint8_t v[32][16];
};

#define RP_Q16(X) X(0, 1) X(2, 3) X(4, 5) X(6, 7) X(8, 9) X(10, 11) X(12, 13) X(14, 15) \
	X(16, 17) X(18, 19) X(20, 21) X(22, 23) X(24, 25) X(26, 27) X(28, 29) X(30, 31)
#define RP_X9(X) X(1, 2) X(3, 4) X(5, 6) X(7, 8) X(9, 10) X(11, 12) X(13, 14) X(15, 16) X(17, 18)

// The registers travel from io[0] through x19 and to io[1] through x20;
// the descriptor's address is io[1].g[0], which the call's results
// overwrite.
static void rp_regs_call(struct rp_regs *io, uint64_t *addr) {
	register uint64_t x0 __asm__("x0") = (uint64_t)io;
	__asm__ volatile("mov x19, x0\n\tadd x20, x0, #656\n\t"
#define LQ(a, b) "ldp q" #a ", q" #b ", [x19, #144+" #a "*16]\n\t"
			 RP_Q16(LQ)
#undef LQ
#define LX(a, b) "ldp x" #a ", x" #b ", [x19, #(" #a "-1)*8]\n\t"
			 RP_X9(LX)
#undef LX
			 "ldr x0, [x20]\n\t"
			 "ldr x17, [x0]\n\t"
			 "blr x17\n\t"
#define SQ(a, b) "stp q" #a ", q" #b ", [x20, #144+" #a "*16]\n\t"
			 RP_Q16(SQ)
#undef SQ
#define SX(a, b) "stp x" #a ", x" #b ", [x20, #(" #a "-1)*8]\n\t"
			 RP_X9(SX)
#undef SX
			 "mrs x1, tpidr_el0\n\t"
			 "add x0, x0, x1"
			 : "+r"(x0)
			 :
			 : "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13",
			 "x14", "x15", "x16", "x17", "x18", "x19", "x20", "x30", "memory", "cc", "v0", "v1", "v2",
			 "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12", "v13", "v14", "v15",
			 "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27",
			 "v28", "v29", "v30", "v31");
	*addr = x0;
}

_Static_assert(sizeof(struct rp_regs) == 656, "rp_regs layout (rp_regs_call's offsets)");

static int64_t rp_tlsdesc_fixture_regs(uint64_t *desc, uint64_t want, uint64_t wide, uint64_t clobber) {
	(void)wide;
	struct rp_regs io[2];
	memset(io, 0, sizeof io);
	for (int i = 0; i < 32; i++) {
		for (int j = 0; j < 16; j++) {
			io[0].v[i][j] = (uint8_t)(0x11 * i + j + 1);
		}
	}
	for (int i = 0; i < 18; i++) {
		io[0].g[i] = 0x0123456789abcdefULL * (uint64_t)(i + 1);
	}
	io[1].g[0] = (uint64_t)desc;
	uint64_t addr;
	__atomic_store_n(&rp_tls_clobber_test, (int)clobber, __ATOMIC_RELAXED);
	rp_regs_call(io, &addr);
	__atomic_store_n(&rp_tls_clobber_test, 0, __ATOMIC_RELAXED);
	if (want != 0 && addr != want) {
		return 99;
	}
	for (int i = 0; i < 32; i++) {
		if (memcmp(io[0].v[i], io[1].v[i], 16) != 0) {
			return 100 + i;
		}
	}
	for (int i = 0; i < 18; i++) {
		if (i != 17 - 1 && io[0].g[i] != io[1].g[i]) {
			return 132 + i;
		}
	}
	return 1;
}

uint64_t rp_tlsdesc_fixture_regs_addr(void) { return (uint64_t)&rp_tlsdesc_fixture_regs; }
