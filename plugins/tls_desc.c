// tls_desc: thread-local variables accessed through TLS descriptors
// (-mtls-dialect=gnu2: R_X86_64_TLSDESC), served by runplug's dynamic
// resolver; and a check that the resolver keeps every register but rax.
//
// Build: cc -shared -fPIC -O2 -Wall -mtls-dialect=gnu2 -o tls_desc.so tls_desc.c

#include <stdint.h>
#include <string.h>

__thread int64_t desc_counter;
static __thread char desc_greeting[8] = "desc";

int64_t tls_desc_bump(void) { return ++desc_counter; }

int64_t tls_desc_greeting(void) {
	int64_t v;
	memcpy(&v, desc_greeting, sizeof v);
	return v;
}

// regs holds, for tls_desc_regs_ok, the values loaded into xmm0-xmm15
// (16 x 16 bytes) and rcx, rdx, rsi, rdi, r8-r11 (8 x 8 bytes) before a
// descriptor call, then what they held after it.
struct regs {
	uint8_t xmm[16][16];
	uint64_t gpr[8];
};

// tls_desc_regs_ok calls desc_counter's descriptor with known values in
// every register the caller does not save and returns 1 when they all
// survive (the first call on a thread takes the resolver's slow path,
// which allocates the block), else 100 + the index of the first one that changed
// (xmm 0-15, then the general registers 16-23), or 99 when the address
// it returned is not desc_counter's.
int64_t tls_desc_regs_ok(void) {
	// In, out: on the stack, so that the descriptor call below is this
	// thread's first thread-local access (the resolver's slow path).
	struct regs io[2];
	struct regs *in = &io[0], *out = &io[1];
	for (int i = 0; i < 16; i++) {
		for (int j = 0; j < 16; j++) {
			in->xmm[i][j] = (uint8_t)(0x11 * i + j + 1);
		}
	}
	for (int i = 0; i < 8; i++) {
		in->gpr[i] = 0x0123456789abcdefULL * (uint64_t)(i + 1);
	}
	void *a = io; // in %rax, then %rbx
	__asm__ volatile(
		"subq $128, %%rsp\n\t" // past the red zone
		"pushq %%rbx\n\t"
		"movq %%rax, %%rbx\n\t"
#define X(n) "movdqu " #n "*16(%%rbx), %%xmm" #n "\n\t"
		X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#undef X
		"movq 256(%%rbx), %%rcx\n\t"
		"movq 264(%%rbx), %%rdx\n\t"
		"movq 272(%%rbx), %%rsi\n\t"
		"movq 280(%%rbx), %%rdi\n\t"
		"movq 288(%%rbx), %%r8\n\t"
		"movq 296(%%rbx), %%r9\n\t"
		"movq 304(%%rbx), %%r10\n\t"
		"movq 312(%%rbx), %%r11\n\t"
		"leaq desc_counter@tlsdesc(%%rip), %%rax\n\t"
		"call *desc_counter@tlscall(%%rax)\n\t"
		"addq %%fs:0, %%rax\n\t"
#define X(n) "movdqu %%xmm" #n ", 320+" #n "*16(%%rbx)\n\t"
		X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#undef X
		"movq %%rcx, 576(%%rbx)\n\t"
		"movq %%rdx, 584(%%rbx)\n\t"
		"movq %%rsi, 592(%%rbx)\n\t"
		"movq %%rdi, 600(%%rbx)\n\t"
		"movq %%r8, 608(%%rbx)\n\t"
		"movq %%r9, 616(%%rbx)\n\t"
		"movq %%r10, 624(%%rbx)\n\t"
		"movq %%r11, 632(%%rbx)\n\t"
		"popq %%rbx\n\t"
		"addq $128, %%rsp\n\t"
		: "+a"(a)
		:
		: "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory", "cc",
		  "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
		  "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
	int64_t *addr = a;
	if (addr != &desc_counter) {
		return 99;
	}
	for (int i = 0; i < 16; i++) {
		if (memcmp(in->xmm[i], out->xmm[i], 16) != 0) {
			return 100 + i;
		}
	}
	for (int i = 0; i < 8; i++) {
		if (in->gpr[i] != out->gpr[i]) {
			return 116 + i;
		}
	}
	return 1;
}

// tls_desc_ymm_ok is tls_desc_regs_ok for the full 256 bits of ymm0-ymm15
// (glibc's AVX string functions, which the slow path may call, end with
// vzeroupper): 1 when they survive, 100 + the register that changed, 99
// for a wrong address, 2 when the CPU has no AVX (nothing checked).
__attribute__((target("avx"))) static int64_t ymm_check(void) {
	uint8_t io[2][16][32];
	for (int i = 0; i < 16; i++) {
		for (int j = 0; j < 32; j++) {
			io[0][i][j] = (uint8_t)(0x13 * i + j + 7);
		}
	}
	void *a = io;
	__asm__ volatile(
		"subq $128, %%rsp\n\t"
		"pushq %%rbx\n\t"
		"movq %%rax, %%rbx\n\t"
#define X(n) "vmovdqu " #n "*32(%%rbx), %%ymm" #n "\n\t"
		X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#undef X
		"leaq desc_counter@tlsdesc(%%rip), %%rax\n\t"
		"call *desc_counter@tlscall(%%rax)\n\t"
		"addq %%fs:0, %%rax\n\t"
#define X(n) "vmovdqu %%ymm" #n ", 512+" #n "*32(%%rbx)\n\t"
		X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#undef X
		"vzeroupper\n\t"
		"popq %%rbx\n\t"
		"addq $128, %%rsp\n\t"
		: "+a"(a)
		:
		: "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
		  "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
	if ((int64_t *)a != &desc_counter) {
		return 99;
	}
	for (int i = 0; i < 16; i++) {
		if (memcmp(io[0][i], io[1][i], 32) != 0) {
			return 100 + i;
		}
	}
	return 1;
}

int64_t tls_desc_ymm_ok(void) {
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx")) {
		return 2;
	}
	return ymm_check();
}

// tls_desc_loop does n accesses through the dynamic descriptor (see
// tls_basic.c's tls_loop).
static __attribute__((noinline)) void loop_once(void) {
	desc_counter++;
	__asm__ volatile("" ::: "memory");
}

int64_t tls_desc_loop(int64_t n) {
	for (int64_t i = 0; i < n; i++) {
		loop_once();
	}
	return desc_counter;
}
