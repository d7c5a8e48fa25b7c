//go:build linux && amd64 && cgo

// statictls.c: the C half of static TLS (statictls_cgo.go) and of TLS
// descriptors (tlsdesc_amd64.S).
//
// Static TLS: glibc's dlopen of a stand-in object (statictls_elf.go) that
// asks for static TLS; see statictls_cgo.go for the design and
// docs/ASSUMPTIONS.md for what it assumes of glibc.

#define _GNU_SOURCE
#include <cpuid.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tls.h"

void rp_static_tls_open(const char *path, const char *block_sym, const char *slot_sym, struct rp_static_tls *r) {
	memset(r, 0, sizeof *r);
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *e = dlerror();
		snprintf(r->err, sizeof r->err, "%s", e != NULL ? e : "dlopen failed");
		return;
	}
	int64_t *slot = dlsym(h, slot_sym);
	char *block = dlsym(h, block_sym);
	if (slot == NULL || block == NULL) {
		snprintf(r->err, sizeof r->err, "the stand-in's symbols %s and %s are not found in what dlopen returned", block_sym, slot_sym);
		dlclose(h);
		return;
	}
	// Two views of the same offset must agree: what glibc's TPOFF64
	// relocation wrote, and this thread's block (dlsym of a TLS symbol
	// gives the calling thread's address) minus its thread pointer.
	int64_t here = (int64_t)(block - (char *)rp_tls_thread_pointer());
	if (here != *slot) {
		snprintf(r->err, sizeof r->err, "glibc's R_X86_64_TPOFF64 gave offset %lld, dlsym minus the thread pointer %lld", (long long)*slot, (long long)here);
		dlclose(h);
		return;
	}
	r->handle = h;
	r->tpoff = *slot;
}

int rp_static_tls_close(void *handle) { return dlclose(handle); }

int64_t rp_static_tls_offset_here(void *handle, const char *block_sym) {
	char *block = dlsym(handle, block_sym);
	if (block == NULL) {
		return INT64_MIN;
	}
	return (int64_t)(block - (char *)rp_tls_thread_pointer());
}

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

uint64_t rp_tlsdesc_static_addr(void) { return (uint64_t)&rp_tlsdesc_static; }

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
