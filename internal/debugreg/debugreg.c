//go:build linux && (amd64 || arm64) && cgo

// Debuggers see runplug's objects through the r_debug protocol, next to
// glibc's own list (see loader/doc.go "Debugging and profiling" for why
// this and not gdb's JIT interface).
//
// glibc >= 2.35 makes struct r_debug an r_debug_extended: r_version 2
// means the r_next field follows and chains one r_debug per link-map
// namespace (dlmopen). gdb (13 and later) walks that chain and lists every
// namespace's link_map entries as shared libraries. runplug appends ONE
// node of its own at the end of the chain, never freed, whose r_map is a
// list of runplug's objects made of the public link_map fields only
// (l_addr, l_name, l_ld, l_next, l_prev). glibc's own lists are never
// touched; the only writes to glibc's memory are r_version 1 -> 2 on the
// first node (what glibc itself does when a namespace is added) and the
// NULL r_next of the last node (with a compare-and-swap).
//
// Around each change r_state goes RT_ADD or RT_DELETE, then RT_CONSISTENT,
// and r_brk (glibc's _dl_debug_state, an empty function) is called each
// time: gdb's breakpoint there makes it re-read every namespace. With
// glibc built with SystemTap probes gdb breaks at the probes instead and
// sees runplug's changes at glibc's next event or `info sharedlibrary`.
//
// glibc itself writes the chain in one place, _dl_debug_initialize when a
// dlmopen namespace is first used. glibc 2.35 and 2.36 walk r_next to the
// end and append the namespace there, after runplug's node if it is last
// (its r_next is then glibc's). Later versions store the new namespace
// straight into the r_next of the namespace before it (the first node's
// for namespace 1), which unlinks a node that was there: runplug checks
// that its node is still on the chain at each change and appends it again
// when it is not (rp_dbg_relink), so a dlmopen hides runplug's objects from
// a debugger only until runplug's next load or close.

#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "debugreg.h"
#include "locks.h"

// The public layout of struct link_map (link.h) and of struct
// r_debug_extended (glibc >= 2.35), under our own names so that nothing
// here depends on the headers' glibc version.
struct rp_lm {
	uintptr_t l_addr;
	char *l_name;
	void *l_ld;
	struct rp_lm *l_next, *l_prev;
};

struct rp_rdebug {
	int r_version;
	struct rp_lm *r_map;
	uintptr_t r_brk;
	int r_state; // RT_CONSISTENT, RT_ADD, RT_DELETE
	uintptr_t r_ldbase;
	struct rp_rdebug *r_next;
};

_Static_assert(sizeof(struct rp_lm) == 5 * sizeof(void *), "link_map public part");
_Static_assert(__builtin_offsetof(struct rp_rdebug, r_next) == sizeof(struct r_debug), "r_next follows r_debug");

static struct rp_rdebug rp_ns = {.r_version = 2, .r_state = RT_CONSISTENT};
static struct rp_lm *rp_tail;
static pthread_mutex_t rp_dbg_mu = PTHREAD_MUTEX_INITIALIZER;
static int rp_dbg_err = -1; // -1 not tried, 0 linked, else an errno

extern ElfW(Dyn) _DYNAMIC[] __attribute__((weak));

// rp_find_rdebug returns the r_debug debuggers use: the one DT_DEBUG of the
// executable points to (what gdb reads), else ld.so's _r_debug.
static struct rp_rdebug *rp_find_rdebug(void) {
	if (_DYNAMIC != NULL) {
		for (ElfW(Dyn) *d = _DYNAMIC; d->d_tag != DT_NULL; d++) {
			if (d->d_tag == DT_DEBUG && d->d_un.d_ptr != 0) {
				return (struct rp_rdebug *)d->d_un.d_ptr;
			}
		}
	}
	return dlsym(RTLD_DEFAULT, "_r_debug");
}

static int rp_glibc_at_least(int major, int minor) {
	const char *v = gnu_get_libc_version();
	char *end;
	long ma = strtol(v, &end, 10);
	if (*end != '.') {
		return 0;
	}
	long mi = strtol(end + 1, NULL, 10);
	return ma > major || (ma == major && mi >= minor);
}

static void rp_dbg_notify(void) {
	if (rp_ns.r_brk != 0) {
		((void (*)(void))rp_ns.r_brk)();
	}
}

static struct rp_rdebug *rp_base;

// rp_dbg_append puts rp_ns at the end of the chain from base.
static void rp_dbg_append(struct rp_rdebug *base) {
	for (struct rp_rdebug *r = base;;) {
		struct rp_rdebug *expected = NULL;
		if (__atomic_compare_exchange_n(&r->r_next, &expected, &rp_ns, 0, __ATOMIC_RELEASE, __ATOMIC_ACQUIRE)) {
			return;
		}
		r = expected;
	}
}

// rp_dbg_relink appends rp_ns again when glibc unlinked it (see above).
// rp_dbg_mu is held.
static void rp_dbg_relink(void) {
	int n = 0;
	for (struct rp_rdebug *r = rp_base; r != NULL && n < 1024; r = __atomic_load_n(&r->r_next, __ATOMIC_ACQUIRE), n++) {
		if (r == &rp_ns) {
			return;
		}
	}
	if (n == 1024) {
		return; // not a chain we understand: leave it alone
	}
	__atomic_store_n(&rp_ns.r_next, NULL, __ATOMIC_RELEASE);
	rp_dbg_append(rp_base);
}

static int rp_dbg_link(void) {
	if (!rp_glibc_at_least(2, 35)) {
		return ENOSYS; // no r_next after r_debug in older glibc
	}
	struct rp_rdebug *base = rp_find_rdebug();
	if (base == NULL || base->r_brk == 0) {
		return ENOENT;
	}
	rp_ns.r_brk = base->r_brk;
	rp_ns.r_ldbase = base->r_ldbase;
	if (__atomic_load_n(&base->r_version, __ATOMIC_ACQUIRE) < 2) {
		// What glibc does when it adds a namespace: r_next is valid.
		int one = 1;
		__atomic_compare_exchange_n(&base->r_version, &one, 2, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
	}
	rp_base = base;
	rp_dbg_append(base);
	rp_dbg_notify();
	return 0;
}

int rp_dbg_init(void) {
	rp_mutex_lock(&rp_dbg_mu);
	if (rp_dbg_err < 0) {
		rp_dbg_err = rp_dbg_link();
	}
	int err = rp_dbg_err;
	rp_mutex_unlock(&rp_dbg_mu);
	return err;
}

void *rp_dbg_add(uint64_t l_addr, const char *name, uint64_t l_ld) {
	if (rp_dbg_init() != 0) {
		return NULL;
	}
	struct rp_lm *lm = calloc(1, sizeof *lm);
	char *n = strdup(name);
	if (lm == NULL || n == NULL) {
		free(lm);
		free(n);
		return NULL;
	}
	lm->l_addr = l_addr;
	lm->l_name = n;
	lm->l_ld = (void *)l_ld;
	rp_mutex_lock(&rp_dbg_mu);
	rp_dbg_relink();
	rp_ns.r_state = RT_ADD;
	rp_dbg_notify();
	lm->l_prev = rp_tail;
	if (rp_tail != NULL) {
		__atomic_store_n(&rp_tail->l_next, lm, __ATOMIC_RELEASE);
	} else {
		__atomic_store_n(&rp_ns.r_map, lm, __ATOMIC_RELEASE);
	}
	rp_tail = lm;
	rp_ns.r_state = RT_CONSISTENT;
	rp_dbg_notify();
	rp_mutex_unlock(&rp_dbg_mu);
	return lm;
}

void rp_dbg_remove(void *p) {
	struct rp_lm *lm = p;
	if (lm == NULL) {
		return;
	}
	rp_mutex_lock(&rp_dbg_mu);
	rp_dbg_relink();
	rp_ns.r_state = RT_DELETE;
	rp_dbg_notify();
	if (lm->l_prev != NULL) {
		lm->l_prev->l_next = lm->l_next;
	} else {
		rp_ns.r_map = lm->l_next;
	}
	if (lm->l_next != NULL) {
		lm->l_next->l_prev = lm->l_prev;
	} else {
		rp_tail = lm->l_prev;
	}
	rp_ns.r_state = RT_CONSISTENT;
	rp_dbg_notify();
	rp_mutex_unlock(&rp_dbg_mu);
	// Nothing reads the entry now: a debugger reads the list only while
	// the process is stopped, and it was stopped at the last notify.
	free(lm->l_name);
	free(lm);
}

int rp_dbg_watched(void) {
	// gdb keeps a breakpoint (int3, 0xcc) on r_brk while the process runs
	// (and it watches library events); r_brk itself is code of ld.so,
	// readable.
	uintptr_t brk = rp_ns.r_brk;
	return brk != 0 && *(volatile const unsigned char *)brk == 0xcc;
}

uint64_t rp_dbg_namespace(void) { return (uint64_t)(uintptr_t)&rp_ns; }

uint64_t rp_dbg_base(void) { return (uint64_t)(uintptr_t)rp_find_rdebug(); }

// rp_dbg_test_dlmopen opens name in a new link-map namespace and returns
// the handle (tests: glibc appends the namespace's r_debug to the chain
// that holds runplug's node).
void *rp_dbg_test_dlmopen(const char *name) { return dlmopen(LM_ID_NEWLM, name, RTLD_NOW | RTLD_LOCAL); }

void rp_dbg_test_dlclose(void *h) { dlclose(h); }
