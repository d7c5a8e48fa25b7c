//go:build linux && (amd64 || arm64) && cgo

// dl.c: the dynamic-linker services of the objects runplug loads. glibc's
// ld.so does not know those objects, so its _dl_find_object,
// dl_iterate_phdr and dladdr cannot find them, and unwinders (libgcc_s,
// LLVM's libunwind, Rust's backtrace code) stop at their frames. The
// loader binds the imports of those names in runplug's objects to the
// functions here, which answer for runplug's objects from this table and
// hand everything else to glibc.
//
// The table. Each live object is a struct rp_dlobj (never freed: recycled
// through a free list, so that a lock-free reader that raced its removal
// still reads memory that is there), on a list in load order. For
// _dl_find_object, which unwinders call for every frame and which must not
// take a lock (it may run in a signal handler), there are two sorted
// copies of {lo, hi, eh_frame, object} and a version counter, glibc's
// scheme: a reader searches copy version & 1 and retries if the version
// moved meanwhile; a writer brings the inactive copy up to date, bumps the
// version (the copies swap roles), then updates the other. A reader never
// waits, even for a writer it interrupted on its own thread. A copy that
// must grow is replaced and the old one is kept (readers may still be in
// it): capacity doubles, so what is kept is bounded by the largest table.
//
// Everything else (dladdr, dl_iterate_phdr, dlinfo, the exit handlers)
// reads the objects under rp_dl_rw (read side); adding and removing take
// the write side. No lock is ever held while plugin code runs (locks.h):
// a fault or deadline there would unwind past the unlock. So what plugin
// code is given is copied out under the lock and handed over after it
// (dl_iterate_phdr's entries, dladdr's and dlinfo's answers), and exit
// handlers are taken off their list one at a time under the lock and run
// after it. What keeps their code mapped is the loader: it runs an
// object's destructors, and waits for the calls in flight, before it
// removes the object; a thread_local destructor running at thread exit
// (outside any protected call) pins its object instead, and removal
// waits for it.

#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <link.h>
#include <elf.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <unwind.h>

#include "dl.h"
#include "locks.h"

struct rp_atexit {
	void (*fn)(void *);
	void *arg;
	struct rp_atexit *next;
};

struct rp_dlobj {
	struct link_map map; // first: a handle, and what dladdr1/dlinfo/_dl_find_object give out
	uint64_t id;         // unique for the life of the process
	uint64_t lo, hi, eh_frame;
	ElfW(Phdr) *phdr;
	uint64_t phnum;
	int phdr_owned; // phdr is a malloc'd copy
	const ElfW(Sym) *symtab;
	uint64_t nsyms;
	const char *strtab;
	uint64_t strsz;
	char *path;
	// _Unwind_Backtrace and _Unwind_GetIP of the libgcc_s copy in the
	// object's scope, for backtrace() (0: none)
	uint64_t unwind_backtrace, unwind_getip;
	uint64_t *deps; // handles of its direct dependencies (malloc'd), ndeps of them
	uint64_t ndeps;
	int live;
	struct rp_atexit *atexit; // __cxa_atexit handlers, most recent first
	void *dso;                // its __dso_handle, once seen (__cxa_atexit, __cxa_finalize)
	int finalized;            // glibc's __cxa_finalize(dso) was called
	struct rp_key *keys;      // pthread keys whose destructor is in the object (rp_dl_atexit_mu)
	int64_t pins;             // thread-exit destructors of the object running now (atomic)
	struct rp_dlobj *next, *prev; // load order (live), or the free list (next)
};

struct rp_key {
	pthread_key_t key;
	struct rp_key *next;
};

struct rp_dl_item {
	uint64_t lo, hi, eh;
	struct rp_dlobj *o;
};

struct rp_dl_vec {
	uint64_t cap, n;
	struct rp_dl_item it[];
};

static pthread_mutex_t rp_dl_mu = PTHREAD_MUTEX_INITIALIZER;        // writers
static pthread_mutex_t rp_dl_atexit_mu = PTHREAD_MUTEX_INITIALIZER; // atexit lists (a leaf lock)
static pthread_rwlock_t rp_dl_rw = PTHREAD_RWLOCK_INITIALIZER;
static struct rp_dlobj *rp_dl_head, *rp_dl_tail, *rp_dl_free;
static struct rp_dl_vec *rp_dl_copy[2];
static uint64_t rp_dl_version;
static uint64_t rp_dl_ids, rp_dl_adds, rp_dl_subs;

// glibc's, for what is not ours (looked up once: _dl_find_object is
// glibc 2.35+).
static int (*rp_glibc_find_object)(void *, struct dl_find_object *);
static int (*rp_glibc_thread_atexit)(void (*)(void *), void *, void *);
extern int __cxa_atexit(void (*)(void *), void *, void *);
extern void __cxa_finalize(void *);

static pthread_once_t rp_dl_once = PTHREAD_ONCE_INIT;
static pthread_key_t rp_dl_key;
static int rp_dl_key_ok;
static void rp_dl_thread_exit(void *);

// rp_dl_init runs when the loader links its first object (rp_dl_setup,
// from DLSymbols, before the object's relocation), or at the first
// registration: before any code of any loaded object. Its thread key is
// then older (a lower index) than the TLS runtime's, and glibc runs key
// destructors in index order, so thread_local destructors run before the
// thread's TLS blocks are freed.
static void rp_dl_init(void) {
	rp_glibc_find_object = (int (*)(void *, struct dl_find_object *))dlsym(RTLD_DEFAULT, "_dl_find_object");
	rp_glibc_thread_atexit = (int (*)(void (*)(void *), void *, void *))dlsym(RTLD_DEFAULT, "__cxa_thread_atexit_impl");
	rp_dl_key_ok = pthread_key_create(&rp_dl_key, rp_dl_thread_exit) == 0;
}

void rp_dl_setup(void) { pthread_once(&rp_dl_once, rp_dl_init); }

// rp_dl_fill rebuilds copy k from the live list, sorted by lo (insertion
// sort: the list is mostly in address order already). rp_dl_mu is held.
static int rp_dl_fill(int k, uint64_t n) {
	struct rp_dl_vec *v = rp_dl_copy[k];
	if (v == NULL || v->cap < n) {
		uint64_t cap = 16;
		while (cap < n) {
			cap *= 2;
		}
		struct rp_dl_vec *nv = calloc(1, sizeof *nv + cap * sizeof(struct rp_dl_item));
		if (nv == NULL) {
			return -1;
		}
		nv->cap = cap;
		// The old copy is kept, not freed: a reader may be in it.
		v = nv;
	}
	// Readers of this copy (if any) see the version move and retry.
	uint64_t i = 0;
	for (struct rp_dlobj *o = rp_dl_head; o != NULL && i < n; o = o->next, i++) {
		struct rp_dl_item x = {o->lo, o->hi, o->eh_frame, o};
		uint64_t j = i;
		while (j > 0 && v->it[j - 1].lo > x.lo) {
			v->it[j] = v->it[j - 1];
			j--;
		}
		v->it[j] = x;
	}
	__atomic_store_n(&v->n, i, __ATOMIC_RELEASE);
	__atomic_store_n(&rp_dl_copy[k], v, __ATOMIC_RELEASE);
	return 0;
}

// rp_dl_publish brings both copies up to date with the list. rp_dl_mu is held.
static int rp_dl_publish(uint64_t n) {
	uint64_t ver = __atomic_load_n(&rp_dl_version, __ATOMIC_RELAXED);
	if (rp_dl_fill((ver + 1) & 1, n) != 0) {
		return -1;
	}
	__atomic_store_n(&rp_dl_version, ver + 1, __ATOMIC_RELEASE);
	return rp_dl_fill(ver & 1, n);
}

static uint64_t rp_dl_live_count(void) {
	uint64_t n = 0;
	for (struct rp_dlobj *o = rp_dl_head; o != NULL; o = o->next) {
		n++;
	}
	return n;
}

uint64_t rp_dl_add(const struct rp_dl_desc *d, const char *name, size_t n) {
	pthread_once(&rp_dl_once, rp_dl_init);
	char *path = malloc(n + 1);
	if (path == NULL) {
		return 0;
	}
	if (n > 0) {
		memcpy(path, name, n);
	}
	path[n] = 0;
	rp_mutex_lock(&rp_dl_mu);
	struct rp_dlobj *o = rp_dl_free;
	if (o != NULL) {
		rp_dl_free = o->next;
	} else if ((o = malloc(sizeof *o)) == NULL) {
		rp_mutex_unlock(&rp_dl_mu);
		free(path);
		return 0;
	}
	memset(o, 0, sizeof *o);
	o->map.l_addr = (ElfW(Addr))d->base;
	o->map.l_name = path;
	o->map.l_ld = (ElfW(Dyn) *)(uintptr_t)d->dynamic;
	o->id = ++rp_dl_ids;
	o->lo = d->lo;
	o->hi = d->hi;
	o->eh_frame = d->eh_frame;
	o->phdr = (ElfW(Phdr) *)(uintptr_t)d->phdr;
	o->phnum = d->phnum;
	o->phdr_owned = !d->phdr_image;
	o->symtab = (const ElfW(Sym) *)(uintptr_t)d->symtab;
	o->nsyms = d->nsyms;
	o->strtab = (const char *)(uintptr_t)d->strtab;
	o->strsz = d->strsz;
	o->path = path;
	o->unwind_backtrace = d->unwind_backtrace;
	o->unwind_getip = d->unwind_getip;
	if (d->ndeps > 0 && (o->deps = malloc(d->ndeps * sizeof *o->deps)) != NULL) {
		memcpy(o->deps, (const void *)(uintptr_t)d->deps, d->ndeps * sizeof *o->deps);
		o->ndeps = d->ndeps;
	}
	o->live = 1;
	rp_wrlock(&rp_dl_rw);
	o->prev = rp_dl_tail;
	if (rp_dl_tail != NULL) {
		rp_dl_tail->next = o;
	} else {
		rp_dl_head = o;
	}
	rp_dl_tail = o;
	rp_dl_adds++;
	rp_rwunlock(&rp_dl_rw);
	if (rp_dl_publish(rp_dl_live_count()) != 0) {
		// Out of memory for the sorted copies: the object stays out of
		// _dl_find_object's view (the old copies are intact).
	}
	rp_mutex_unlock(&rp_dl_mu);
	return (uint64_t)(uintptr_t)o;
}

void rp_dl_remove(uint64_t h) {
	struct rp_dlobj *o = (struct rp_dlobj *)(uintptr_t)h;
	if (o == NULL) {
		return;
	}
	rp_mutex_lock(&rp_dl_mu);
	rp_wrlock(&rp_dl_rw);
	if (o->prev != NULL) {
		o->prev->next = o->next;
	} else {
		rp_dl_head = o->next;
	}
	if (o->next != NULL) {
		o->next->prev = o->prev;
	} else {
		rp_dl_tail = o->prev;
	}
	o->live = 0;
	rp_dl_subs++;
	rp_rwunlock(&rp_dl_rw);
	rp_dl_publish(rp_dl_live_count());
	rp_mutex_unlock(&rp_dl_mu);
	// Off the list: no new pin. A thread-exit destructor of the object
	// running on another thread finishes first (its code is about to go).
	while (__atomic_load_n(&o->pins, __ATOMIC_ACQUIRE) != 0) {
		sched_yield();
	}
	// Its pthread keys are deleted: glibc then runs none of their
	// destructors at any thread's exit (the key's sequence number moved),
	// where they would call into a closed image.
	for (struct rp_key *k = o->keys, *n; k != NULL; k = n) {
		n = k->next;
		pthread_key_delete(k->key);
		free(k);
	}
	// Exit handlers left (a quarantined object's destructors did not
	// run) are dropped: their code is going away. glibc forgets its
	// at_quick_exit and pthread_atfork handlers of the object when its
	// __dso_handle is known.
	for (struct rp_atexit *a = o->atexit, *n; a != NULL; a = n) {
		n = a->next;
		free(a);
	}
	void *unfinalized = o->finalized ? NULL : o->dso;
	if (o->phdr_owned) {
		free(o->phdr);
	}
	free(o->path);
	free(o->deps);
	// The id is dead from here: no thread_local destructor of this
	// object runs any more (rp_dl_id_live). The struct is recycled, not
	// freed (see the top of the file).
	uint64_t id = o->id;
	memset(o, 0, sizeof *o);
	o->id = id; // stale readers of a recycled struct see a dead id until reuse
	rp_mutex_lock(&rp_dl_mu);
	o->next = rp_dl_free;
	rp_dl_free = o;
	rp_mutex_unlock(&rp_dl_mu);
	// Outside the lock: glibc's __cxa_finalize runs any handler it has
	// for that handle (none came through rp_dl_cxa_atexit) in the image,
	// still mapped until this returns.
	if (unfinalized != NULL) {
		__cxa_finalize(unfinalized);
	}
}

// rp_dl_at returns the live object whose segments contain addr. rp_dl_rw is held.
static struct rp_dlobj *rp_dl_at(uint64_t addr) {
	for (struct rp_dlobj *o = rp_dl_head; o != NULL; o = o->next) {
		if (addr >= o->lo && addr < o->hi) {
			return o;
		}
	}
	return NULL;
}

static struct rp_dlobj *rp_dl_by_handle(void *h) {
	for (struct rp_dlobj *o = rp_dl_head; o != NULL; o = o->next) {
		if ((void *)o == h) {
			return o;
		}
	}
	return NULL;
}

static struct rp_dlobj *rp_dl_by_id(uint64_t id) {
	for (struct rp_dlobj *o = rp_dl_head; o != NULL; o = o->next) {
		if (o->id == id) {
			return o;
		}
	}
	return NULL;
}

static int rp_dl_id_live(uint64_t id) { return rp_dl_by_id(id) != NULL; }

uint64_t rp_dl_handle_at(uint64_t addr) {
	rp_rdlock(&rp_dl_rw);
	struct rp_dlobj *o = rp_dl_at(addr);
	rp_rwunlock(&rp_dl_rw);
	return (uint64_t)(uintptr_t)o;
}

int rp_dl_is_handle(uint64_t h) {
	rp_rdlock(&rp_dl_rw);
	int ok = rp_dl_by_handle((void *)(uintptr_t)h) != NULL;
	rp_rwunlock(&rp_dl_rw);
	return ok;
}

int64_t rp_dl_deps(uint64_t h, uint64_t *out, int64_t n) {
	int64_t k = 0;
	rp_rdlock(&rp_dl_rw);
	struct rp_dlobj *o = rp_dl_by_handle((void *)(uintptr_t)h);
	for (uint64_t i = 0; o != NULL && i < o->ndeps; i++) {
		// A dependency in a cycle may have gone first: only live ones.
		if (rp_dl_by_handle((void *)(uintptr_t)o->deps[i]) != NULL) {
			if (k < n) {
				out[k] = o->deps[i];
			}
			k++;
		}
	}
	rp_rwunlock(&rp_dl_rw);
	return k;
}

uint64_t rp_dl_counts(uint64_t *subs) {
	rp_rdlock(&rp_dl_rw);
	uint64_t a = rp_dl_adds;
	*subs = rp_dl_subs;
	rp_rwunlock(&rp_dl_rw);
	return a;
}

// _dl_find_object: lock-free, see the top of the file.
static int rp_dl_find_ours(uint64_t pc, struct dl_find_object *r) {
	for (;;) {
		uint64_t ver = __atomic_load_n(&rp_dl_version, __ATOMIC_ACQUIRE);
		struct rp_dl_vec *v = __atomic_load_n(&rp_dl_copy[ver & 1], __ATOMIC_ACQUIRE);
		struct rp_dl_item x = {0, 0, 0, NULL};
		if (v != NULL) {
			uint64_t n = __atomic_load_n(&v->n, __ATOMIC_ACQUIRE);
			if (n > v->cap) {
				n = v->cap;
			}
			uint64_t lo = 0, hi = n; // first item with lo > pc
			while (lo < hi) {
				uint64_t mid = lo + (hi - lo) / 2;
				if (__atomic_load_n(&v->it[mid].lo, __ATOMIC_RELAXED) <= pc) {
					lo = mid + 1;
				} else {
					hi = mid;
				}
			}
			if (lo > 0) {
				x.lo = __atomic_load_n(&v->it[lo - 1].lo, __ATOMIC_RELAXED);
				x.hi = __atomic_load_n(&v->it[lo - 1].hi, __ATOMIC_RELAXED);
				x.eh = __atomic_load_n(&v->it[lo - 1].eh, __ATOMIC_RELAXED);
				x.o = __atomic_load_n(&v->it[lo - 1].o, __ATOMIC_RELAXED);
			}
		}
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&rp_dl_version, __ATOMIC_RELAXED) != ver) {
			continue;
		}
		if (x.o == NULL || pc >= x.hi) {
			return -1;
		}
		r->dlfo_flags = 0;
		r->dlfo_map_start = (void *)(uintptr_t)x.lo;
		r->dlfo_map_end = (void *)(uintptr_t)x.hi;
		r->dlfo_link_map = &x.o->map;
		r->dlfo_eh_frame = (void *)(uintptr_t)x.eh;
		return 0;
	}
}

int rp_dl_find_object(void *pc, struct dl_find_object *r) {
	if (rp_dl_find_ours((uint64_t)(uintptr_t)pc, r) == 0) {
		return 0;
	}
	if (rp_glibc_find_object != NULL) {
		return rp_glibc_find_object(pc, r);
	}
	return -1;
}

// dl_iterate_phdr: glibc's objects (the executable first, as callers
// expect), then runplug's in load order. Both report the sum of the two
// loaders' add and remove counts, which callers (libgcc's FDE cache) use
// to notice that the set of objects changed.
//
// The callback is plugin code and runs with no lock held, neither
// runplug's nor glibc's (glibc's dl_iterate_phdr holds its
// dl_load_write_lock across its callback: a fault there would leave it
// held and the host's next dlopen would wait forever). Each entry is
// copied, one at a time, into a struct rp_dl_snap on this stack (a fault
// unwinds it with nothing to free): the n-th of glibc's by a walk of
// glibc's own that stops there, the next of runplug's by id (ids grow in
// load order). Objects loaded or removed meanwhile may be missed, as they
// may be by a walk that ran a moment earlier or later.
#define RP_DL_SNAP_PHDRS 64 // program headers copied from a table-owned array

struct rp_dl_snap {
	struct dl_phdr_info info;
	size_t size;              // of info, as glibc gave it
	char name[4096];          // dlpi_name, copied (truncated past 4095 bytes)
	ElfW(Phdr) phdr[RP_DL_SNAP_PHDRS];
	uint64_t want, seen;      // glibc's entry wanted, entries walked
	int found;
};

static void rp_dl_snap_name(struct rp_dl_snap *sn, const char *name) {
	size_t n = name != NULL ? strnlen(name, sizeof sn->name - 1) : 0;
	memcpy(sn->name, name != NULL ? name : "", n);
	sn->name[n] = 0;
	sn->info.dlpi_name = sn->name;
}

static int rp_dl_snap_host(struct dl_phdr_info *info, size_t size, void *p) {
	struct rp_dl_snap *sn = p;
	if (sn->seen++ != sn->want) {
		return 0;
	}
	memset(&sn->info, 0, sizeof sn->info);
	sn->size = size < sizeof sn->info ? size : sizeof sn->info;
	memcpy(&sn->info, info, sn->size);
	rp_dl_snap_name(sn, info->dlpi_name);
	sn->found = 1;
	return 1; // stop: glibc's lock is released before the callback runs
}

int rp_dl_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *data) {
	struct rp_dl_snap sn;
	uint64_t adds, subs;
	rp_rdlock(&rp_dl_rw);
	adds = rp_dl_adds;
	subs = rp_dl_subs;
	rp_rwunlock(&rp_dl_rw);
	uint64_t glibc_adds = 0, glibc_subs = 0;
	int r = 0;
	for (uint64_t k = 0; r == 0; k++) {
		sn.want = k;
		sn.seen = 0;
		sn.found = 0;
		rp_hold(); // glibc's dl_load_write_lock: a deadline waits (locks.h)
		dl_iterate_phdr(rp_dl_snap_host, &sn);
		rp_unhold();
		if (!sn.found) {
			break;
		}
		glibc_adds = sn.info.dlpi_adds;
		glibc_subs = sn.info.dlpi_subs;
		sn.info.dlpi_adds += adds;
		sn.info.dlpi_subs += subs;
		r = cb(&sn.info, sn.size, data);
	}
	for (uint64_t last = 0; r == 0;) {
		rp_rdlock(&rp_dl_rw);
		struct rp_dlobj *o = rp_dl_head;
		while (o != NULL && o->id <= last) {
			o = o->next;
		}
		if (o == NULL) {
			rp_rwunlock(&rp_dl_rw);
			break;
		}
		last = o->id;
		memset(&sn.info, 0, sizeof sn.info);
		sn.info.dlpi_addr = o->map.l_addr;
		rp_dl_snap_name(&sn, o->path);
		sn.info.dlpi_phdr = o->phdr;
		sn.info.dlpi_phnum = (ElfW(Half))o->phnum;
		if (o->phdr_owned) {
			// Freed when the object is removed: the callback gets a
			// copy (a table-owned array is the rare object whose
			// program headers are not in its image).
			uint64_t n = o->phnum < RP_DL_SNAP_PHDRS ? o->phnum : RP_DL_SNAP_PHDRS;
			memcpy(sn.phdr, o->phdr, n * sizeof(ElfW(Phdr)));
			sn.info.dlpi_phdr = sn.phdr;
			sn.info.dlpi_phnum = (ElfW(Half))n;
		}
		rp_rwunlock(&rp_dl_rw);
		sn.info.dlpi_adds = glibc_adds + adds;
		sn.info.dlpi_subs = glibc_subs + subs;
		// dlpi_tls_modid and dlpi_tls_data stay 0: runplug's TLS
		// modules are not glibc's (see docs/ASSUMPTIONS.md).
		r = cb(&sn.info, sizeof sn.info, data);
	}
	return r;
}

// rp_dl_sym finds the symbol of o that addr is in, as glibc's _dl_addr
// does: a defined, non-TLS, non-absolute symbol whose [value, value+size)
// holds addr, or of size 0 at addr; the highest such value wins.
static const ElfW(Sym) *rp_dl_sym(const struct rp_dlobj *o, uint64_t addr) {
	const ElfW(Sym) *best = NULL;
	if (o->symtab == NULL) {
		return NULL;
	}
	for (uint64_t i = 1; i < o->nsyms; i++) {
		const ElfW(Sym) *s = &o->symtab[i];
		if (s->st_shndx == SHN_UNDEF || s->st_shndx == SHN_ABS || ELF64_ST_TYPE(s->st_info) == STT_TLS ||
		    s->st_name >= o->strsz) {
			continue;
		}
		uint64_t v = o->map.l_addr + s->st_value;
		if (addr < v) {
			continue;
		}
		if (!((s->st_size == 0 && addr == v) || addr - v < s->st_size)) {
			continue;
		}
		if (best == NULL || best->st_value < s->st_value) {
			best = s;
		}
	}
	return best;
}

int rp_dl_addr1(const void *addr, void *infop, void **extra, int flags) {
	rp_rdlock(&rp_dl_rw);
	struct rp_dlobj *o = rp_dl_at((uint64_t)(uintptr_t)addr);
	if (o == NULL) {
		rp_rwunlock(&rp_dl_rw);
		// glibc's, which takes its dl_load_lock (held: a deadline
		// waits), answers into a copy written after it.
		Dl_info info;
		void *x = NULL;
		rp_hold();
		int r = flags == 0 || extra == NULL ? dladdr(addr, &info) : dladdr1(addr, &info, &x, flags);
		rp_unhold();
		if (r != 0) {
			*(Dl_info *)infop = info;
			if (extra != NULL && flags != 0) {
				*extra = x;
			}
		}
		return r;
	}
	// Computed under the lock, written to the caller's memory after it
	// (a bad pointer faults with no lock held).
	const ElfW(Sym) *s = rp_dl_sym(o, (uint64_t)(uintptr_t)addr);
	Dl_info info;
	info.dli_fname = o->path;
	info.dli_fbase = (void *)(uintptr_t)o->lo;
	info.dli_sname = s != NULL ? o->strtab + s->st_name : NULL;
	info.dli_saddr = s != NULL ? (void *)(uintptr_t)(o->map.l_addr + s->st_value) : NULL;
	void *x = flags == RTLD_DL_SYMENT ? (void *)s : flags == RTLD_DL_LINKMAP ? (void *)&o->map : NULL;
	rp_rwunlock(&rp_dl_rw);
	*(Dl_info *)infop = info;
	if (extra != NULL && (flags == RTLD_DL_SYMENT || flags == RTLD_DL_LINKMAP)) {
		*extra = x;
	}
	return 1;
}

int rp_dl_addr(const void *addr, void *info) { return rp_dl_addr1(addr, info, NULL, 0); }

// dlerror: the calling thread's message from runplug's dl functions, else
// glibc's. A returned message stays valid until the thread's next dlerror.
static __thread char *rp_dl_err_pending __attribute__((tls_model("initial-exec")));
static __thread char *rp_dl_err_given __attribute__((tls_model("initial-exec")));

void rp_dl_set_error(const char *msg) {
	free(rp_dl_err_pending);
	rp_dl_err_pending = msg != NULL ? strdup(msg) : NULL;
}

char *rp_dl_error(void) {
	free(rp_dl_err_given);
	rp_dl_err_given = NULL;
	if (rp_dl_err_pending != NULL) {
		rp_dl_err_given = rp_dl_err_pending;
		rp_dl_err_pending = NULL;
		return rp_dl_err_given;
	}
	return dlerror();
}

// dlmopen: link-map namespaces are glibc's; runplug has one per Loader.
void *rp_dl_mopen(long lmid, const char *name, int flags) {
	(void)lmid;
	(void)name;
	(void)flags;
	rp_dl_set_error("dlmopen: namespaces are not supported in plugins runplug loads (use dlopen)");
	return NULL;
}

int rp_dl_info(void *handle, int request, void *arg) {
	rp_rdlock(&rp_dl_rw);
	struct rp_dlobj *o = rp_dl_by_handle(handle);
	if (o == NULL) {
		rp_rwunlock(&rp_dl_rw);
		return dlinfo(handle, request, arg);
	}
	// The answer is made under the lock and written to arg after it.
	char origin[4096];
	size_t n = 0;
	if (request == RTLD_DI_ORIGIN) {
		// The directory of the object's file, as glibc gives it.
		const char *slash = strrchr(o->path, '/');
		n = slash != NULL ? (size_t)(slash - o->path) : 0;
		if (n >= sizeof origin) {
			n = sizeof origin - 1;
		}
		memcpy(origin, o->path, n);
	}
	origin[n] = 0;
	struct link_map *map = &o->map;
	rp_rwunlock(&rp_dl_rw);
	switch (request) {
	case RTLD_DI_LMID:
		*(Lmid_t *)arg = LM_ID_BASE;
		return 0;
	case RTLD_DI_LINKMAP:
		*(struct link_map **)arg = map;
		return 0;
	case RTLD_DI_ORIGIN:
		memcpy(arg, origin, n + 1);
		return 0;
	case RTLD_DI_TLS_MODID:
		*(size_t *)arg = 0;
		return 0;
	case RTLD_DI_TLS_DATA:
		*(void **)arg = NULL;
		return 0;
	}
	rp_dl_set_error("dlinfo: request not supported for objects runplug loaded");
	return -1;
}

// __cxa_atexit and __cxa_finalize. A handler registered with the
// __dso_handle of an object runplug loaded is kept with that object:
// __cxa_finalize(that handle), which the object's own destructors call
// (crtbegin's __do_global_dtors_aux, from DT_FINI_ARRAY), runs them, most
// recent first, as glibc's would; those left when the object is removed
// (a quarantined plugin's destructors do not run) are dropped instead of
// being run by exit() into an unmapped image. Others go to glibc.
int rp_dl_cxa_atexit(void (*fn)(void *), void *arg, void *dso) {
	if (dso != NULL) {
		rp_rdlock(&rp_dl_rw);
		struct rp_dlobj *o = rp_dl_at((uint64_t)(uintptr_t)dso);
		if (o != NULL) {
			struct rp_atexit *a = malloc(sizeof *a);
			if (a != NULL) {
				a->fn = fn;
				a->arg = arg;
				rp_mutex_lock(&rp_dl_atexit_mu);
				a->next = o->atexit;
				o->atexit = a;
				o->dso = dso;
				rp_mutex_unlock(&rp_dl_atexit_mu);
			}
			rp_rwunlock(&rp_dl_rw);
			return a != NULL ? 0 : -1;
		}
		rp_rwunlock(&rp_dl_rw);
	}
	return __cxa_atexit(fn, arg, dso);
}

void rp_dl_cxa_finalize(void *dso) {
	if (dso == NULL) {
		__cxa_finalize(dso);
		return;
	}
	rp_rdlock(&rp_dl_rw);
	struct rp_dlobj *o = rp_dl_at((uint64_t)(uintptr_t)dso);
	uint64_t id = o != NULL ? o->id : 0;
	rp_rwunlock(&rp_dl_rw);
	if (o == NULL) {
		__cxa_finalize(dso);
		return;
	}
	// One handler at a time is taken off the list under the locks and run
	// after them (a handler that faults leaves the rest on the list, which
	// removal frees). A handler may register another (run next).
	for (;;) {
		void (*fn)(void *) = NULL;
		void *arg = NULL;
		rp_rdlock(&rp_dl_rw);
		rp_mutex_lock(&rp_dl_atexit_mu);
		struct rp_atexit *a = o->live && o->id == id ? o->atexit : NULL;
		if (a != NULL) {
			o->atexit = a->next;
			fn = a->fn;
			arg = a->arg;
		}
		rp_mutex_unlock(&rp_dl_atexit_mu);
		rp_rwunlock(&rp_dl_rw);
		if (a == NULL) {
			break;
		}
		free(a);
		fn(arg);
	}
	// glibc's too: it drops the object's at_quick_exit and pthread_atfork
	// handlers (it has no atexit handler of it: those came here).
	rp_rdlock(&rp_dl_rw);
	rp_mutex_lock(&rp_dl_atexit_mu);
	if (o->live && o->id == id) {
		o->dso = dso;
		o->finalized = 1;
	}
	rp_mutex_unlock(&rp_dl_atexit_mu);
	rp_rwunlock(&rp_dl_rw);
	__cxa_finalize(dso);
}

int64_t rp_dl_atexit_pending(uint64_t h) {
	int64_t n = 0;
	rp_rdlock(&rp_dl_rw);
	struct rp_dlobj *o = rp_dl_by_handle((void *)(uintptr_t)h);
	if (o != NULL) {
		rp_mutex_lock(&rp_dl_atexit_mu);
		for (struct rp_atexit *a = o->atexit; a != NULL; a = a->next) {
			n++;
		}
		rp_mutex_unlock(&rp_dl_atexit_mu);
	}
	rp_rwunlock(&rp_dl_rw);
	return n;
}

// pthread_key_create and pthread_key_delete. A key whose destructor is in
// an object runplug loaded is recorded with that object, and deleted when
// the object is removed: glibc then runs that destructor at no thread's
// exit (it checks each value's key sequence number, which the delete
// moved), where it would call into a closed image. The keys themselves
// are glibc's.
int rp_dl_pthread_key_create(pthread_key_t *key, void (*dtor)(void *)) {
	pthread_key_t k;
	int rc = pthread_key_create(&k, dtor);
	if (rc != 0) {
		return rc;
	}
	if (dtor != NULL) {
		struct rp_key *e = malloc(sizeof *e);
		rp_rdlock(&rp_dl_rw);
		struct rp_dlobj *o = rp_dl_at((uint64_t)(uintptr_t)dtor);
		if (o != NULL && e != NULL) {
			e->key = k;
			rp_mutex_lock(&rp_dl_atexit_mu);
			e->next = o->keys;
			o->keys = e;
			rp_mutex_unlock(&rp_dl_atexit_mu);
			e = NULL;
		}
		rp_rwunlock(&rp_dl_rw);
		free(e);
	}
	*key = k; // after the locks: a bad pointer faults with none held
	return 0;
}

int rp_dl_pthread_key_delete(pthread_key_t key) {
	struct rp_key *gone = NULL;
	rp_rdlock(&rp_dl_rw);
	rp_mutex_lock(&rp_dl_atexit_mu);
	for (struct rp_dlobj *o = rp_dl_head; o != NULL && gone == NULL; o = o->next) {
		for (struct rp_key **pp = &o->keys; *pp != NULL; pp = &(*pp)->next) {
			if ((*pp)->key == key) {
				gone = *pp;
				*pp = gone->next;
				break;
			}
		}
	}
	rp_mutex_unlock(&rp_dl_atexit_mu);
	rp_rwunlock(&rp_dl_rw);
	free(gone);
	return pthread_key_delete(key);
}

int64_t rp_dl_keys(uint64_t h) {
	int64_t n = 0;
	rp_rdlock(&rp_dl_rw);
	struct rp_dlobj *o = rp_dl_by_handle((void *)(uintptr_t)h);
	if (o != NULL) {
		rp_mutex_lock(&rp_dl_atexit_mu);
		for (struct rp_key *k = o->keys; k != NULL; k = k->next) {
			n++;
		}
		rp_mutex_unlock(&rp_dl_atexit_mu);
	}
	rp_rwunlock(&rp_dl_rw);
	return n;
}

// __cxa_thread_atexit_impl: C++ thread_local destructors (and Rust's). A
// destructor of an object runplug loaded goes on the calling thread's own
// list with the object's id; the thread's exit runs the list, most recent
// first, skipping entries whose object is gone (it was closed: its code
// is unmapped or a tombstone). Each registration first drops the
// thread's dead entries, so a long-lived thread that calls into many
// short-lived plugins keeps no more than the live ones.
struct rp_tdtor {
	void (*fn)(void *);
	void *obj;
	uint64_t id;
	struct rp_tdtor *next;
};

static __thread struct rp_tdtor *rp_dl_tdtors __attribute__((tls_model("initial-exec")));

int rp_dl_cxa_thread_atexit_impl(void (*fn)(void *), void *obj, void *dso) {
	rp_rdlock(&rp_dl_rw);
	struct rp_dlobj *o = rp_dl_at((uint64_t)(uintptr_t)dso);
	if (o == NULL) {
		rp_rwunlock(&rp_dl_rw);
		if (rp_glibc_thread_atexit != NULL) {
			return rp_glibc_thread_atexit(fn, obj, dso);
		}
		return -1;
	}
	for (struct rp_tdtor **pp = &rp_dl_tdtors; *pp != NULL;) {
		if (!rp_dl_id_live((*pp)->id)) {
			struct rp_tdtor *d = *pp;
			*pp = d->next;
			free(d);
		} else {
			pp = &(*pp)->next;
		}
	}
	struct rp_tdtor *d = malloc(sizeof *d);
	if (d == NULL || !rp_dl_key_ok) {
		rp_rwunlock(&rp_dl_rw);
		free(d);
		return -1;
	}
	d->fn = fn;
	d->obj = obj;
	d->id = o->id;
	d->next = rp_dl_tdtors;
	rp_dl_tdtors = d;
	rp_rwunlock(&rp_dl_rw);
	pthread_setspecific(rp_dl_key, (void *)1);
	return 0;
}

static void rp_dl_thread_exit(void *unused) {
	(void)unused;
	while (rp_dl_tdtors != NULL) {
		struct rp_tdtor *d = rp_dl_tdtors;
		rp_dl_tdtors = d->next;
		// A pin, not the lock, keeps the object while its destructor
		// runs: rp_dl_remove waits for it.
		rp_rdlock(&rp_dl_rw);
		struct rp_dlobj *o = rp_dl_by_id(d->id);
		if (o != NULL) {
			__atomic_add_fetch(&o->pins, 1, __ATOMIC_ACQ_REL);
		}
		rp_rwunlock(&rp_dl_rw);
		if (o != NULL) {
			d->fn(d->obj);
			__atomic_sub_fetch(&o->pins, 1, __ATOMIC_RELEASE);
		}
		free(d);
	}
	free(rp_dl_err_pending);
	free(rp_dl_err_given);
	rp_dl_err_pending = rp_dl_err_given = NULL;
}

int64_t rp_dl_thread_dtors(void) {
	int64_t n = 0;
	for (struct rp_tdtor *d = rp_dl_tdtors; d != NULL; d = d->next) {
		n++;
	}
	return n;
}

// Benchmark: n lookups of pc by glibc's _dl_find_object or by ours.
int64_t rp_dl_bench_find(uint64_t pc, int64_t n, int ours) {
	struct dl_find_object r;
	int64_t found = 0;
	pthread_once(&rp_dl_once, rp_dl_init);
	int (*f)(void *, struct dl_find_object *) = ours ? rp_dl_find_object : rp_glibc_find_object;
	if (f == NULL) {
		return -1;
	}
	for (int64_t i = 0; i < n; i++) {
		found += f((void *)(uintptr_t)pc, &r) == 0;
	}
	return found;
}

// backtrace, backtrace_symbols, backtrace_symbols_fd. glibc's backtrace
// walks with the libgcc_s that glibc itself loads, whose _Unwind_Backtrace
// asks glibc's _dl_find_object and so stops at the first frame of a
// runplug object; glibc's backtrace_symbols names frames with its
// internal _dl_addr. These walk with the libgcc_s in the calling object's
// scope (runplug's copy, which asks rp_dl_find_object) and name frames
// with rp_dl_addr1. A caller without libgcc_s in its scope gets glibc's.
struct rp_bt {
	uintptr_t (*getip)(struct _Unwind_Context *);
	void **buf;
	int size, n, skip;
};

static _Unwind_Reason_Code rp_bt_frame(struct _Unwind_Context *ctx, void *p) {
	struct rp_bt *b = p;
	if (b->skip > 0) { // rp_dl_backtrace's own frame
		b->skip--;
		return _URC_NO_REASON;
	}
	if (b->n >= b->size) {
		return _URC_END_OF_STACK;
	}
	b->buf[b->n++] = (void *)b->getip(ctx);
	return _URC_NO_REASON;
}

__attribute__((noinline)) int rp_dl_backtrace(void **buf, int size) {
	uint64_t ret = (uint64_t)(uintptr_t)__builtin_return_address(0);
	_Unwind_Reason_Code (*walk)(_Unwind_Trace_Fn, void *) = NULL;
	struct rp_bt b = {NULL, buf, size, 0, 1};
	rp_rdlock(&rp_dl_rw);
	struct rp_dlobj *o = rp_dl_at(ret);
	if (o != NULL && o->unwind_backtrace != 0 && o->unwind_getip != 0) {
		walk = (_Unwind_Reason_Code(*)(_Unwind_Trace_Fn, void *))(uintptr_t)o->unwind_backtrace;
		b.getip = (uintptr_t(*)(struct _Unwind_Context *))(uintptr_t)o->unwind_getip;
	}
	rp_rwunlock(&rp_dl_rw);
	if (walk == NULL) {
		return backtrace(buf, size);
	}
	if (size <= 0) {
		return 0;
	}
	walk(rp_bt_frame, &b);
	// As glibc: a last frame of 0 (the end marker of some stacks) is dropped.
	if (b.n > 1 && buf[b.n - 1] == NULL) {
		b.n--;
	}
	return b.n;
}

// rp_bt_format writes glibc's format for one frame, "FILE(SYM+0xOFF)
// [0xPC]" (or "FILE(+0xOFF) [0xPC]" without a symbol, "[0xPC]" outside
// every object), into out (n bytes) and returns the length it needs.
static int rp_bt_format(void *pc, char *out, size_t n) {
	Dl_info info;
	if (rp_dl_addr1(pc, &info, NULL, 0) == 0 || info.dli_fname == NULL) {
		return snprintf(out, n, "[%p]", pc);
	}
	if (info.dli_sname != NULL) {
		uintptr_t off = (uintptr_t)pc - (uintptr_t)info.dli_saddr;
		return snprintf(out, n, "%s(%s+0x%lx) [%p]", info.dli_fname, info.dli_sname, (unsigned long)off, pc);
	}
	return snprintf(out, n, "%s(+0x%lx) [%p]", info.dli_fname,
	                (unsigned long)((uintptr_t)pc - (uintptr_t)info.dli_fbase), pc);
}

char **rp_dl_backtrace_symbols(void *const *buf, int size) {
	if (size <= 0) {
		return NULL;
	}
	size_t total = (size_t)size * sizeof(char *);
	for (int i = 0; i < size; i++) {
		total += (size_t)rp_bt_format(buf[i], NULL, 0) + 1;
	}
	// One block, as glibc's: the caller frees it with one free().
	char **out = malloc(total);
	if (out == NULL) {
		return NULL;
	}
	char *s = (char *)(out + size);
	char *end = (char *)out + total;
	for (int i = 0; i < size; i++) {
		out[i] = s;
		s += rp_bt_format(buf[i], s, (size_t)(end - s)) + 1;
	}
	return out;
}

void rp_dl_backtrace_symbols_fd(void *const *buf, int size, int fd) {
	char line[4096];
	for (int i = 0; i < size; i++) {
		int n = rp_bt_format(buf[i], line, sizeof line - 1);
		if (n > (int)sizeof line - 2) {
			n = (int)sizeof line - 2;
		}
		line[n] = '\n';
		if (write(fd, line, (size_t)n + 1) < 0) {
			return;
		}
	}
}
