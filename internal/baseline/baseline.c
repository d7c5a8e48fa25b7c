//go:build linux && amd64 && cgo

// The system loader (glibc's dlopen) as a baseline for benchmarks and an
// oracle for tests: see baseline_cgo.go. Each function reads dlerror on the
// thread that failed and returns a malloc'd copy of it (the caller frees
// it), since the next cgo call may run on another thread.

#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "baseline.h"
#include "_cgo_export.h"

static char *rp_sys_error(void) {
	const char *e = dlerror();
	return strdup(e != NULL ? e : "unknown dynamic loader error");
}

struct rp_sys_result rp_sys_dlopen(const char *path, int noload) {
	struct rp_sys_result r = {0, NULL};
	int flags = RTLD_NOW | RTLD_LOCAL;
	if (noload) {
		flags |= RTLD_NOLOAD;
	}
	void *h = dlopen(path, flags);
	if (h == NULL) {
		if (!noload) {
			r.err = rp_sys_error();
		}
		return r;
	}
	r.value = (uint64_t)h;
	return r;
}

struct rp_sys_result rp_sys_dlsym(uint64_t h, const char *name) {
	struct rp_sys_result r = {0, NULL};
	dlerror(); // clear: a symbol may legitimately be at address 0
	void *p = dlsym((void *)h, name);
	const char *e = dlerror();
	if (e != NULL) {
		r.err = strdup(e);
		return r;
	}
	r.value = (uint64_t)p;
	return r;
}

char *rp_sys_dlclose(uint64_t h) {
	if (dlclose((void *)h) != 0) {
		return rp_sys_error();
	}
	return NULL;
}

// rp_sys_call2 calls fn(a, b) through the pointer with no protection: the
// plain cgo call protected calls are compared with.
int64_t rp_sys_call2(uint64_t fn, int64_t a, int64_t b) {
	return ((int64_t(*)(int64_t, int64_t))fn)(a, b);
}

// rp_sys_loop2 calls fn(i, 1) for i in [0, n) and sums the results: the
// native caller of a callback in the callback benchmarks.
int64_t rp_sys_loop2(uint64_t fn, int64_t n) {
	int64_t (*f)(int64_t, int64_t) = (int64_t(*)(int64_t, int64_t))fn;
	int64_t s = 0;
	for (int64_t i = 0; i < n; i++) {
		s += f(i, 1);
	}
	return s;
}

// rp_sys_loop_export is rp_sys_loop2 calling the cgo //export function
// rpBaselineAdd (baseline_cgo.go) directly: what a Go function called
// from C costs with cgo's own machinery.
int64_t rp_sys_loop_export(int64_t n) {
	int64_t s = 0;
	for (int64_t i = 0; i < n; i++) {
		s += rpBaselineAdd(i, 1);
	}
	return s;
}

// rp_sys_loop_export_handle is rp_sys_loop_export through
// rpBaselineHandle, which calls the Go func of the cgo.Handle h: how cgo
// code calls a Go closure from C (C keeps the handle as its user data).
int64_t rp_sys_loop_export_handle(uintptr_t h, int64_t n) {
	int64_t s = 0;
	for (int64_t i = 0; i < n; i++) {
		s += rpBaselineHandle(h, i, 1);
	}
	return s;
}

// rp_sys_export_add_addr returns the address of the cgo //export function
// rpBaselineAdd, for native code that calls it through a pointer.
uint64_t rp_sys_export_add_addr(void) { return (uint64_t)&rpBaselineAdd; }

// rp_sys_call_s24 calls fn(s), a function taking and returning a 24-byte
// struct by value, through the pointer with no protection: the cgo
// baseline of the general call's benchmark.
struct rp_s24 rp_sys_call_s24(uint64_t fn, struct rp_s24 s) {
	return ((struct rp_s24(*)(struct rp_s24))fn)(s);
}

// The kernel's own round trip for a contained fault, the floor of runplug's
// fault path: a read of a PROT_NONE page, SIGSEGV, a handler that
// siglongjmps back (restoring the signal mask, as a C program recovering
// from a fault does). The handler is installed for the loop only and
// chains any fault that is not the loop's to the handler it replaced.
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>

static sigjmp_buf rp_sys_fault_env;
static volatile char *rp_sys_fault_page;
static struct sigaction rp_sys_fault_old;

static void rp_sys_fault_handler(int sig, siginfo_t *si, void *uc) {
	if (rp_sys_fault_page != NULL && (char *)si->si_addr == (char *)rp_sys_fault_page) {
		siglongjmp(rp_sys_fault_env, 1);
	}
	if (rp_sys_fault_old.sa_flags & SA_SIGINFO) {
		rp_sys_fault_old.sa_sigaction(sig, si, uc);
	} else if (rp_sys_fault_old.sa_handler != SIG_DFL && rp_sys_fault_old.sa_handler != SIG_IGN) {
		rp_sys_fault_old.sa_handler(sig);
	}
}

int64_t rp_sys_fault_loop(int64_t n) {
	char *page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED) {
		return -1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = rp_sys_fault_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &rp_sys_fault_old) != 0) {
		munmap(page, 4096);
		return -1;
	}
	volatile int64_t faults = 0;
	rp_sys_fault_page = page;
	for (volatile int64_t i = 0; i < n; i++) {
		if (sigsetjmp(rp_sys_fault_env, 1) == 0) {
			(void)*(volatile char *)rp_sys_fault_page;
		} else {
			faults++;
		}
	}
	rp_sys_fault_page = NULL;
	sigaction(SIGSEGV, &rp_sys_fault_old, NULL);
	munmap(page, 4096);
	return faults;
}

// rp_sys_loop_export_recover is rp_sys_loop_export calling the cgo //export
// function rpBaselineExportRecover (LoopExportRecover).
int64_t rp_sys_loop_export_recover(int64_t n) {
	int64_t s = 0;
	for (int64_t i = 0; i < n; i++) {
		s += rpBaselineExportRecover(i, 1);
	}
	return s;
}
