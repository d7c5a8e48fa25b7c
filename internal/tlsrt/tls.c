//go:build linux && (amd64 || arm64) && cgo

// tls.c: dynamic thread-local storage for the objects runplug loads, in
// place of glibc's __tls_get_addr (which knows only the objects ld.so
// loaded). Plugins' __tls_get_addr imports bind to rp_tls_get_addr.
//
// Modules: a fixed table of RP_TLS_MAX_MODULES entries indexed by module
// id (the value of R_X86_64_DTPMOD64 or R_AARCH64_TLS_DTPMOD64), never reallocated, so a reader needs
// no lock to index it. Each entry has a generation, bumped when the module
// is freed: a thread's block made for an earlier module with the same id is
// then detected as stale on the next use of the id, freed and made again.
// Entries change only under rp_tls_mu (register, unregister), and are read
// without it: the loader frees a module only when no call into its object
// is in progress, so rp_tls_get_addr never races the unregistration of the
// module it serves, and registration happens before any call that uses the
// module. No lock is held while a block is made: a fault in the template's
// memory, or a deadline interrupt, that unwinds the call in the middle
// leaves no lock behind.
//
// Static modules (rp_tls_set_static): a module whose block lives in every
// thread's static TLS block, at a fixed offset from the thread pointer
// (statictls.c got the room from glibc), because the object's own
// initial-exec code addresses it there. __tls_get_addr of such a module
// returns that address, so that its dynamic and static accesses agree; no
// block of its own is ever made.
//
// Threads: an initial-exec __thread array of {block, generation} indexed by
// module id, grown on demand. The fast path (a block of the current
// generation) is two loads and a compare: no lock, no call. The slow path
// makes the block (aligned, template copied from the relocated image, the
// rest zeroed). A pthread key's destructor frees a thread's blocks when
// the thread exits. Blocks are malloc'd and never handed to Go.

#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox.h"
#include "tls.h"
#include "locks.h"

// The thread's protected-call state (sandbox.c).
extern __thread struct rp_thread rp_self __attribute__((visibility("hidden"), tls_model("initial-exec")));

struct rp_tls_mod {
	uintptr_t image;  // the template: filesz bytes at image
	uint64_t filesz;
	uint64_t memsz;   // the block's size (the rest zero)
	uint64_t align;   // the block's alignment, a power of two
	uint64_t gen;     // bumped on unregister and on rp_tls_set_static (atomic)
	int32_t live;     // set last on register, cleared first on unregister (atomic)
	int32_t is_static; // the block is tp + tpoff in every thread
	int64_t tpoff;
};

// Entry 0 is never used: module ids start at 1. Not static: the TLSDESC
// resolvers (tlsdesc_*.S) read the generations on their fast paths.
struct rp_tls_mod rp_tls_mods[RP_TLS_MAX_MODULES + 1] __attribute__((visibility("hidden")));
static pthread_mutex_t rp_tls_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t rp_tls_blocks; // blocks allocated and not yet freed, all threads (atomic)

struct rp_tls_slot {
	char *block;
	uint64_t gen; // the module generation it was made for, RP_TLS_FILLING while being made
};

// RP_TLS_FILLING marks a block being made: a generation never reached, so
// a block whose making was cut short (a fault in the template) is stale.
#define RP_TLS_FILLING UINT64_MAX

struct rp_tls_thread {
	struct rp_tls_slot *slots; // indexed by module id
	uint64_t n;                // entries in slots (at most RP_TLS_MAX_MODULES + 1)
	int64_t held;              // non-NULL blocks in slots
	int exit_fd;               // test hook (rp_tls_notify_exit): fd + 1, 0 for none
};

// Not static: the TLSDESC resolvers (tlsdesc_*.S) read it.
__thread struct rp_tls_thread rp_tls_self __attribute__((visibility("hidden"), tls_model("initial-exec")));

// The layouts the TLSDESC resolvers rely on.
_Static_assert(sizeof(struct rp_tls_mod) == RP_TLS_MOD_SIZE, "rp_tls_mod size");
_Static_assert(__builtin_offsetof(struct rp_tls_mod, gen) == RP_TLS_MOD_GEN, "rp_tls_mod.gen");
_Static_assert(sizeof(struct rp_tls_slot) == 1 << RP_TLS_SLOT_SHIFT, "rp_tls_slot size");
_Static_assert(__builtin_offsetof(struct rp_tls_slot, block) == RP_TLS_SLOT_BLOCK, "rp_tls_slot.block");
_Static_assert(__builtin_offsetof(struct rp_tls_slot, gen) == RP_TLS_SLOT_GEN, "rp_tls_slot.gen");
_Static_assert(__builtin_offsetof(struct rp_tls_thread, slots) == RP_TLS_THREAD_SLOTS, "rp_tls_thread.slots");
_Static_assert(__builtin_offsetof(struct rp_tls_thread, n) == RP_TLS_THREAD_N, "rp_tls_thread.n");


static pthread_once_t rp_tls_once = PTHREAD_ONCE_INIT;
static pthread_key_t rp_tls_key;
static int rp_tls_key_ok;

// rp_tls_thread_exit frees the exiting thread's blocks.
static void rp_tls_thread_exit(void *unused) {
	(void)unused;
	struct rp_tls_thread *t = &rp_tls_self;
	int64_t freed = 0;
	for (uint64_t i = 0; i < t->n; i++) {
		if (t->slots[i].block != NULL) {
			free(t->slots[i].block);
			__atomic_sub_fetch(&rp_tls_blocks, 1, __ATOMIC_RELAXED);
			freed++;
		}
	}
	free(t->slots);
	t->slots = NULL;
	t->n = 0;
	t->held = 0;
	if (t->exit_fd != 0) {
		// Tell the test how many blocks this thread's exit freed.
		ssize_t w = write(t->exit_fd - 1, &freed, sizeof freed);
		(void)w;
		t->exit_fd = 0;
	}
}

static void rp_tls_key_init(void) { rp_tls_key_ok = pthread_key_create(&rp_tls_key, rp_tls_thread_exit) == 0; }

// rp_tls_fail ends the protected call the thread is in (the plugin's code
// asked for a module that does not exist, or memory ran out); outside one
// (a thread the plugin made itself) it returns NULL, and the access through
// it faults as it would under glibc.
static void *rp_tls_fail(int64_t code) {
	if (rp_self.cur != NULL && rp_self.cur->active) {
		rp_abort_current(code);
	}
	return NULL;
}

// rp_tls_grow makes the thread's slot array hold index m. 0 on success.
static int rp_tls_grow(struct rp_tls_thread *t, uint64_t m) {
	uint64_t n = t->n < 16 ? 16 : t->n;
	while (n <= m) {
		n *= 2;
	}
	if (n > RP_TLS_MAX_MODULES + 1) {
		n = RP_TLS_MAX_MODULES + 1;
	}
	// Not realloc: a call unwound between its return and the store below
	// would leave t->slots pointing at freed memory; this way it leaks.
	rp_hold(); // malloc's arena lock: a deadline waits (locks.h)
	struct rp_tls_slot *s = malloc(n * sizeof *s), *old = t->slots;
	rp_unhold();
	if (s == NULL) {
		return -1;
	}
	if (t->n > 0) {
		memcpy(s, old, t->n * sizeof *s);
	}
	memset(s + t->n, 0, (n - t->n) * sizeof *s);
	if (t->slots == NULL) {
		// The thread's first block: make its exit free them.
		pthread_once(&rp_tls_once, rp_tls_key_init);
		if (rp_tls_key_ok) {
			pthread_setspecific(rp_tls_key, (void *)1);
		}
	}
	t->slots = s;
	t->n = n;
	rp_hold();
	free(old);
	rp_unhold();
	return 0;
}

// rp_tls_clobber_test (a test hook, tlsdesc tests) makes the slow path
// overwrite every call-clobbered register it may (rp_tls_clobber, per
// architecture), vector registers included, as malloc and memcpy are free
// to: what the TLSDESC resolver must restore.
int rp_tls_clobber_test __attribute__((visibility("hidden")));

// rp_tls_slow makes (or remakes, when stale) the thread's block of module
// ti->module. It realigns the stack where callers may misalign it
// (RP_TLS_REALIGN): this path calls libc.
__attribute__((noinline)) RP_TLS_REALIGN static void *rp_tls_slow(rp_tls_index *ti) {
	uint64_t m = ti->module;
	if (__builtin_expect(rp_tls_clobber_test, 0)) {
		rp_tls_clobber();
	}
	if (m == 0 || m > RP_TLS_MAX_MODULES) {
		return rp_tls_fail(RP_TLS_ABORT_MODULE);
	}
	struct rp_tls_thread *t = &rp_tls_self;
	if (m >= t->n && rp_tls_grow(t, m) != 0) {
		return rp_tls_fail(RP_TLS_ABORT_NOMEM);
	}
	struct rp_tls_slot *s = &t->slots[m];
	if (s->block != NULL) { // a block of a module freed since
		rp_hold();
		free(s->block);
		rp_unhold();
		s->block = NULL;
		t->held--;
		__atomic_sub_fetch(&rp_tls_blocks, 1, __ATOMIC_RELAXED);
	}
	struct rp_tls_mod *e = &rp_tls_mods[m];
	if (!__atomic_load_n(&e->live, __ATOMIC_ACQUIRE)) {
		return rp_tls_fail(RP_TLS_ABORT_MODULE);
	}
	if (__atomic_load_n(&e->is_static, __ATOMIC_ACQUIRE)) {
		return rp_tls_tp() + e->tpoff + ti->offset;
	}
	uint64_t gen = __atomic_load_n(&e->gen, __ATOMIC_RELAXED);
	const char *image = (const char *)e->image;
	uint64_t filesz = e->filesz, memsz = e->memsz;
	uint64_t align = e->align < sizeof(void *) ? sizeof(void *) : e->align;
	void *b = NULL;
	rp_hold();
	int nomem = posix_memalign(&b, align, memsz == 0 ? 1 : memsz) != 0;
	rp_unhold();
	if (nomem) {
		return rp_tls_fail(RP_TLS_ABORT_NOMEM);
	}
	s->block = b;
	s->gen = RP_TLS_FILLING;
	t->held++;
	__atomic_add_fetch(&rp_tls_blocks, 1, __ATOMIC_RELAXED);
	// The image stays mapped while its module is live.
	memcpy(b, image, filesz);
	memset((char *)b + filesz, 0, memsz - filesz);
	s->gen = gen;
	return (char *)b + ti->offset;
}

void *rp_tls_get_addr(rp_tls_index *ti) {
	uint64_t m = ti->module;
	struct rp_tls_thread *t = &rp_tls_self;
	if (__builtin_expect(m < t->n, 1)) {
		struct rp_tls_slot *s = &t->slots[m];
		if (__builtin_expect(s->block != NULL && s->gen == __atomic_load_n(&rp_tls_mods[m].gen, __ATOMIC_RELAXED), 1)) {
			return s->block + ti->offset;
		}
	}
	return rp_tls_slow(ti);
}

int64_t rp_tls_register(uintptr_t image, uint64_t filesz, uint64_t memsz, uint64_t align) {
	if (align == 0) {
		align = 1;
	}
	if (filesz > memsz || (align & (align - 1)) != 0 || (filesz != 0 && image == 0)) {
		return -2;
	}
	rp_mutex_lock(&rp_tls_mu);
	int64_t id = -1;
	for (uint64_t i = 1; i <= RP_TLS_MAX_MODULES; i++) {
		if (!rp_tls_mods[i].live) {
			struct rp_tls_mod *e = &rp_tls_mods[i];
			e->image = image;
			e->filesz = filesz;
			e->memsz = memsz;
			e->align = align;
			e->is_static = 0;
			e->tpoff = 0;
			__atomic_store_n(&e->live, 1, __ATOMIC_RELEASE);
			id = (int64_t)i;
			break;
		}
	}
	rp_mutex_unlock(&rp_tls_mu);
	return id;
}

void rp_tls_unregister(uint64_t id) {
	if (id == 0 || id > RP_TLS_MAX_MODULES) {
		return;
	}
	rp_mutex_lock(&rp_tls_mu);
	struct rp_tls_mod *e = &rp_tls_mods[id];
	if (e->live) {
		__atomic_store_n(&e->live, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&e->is_static, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&e->gen, e->gen + 1, __ATOMIC_RELEASE);
	}
	rp_mutex_unlock(&rp_tls_mu);
}

int rp_tls_set_static(uint64_t id, int64_t tpoff) {
	if (id == 0 || id > RP_TLS_MAX_MODULES) {
		return -1;
	}
	rp_mutex_lock(&rp_tls_mu);
	struct rp_tls_mod *e = &rp_tls_mods[id];
	int ok = e->live && !e->is_static;
	if (ok) {
		e->tpoff = tpoff;
		__atomic_store_n(&e->is_static, 1, __ATOMIC_RELEASE);
		// Blocks made before (by an IFUNC resolver during relocation)
		// become stale: the fast path never returns them again.
		__atomic_store_n(&e->gen, e->gen + 1, __ATOMIC_RELEASE);
	}
	rp_mutex_unlock(&rp_tls_mu);
	return ok ? 0 : -1;
}

int rp_tls_static_offset(uint64_t id, int64_t *tpoff) {
	if (id == 0 || id > RP_TLS_MAX_MODULES) {
		return 0;
	}
	struct rp_tls_mod *e = &rp_tls_mods[id];
	if (!__atomic_load_n(&e->is_static, __ATOMIC_ACQUIRE)) {
		return 0;
	}
	*tpoff = e->tpoff;
	return 1;
}

uint64_t rp_tls_generation(uint64_t id) {
	if (id == 0 || id > RP_TLS_MAX_MODULES) {
		return 0;
	}
	return __atomic_load_n(&rp_tls_mods[id].gen, __ATOMIC_RELAXED);
}

uint64_t rp_tls_get_addr_addr(void) { return (uint64_t)&rp_tls_get_addr; }

int64_t rp_tls_thread_blocks(void) { return rp_tls_self.held; }

int64_t rp_tls_live_blocks(void) { return __atomic_load_n(&rp_tls_blocks, __ATOMIC_RELAXED); }

uint64_t rp_tls_thread_pointer(void) { return (uint64_t)rp_tls_tp(); }

void rp_tls_notify_exit(int fd) { rp_tls_self.exit_fd = fd + 1; }

// Test fixtures (package tests only): a native caller of rp_tls_get_addr,
// as a plugin's general-dynamic sequence is.
static uint64_t rp_tls_fixture(uint64_t module, uint64_t offset) {
	rp_tls_index ti = {module, offset};
	return (uint64_t)rp_tls_get_addr(&ti);
}

uint64_t rp_tls_fixture_addr(void) { return (uint64_t)&rp_tls_fixture; }
