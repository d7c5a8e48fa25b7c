//go:build linux && cgo

// tlsdesc_amd64.c: what the x86-64 TLS descriptor resolvers
// (tlsdesc_amd64.S) need decided once (the slow path's save area), and
// the tests' native callers of a descriptor.

#define _GNU_SOURCE
#include <cpuid.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "tls.h"

// The save area of rp_tlsdesc_dynamic's slow path, decided once.
int32_t rp_tlsdesc_xsave __attribute__((visibility("hidden")));  // XSAVE (1) or FXSAVE (0)
uint64_t rp_tlsdesc_save __attribute__((visibility("hidden"))); // bytes, 64-byte alignment not included
static pthread_once_t rp_tlsdesc_once = PTHREAD_ONCE_INIT;

static void rp_tlsdesc_init(void) {
	unsigned a, b, c, d;
	rp_tlsdesc_xsave = 0;
	rp_tlsdesc_save = 512 + 64;
	if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_OSXSAVE) != 0 && __get_cpuid_max(0, NULL) >= 0xd) {
		// CPUID.(EAX=0DH, ECX=0):EBX is the size XSAVE needs for the
		// components XCR0 enables now.
		__cpuid_count(0xd, 0, a, b, c, d);
		if (b >= 512 + 64) {
			rp_tlsdesc_xsave = 1;
			rp_tlsdesc_save = b + 64;
		}
	}
}

uint64_t rp_tlsdesc_dynamic_addr(void) {
	pthread_once(&rp_tlsdesc_once, rp_tlsdesc_init);
	return (uint64_t)&rp_tlsdesc_dynamic;
}

uint64_t rp_tlsdesc_save_size(void) {
	pthread_once(&rp_tlsdesc_once, rp_tlsdesc_init);
	return rp_tlsdesc_save | (uint64_t)rp_tlsdesc_xsave << 63;
}

// Test fixture: calls a descriptor as plugin code does and returns the
// variable's address (the resolver's result plus the thread pointer).
static uint64_t rp_tlsdesc_fixture(uint64_t *desc) {
	uint64_t off;
	// Past the red zone: the call pushes its return address.
	__asm__ volatile("subq $128, %%rsp\n\tcall *(%%rax)\n\taddq $128, %%rsp" : "=a"(off) : "a"(desc) : "memory", "cc");
	return off + rp_tls_thread_pointer();
}

uint64_t rp_tlsdesc_fixture_addr(void) { return (uint64_t)&rp_tlsdesc_fixture; }

// rp_tlsdesc_fixture_regs calls the descriptor with known values in every
// register the caller does not save (the 8 scratch general registers,
// and xmm0-15, or ymm0-15 when ymm is set) and returns 1 when they all
// survive, 100 + the first that changed (vector 0-15, general 16-23), or
// 99 when the address is not want (unchecked when want is 0).
extern int rp_tls_clobber_test;

struct rp_regs {
	uint8_t v[16][32];
	uint64_t g[8];
};

#define RP_LOAD_G                                                                                          \
	"movq 512(%%rbx), %%rcx\n\tmovq 520(%%rbx), %%rdx\n\tmovq 528(%%rbx), %%rsi\n\tmovq 536(%%rbx), %%rdi\n\t" \
	"movq 544(%%rbx), %%r8\n\tmovq 552(%%rbx), %%r9\n\tmovq 560(%%rbx), %%r10\n\tmovq 568(%%rbx), %%r11\n\t"
#define RP_STORE_G                                                                                                \
	"movq %%rcx, 576+512(%%rbx)\n\tmovq %%rdx, 576+520(%%rbx)\n\tmovq %%rsi, 576+528(%%rbx)\n\tmovq %%rdi, 576+536(%%rbx)\n\t" \
	"movq %%r8, 576+544(%%rbx)\n\tmovq %%r9, 576+552(%%rbx)\n\tmovq %%r10, 576+560(%%rbx)\n\tmovq %%r11, 576+568(%%rbx)\n\t"
#define RP_V16(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#define RP_CLOBBERS                                                                                         \
	"rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", \
	    "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"

// The descriptor's address travels in io[1].g[0], which the call's
// results overwrite.
static void rp_regs_xmm(struct rp_regs *io, uint64_t *addr) {
	void *a = io;
	__asm__ volatile("subq $128, %%rsp\n\tpushq %%rbx\n\tmovq %%rax, %%rbx\n\t"
#define X(n) "movdqu " #n "*32(%%rbx), %%xmm" #n "\n\t"
			 RP_V16(X)
#undef X
			 RP_LOAD_G "movq 576+512(%%rbx), %%rax\n\tcall *(%%rax)\n\taddq %%fs:0, %%rax\n\t"
#define X(n) "movdqu %%xmm" #n ", 576+" #n "*32(%%rbx)\n\t"
			 RP_V16(X)
#undef X
			 RP_STORE_G "popq %%rbx\n\taddq $128, %%rsp"
			 : "+a"(a)
			 :
			 : RP_CLOBBERS);
	*addr = (uint64_t)a;
}

__attribute__((target("avx"))) static void rp_regs_ymm(struct rp_regs *io, uint64_t *addr) {
	void *a = io;
	__asm__ volatile("subq $128, %%rsp\n\tpushq %%rbx\n\tmovq %%rax, %%rbx\n\t"
#define X(n) "vmovdqu " #n "*32(%%rbx), %%ymm" #n "\n\t"
			 RP_V16(X)
#undef X
			 RP_LOAD_G "movq 576+512(%%rbx), %%rax\n\tcall *(%%rax)\n\taddq %%fs:0, %%rax\n\t"
#define X(n) "vmovdqu %%ymm" #n ", 576+" #n "*32(%%rbx)\n\t"
			 RP_V16(X)
#undef X
			 RP_STORE_G "vzeroupper\n\tpopq %%rbx\n\taddq $128, %%rsp"
			 : "+a"(a)
			 :
			 : RP_CLOBBERS);
	*addr = (uint64_t)a;
}

static int64_t rp_tlsdesc_fixture_regs(uint64_t *desc, uint64_t want, uint64_t ymm, uint64_t clobber) {
	struct rp_regs io[2];
	memset(io, 0, sizeof io);
	for (int i = 0; i < 16; i++) {
		for (int j = 0; j < 32; j++) {
			io[0].v[i][j] = (uint8_t)(0x11 * i + j + 1);
		}
	}
	for (int i = 0; i < 8; i++) {
		io[0].g[i] = 0x0123456789abcdefULL * (uint64_t)(i + 1);
	}
	io[1].g[0] = (uint64_t)desc;
	uint64_t addr;
	__atomic_store_n(&rp_tls_clobber_test, (int)clobber, __ATOMIC_RELAXED);
	if (ymm) {
		rp_regs_ymm(io, &addr);
	} else {
		rp_regs_xmm(io, &addr);
	}
	__atomic_store_n(&rp_tls_clobber_test, 0, __ATOMIC_RELAXED);
	if (want != 0 && addr != want) {
		return 99;
	}
	int vbytes = ymm ? 32 : 16;
	for (int i = 0; i < 16; i++) {
		if (memcmp(io[0].v[i], io[1].v[i], vbytes) != 0) {
			return 100 + i;
		}
	}
	for (int i = 0; i < 8; i++) {
		if (io[0].g[i] != io[1].g[i]) {
			return 116 + i;
		}
	}
	return 1;
}

uint64_t rp_tlsdesc_fixture_regs_addr(void) { return (uint64_t)&rp_tlsdesc_fixture_regs; }

int rp_cpu_has_avx(void) {
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx");
}
