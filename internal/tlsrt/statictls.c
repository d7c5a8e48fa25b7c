//go:build linux && (amd64 || arm64) && cgo

// statictls.c: the C half of static TLS (statictls_cgo.go); the
// descriptors' fixtures are per architecture (tlsdesc_amd64.c,
// tlsdesc_arm64.c).
//
// Static TLS: glibc's dlopen of a stand-in object (statictls_elf.go) that
// asks for static TLS; see statictls_cgo.go for the design and
// docs/ASSUMPTIONS.md for what it assumes of glibc.

#define _GNU_SOURCE
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
		snprintf(r->err, sizeof r->err, "glibc's TPOFF64 relocation gave offset %lld, dlsym minus the thread pointer %lld", (long long)*slot, (long long)here);
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

uint64_t rp_tlsdesc_static_addr(void) { return (uint64_t)&rp_tlsdesc_static; }
