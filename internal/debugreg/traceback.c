//go:build linux && (amd64 || arm64) && cgo

// Go CPU profiles see plugin code: a traceback and a symbolizer function
// for runtime.SetCgoTraceback (version 0 of its contract) over a table of
// runplug's objects.
//
// The table: an array of objects sorted by address, replaced (never
// modified) under rp_prof_mu by writers and read without a lock by the
// traceback (in a SIGPROF handler) and by the symbolizer. A reader counts
// itself in rp_readers around its use; what a writer replaces (old
// arrays, dropped objects) goes on a free list that is emptied only by a
// writer that sees rp_readers at 0 after the replacement, so a reader
// never touches freed memory and a writer never waits for one.
//
// An object's function symbols (the loader's table of its .dynsym and
// .symtab) are copied into memory of its own when it is registered, so
// that a sample can be symbolized after the plugin was closed (the Go
// runtime symbolizes samples when it writes them, later): a closed object
// stays in the table, marked dead (the traceback ignores it), until a new
// object takes its address range or more than RP_PROF_DEAD_MAX dead ones
// are kept.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

#include "debugreg.h"
#include "traceback_arch.h"
#include "sandbox.h"
#include "locks.h"

extern __thread struct rp_thread rp_self __attribute__((visibility("hidden"), tls_model("initial-exec")));

#define RP_PROF_DEAD_MAX 64

struct rp_pobj {
	uint64_t lo, hi; // executable segments, [lo, hi)
	uint64_t seq;    // order of addition (the oldest dead object goes first)
	int dead;
	const char *path;
	const char *anon;           // "[basename of path]": a PC in no symbol
	const struct rp_psym *syms; // sorted by lo
	uint64_t nsyms;
	const char *strs;
	struct rp_pobj *free_next;
};

struct rp_ptab {
	uint64_t n;
	struct rp_pobj *o[]; // sorted by lo, non-overlapping
};

static struct rp_ptab *rp_tab;   // atomic
static long rp_readers;          // atomic
static pthread_mutex_t rp_prof_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t rp_prof_seq;
static struct rp_ptab *rp_free_tabs[64];
static int rp_nfree_tabs;
static struct rp_pobj *rp_free_objs;
static void (*rp_host_traceback)(void *);
static void (*rp_host_symbolizer)(void *);
static char rp_pin; // its address marks a symbolizer argument block we pinned

static void rp_read_begin(void) { __atomic_add_fetch(&rp_readers, 1, __ATOMIC_SEQ_CST); }
static void rp_read_end(void) { __atomic_sub_fetch(&rp_readers, 1, __ATOMIC_SEQ_CST); }

// rp_find returns the object whose range holds pc, or NULL.
static struct rp_pobj *rp_find(const struct rp_ptab *t, uint64_t pc) {
	if (t == NULL) {
		return NULL;
	}
	uint64_t lo = 0, hi = t->n;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (t->o[mid]->lo <= pc) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	if (lo == 0) {
		return NULL;
	}
	struct rp_pobj *o = t->o[lo - 1];
	return pc < o->hi ? o : NULL;
}

static const struct rp_psym *rp_sym(const struct rp_pobj *o, uint64_t pc) {
	uint64_t lo = 0, hi = o->nsyms;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (o->syms[mid].lo <= pc) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	if (lo == 0) {
		return NULL;
	}
	const struct rp_psym *s = &o->syms[lo - 1];
	return pc - s->lo < s->size ? s : NULL;
}

// rp_publish replaces the table by t and frees what no reader can see any
// more. rp_prof_mu is held.
static void rp_publish(struct rp_ptab *t) {
	struct rp_ptab *old = __atomic_exchange_n(&rp_tab, t, __ATOMIC_SEQ_CST);
	if (old != NULL) {
		if (rp_nfree_tabs == (int)(sizeof rp_free_tabs / sizeof rp_free_tabs[0])) {
			// Readers never left: keep the array (a leak, never a
			// use after free).
		} else {
			rp_free_tabs[rp_nfree_tabs++] = old;
		}
	}
	if (__atomic_load_n(&rp_readers, __ATOMIC_SEQ_CST) != 0) {
		return;
	}
	// Every reader that started before the exchange is done; later
	// ones see t, which holds none of what is freed here.
	for (int i = 0; i < rp_nfree_tabs; i++) {
		free(rp_free_tabs[i]);
	}
	rp_nfree_tabs = 0;
	while (rp_free_objs != NULL) {
		struct rp_pobj *o = rp_free_objs;
		rp_free_objs = o->free_next;
		free(o);
	}
}

// rp_rebuild publishes the current table without the objects drop says
// to drop, plus add (when not NULL). rp_prof_mu is held.
static int rp_rebuild(struct rp_pobj *add, int (*drop)(const struct rp_pobj *, const struct rp_pobj *)) {
	struct rp_ptab *cur = __atomic_load_n(&rp_tab, __ATOMIC_ACQUIRE);
	uint64_t n = cur ? cur->n : 0;
	struct rp_ptab *t = malloc(sizeof *t + (n + 1) * sizeof t->o[0]);
	if (t == NULL) {
		return -1;
	}
	uint64_t k = 0;
	struct rp_pobj *dropped = NULL;
	for (uint64_t i = 0; i < n; i++) {
		struct rp_pobj *o = cur->o[i];
		if (drop(o, add)) {
			o->free_next = dropped;
			dropped = o;
		} else {
			t->o[k++] = o;
		}
	}
	if (add != NULL) {
		uint64_t at = 0;
		while (at < k && t->o[at]->lo < add->lo) {
			at++;
		}
		memmove(&t->o[at + 1], &t->o[at], (k - at) * sizeof t->o[0]);
		t->o[at] = add;
		k++;
	}
	t->n = k;
	while (dropped != NULL) {
		struct rp_pobj *o = dropped;
		dropped = o->free_next;
		o->free_next = rp_free_objs;
		rp_free_objs = o;
	}
	rp_publish(t);
	return 0;
}

// rp_drop_overlap drops the objects whose range meets add's (closed ones,
// or the entry of the same object that add replaces: see SetSymbols), and
// the oldest closed one beyond RP_PROF_DEAD_MAX.
static uint64_t rp_drop_seq;
static int rp_drop_overlap(const struct rp_pobj *o, const struct rp_pobj *add) {
	if (add != NULL && o->lo < add->hi && add->lo < o->hi) {
		return 1;
	}
	return o->dead && o->seq <= rp_drop_seq;
}

static void rp_pick_oldest_dead(void) {
	struct rp_ptab *cur = __atomic_load_n(&rp_tab, __ATOMIC_ACQUIRE);
	uint64_t ndead = 0, oldest = UINT64_MAX;
	for (uint64_t i = 0; cur != NULL && i < cur->n; i++) {
		if (cur->o[i]->dead) {
			ndead++;
			if (cur->o[i]->seq < oldest) {
				oldest = cur->o[i]->seq;
			}
		}
	}
	rp_drop_seq = ndead > RP_PROF_DEAD_MAX ? oldest : 0;
}

void *rp_prof_add(uint64_t lo, uint64_t hi, uint64_t base, const char *path,
	const struct rp_psym *syms, uint64_t nsyms, const char *strs, uint64_t strsz) {
	size_t pathsz = strlen(path) + 1;
	const char *slash = strrchr(path, '/');
	const char *base_name = slash != NULL ? slash + 1 : path;
	size_t anonsz = strlen(base_name) + 3;
	size_t size = sizeof(struct rp_pobj) + nsyms * sizeof *syms + strsz + pathsz + anonsz;
	char *mem = malloc(size);
	if (mem == NULL) {
		return NULL;
	}
	struct rp_pobj *o = (struct rp_pobj *)mem;
	memset(o, 0, sizeof *o);
	char *p = mem + sizeof *o;
	struct rp_psym *dst = (struct rp_psym *)p;
	for (uint64_t i = 0; i < nsyms; i++) {
		dst[i] = syms[i];
		dst[i].lo += base;
	}
	o->syms = dst;
	o->nsyms = nsyms;
	p += nsyms * sizeof *syms;
	memcpy(p, strs, strsz);
	o->strs = p;
	p += strsz;
	memcpy(p, path, pathsz);
	o->path = p;
	p += pathsz;
	p[0] = '[';
	memcpy(p + 1, base_name, anonsz - 3);
	p[anonsz - 2] = ']';
	p[anonsz - 1] = 0;
	o->anon = p;
	o->lo = lo;
	o->hi = hi;
	rp_mutex_lock(&rp_prof_mu);
	o->seq = ++rp_prof_seq;
	rp_drop_seq = 0;
	int rc = rp_rebuild(o, rp_drop_overlap);
	rp_mutex_unlock(&rp_prof_mu);
	if (rc != 0) {
		free(o);
		return NULL;
	}
	return o;
}

void rp_prof_kill(void *p) {
	struct rp_pobj *o = p;
	if (o == NULL) {
		return;
	}
	rp_mutex_lock(&rp_prof_mu);
	__atomic_store_n(&o->dead, 1, __ATOMIC_RELEASE);
	rp_pick_oldest_dead();
	if (rp_drop_seq != 0) {
		rp_rebuild(NULL, rp_drop_overlap);
	}
	rp_mutex_unlock(&rp_prof_mu);
}

uint64_t rp_prof_live(void) {
	rp_read_begin();
	struct rp_ptab *t = __atomic_load_n(&rp_tab, __ATOMIC_ACQUIRE);
	uint64_t n = 0;
	for (uint64_t i = 0; t != NULL && i < t->n; i++) {
		n += !t->o[i]->dead;
	}
	rp_read_end();
	return n;
}

void rp_prof_set_host(void *traceback, void *symbolizer) {
	rp_host_traceback = (void (*)(void *))traceback;
	rp_host_symbolizer = (void (*)(void *))symbolizer;
}

// rp_tb_peek reads n bytes at addr into dst without faulting: through
// process_vm_readv on the process itself, which fails with EFAULT where a
// load would fault (a plugin running on a stack of its own, a garbage
// frame pointer). Async-signal-safe; errno is the caller's to keep.
int rp_tb_peek(uint64_t addr, void *dst, size_t n) {
	struct iovec local = {.iov_base = dst, .iov_len = n};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = n};
	return syscall(SYS_process_vm_readv, (long)syscall(SYS_getpid), &local, 1UL, &remote, 1UL, 0UL) == (long)n ? 0 : -1;
}

// rp_cgo_traceback is called by the Go runtime's SIGPROF handler (and on
// non-Go threads) with the interrupted context. For a PC inside a live
// runplug object, or anywhere during a protected call when no host
// traceback is chained (code a plugin called), it records that PC, then
// the return address of a frameless leaf (see below), then follows frame
// pointers while each frame lies between the interrupted stack pointer
// and the thread's current protected call frame (rp_call's own frame,
// above every plugin frame of the call) and each return address is inside
// a live runplug object. Anything else is the host's traceback's (when one
// was chained) or nothing, as without runplug. Async-signal-safe: no lock,
// no allocation, no call but the host's and system calls (rp_tb_peek),
// errno kept. The registers are read per architecture (traceback_arch.h);
// frame records have one shape on both.
void rp_cgo_traceback(void *p) {
	struct rp_tb_arg *a = p;
	if (a->max == 0) {
		return;
	}
	if (a->sig_context == 0) {
		if (rp_host_traceback != NULL) {
			rp_host_traceback(a);
		} else {
			a->buf[0] = 0;
		}
		return;
	}
	const ucontext_t *uc = (const ucontext_t *)a->sig_context;
	uint64_t pc, sp, fp;
	rp_tb_regs(uc, &pc, &sp, &fp);
	const struct rp_frame *fr = rp_self.cur;
	uint64_t top = (uint64_t)(uintptr_t)fr;
	rp_read_begin();
	const struct rp_ptab *t = __atomic_load_n(&rp_tab, __ATOMIC_ACQUIRE);
	const struct rp_pobj *o = rp_find(t, pc);
	if (o != NULL && __atomic_load_n(&o->dead, __ATOMIC_ACQUIRE)) {
		o = NULL;
	}
	// A PC outside runplug's objects is the host traceback's; without
	// one, it is ours only inside a protected call (code a plugin called,
	// say libc's memcpy), and only if the walk finds a plugin frame.
	if (o == NULL && (rp_host_traceback != NULL || fr == NULL)) {
		rp_read_end();
		if (rp_host_traceback != NULL) {
			rp_host_traceback(a);
		} else {
			a->buf[0] = 0;
		}
		return;
	}
	int saved_errno = errno;
	uintptr_t n = 0;
	a->buf[n++] = pc;
	// Every word read lies in [sp, top), below the protected call's frame,
	// and is read with rp_tb_peek: a plugin may run on a stack of its own,
	// with unmapped memory between it and top. A leaf function compiled
	// without a frame pointer (gcc omits it in leaves even with
	// -fno-omit-frame-pointer) still has its return address (at sp, or in
	// the link register: rp_tb_leaf_ret): one that points into a live
	// object, outside the function holding pc, is taken as one.
	if (fr != NULL && n < a->max) {
		uint64_t r = 0;
		const struct rp_pobj *ro = rp_tb_leaf_ret(uc, sp, top, &r) == 0 ? rp_find(t, r) : NULL;
		if (ro != NULL && !__atomic_load_n(&ro->dead, __ATOMIC_ACQUIRE)) {
			const struct rp_psym *f = o != NULL ? rp_sym(o, pc) : NULL;
			if (ro != o || f == NULL || r - f->lo > f->size) {
				a->buf[n++] = r;
			}
		}
	}
	while (n < a->max && fr != NULL) {
		if (fp < sp || (fp & 7) != 0 || fp > top || top - fp < 16) {
			break;
		}
		uint64_t w[2];
		if (rp_tb_peek(fp, w, sizeof w) != 0) {
			break;
		}
		uint64_t next = w[0], ret = w[1];
		const struct rp_pobj *ro = rp_find(t, ret);
		if (ro == NULL || __atomic_load_n(&ro->dead, __ATOMIC_ACQUIRE)) {
			break;
		}
		if (ret != a->buf[n - 1]) {
			a->buf[n++] = ret;
		}
		if (next <= fp) {
			break;
		}
		sp = fp + 16;
		fp = next;
	}
	rp_read_end();
	errno = saved_errno;
	if (o == NULL && n == 1) {
		n = 0; // no plugin frame: as without runplug
	}
	if (n < a->max) {
		a->buf[n] = 0;
	}
}

// rp_cgo_symbolizer names a PC of a runplug object (live or dead) after
// the function symbol of its dynamic symbol table that contains it, else
// "[file name]"; File is the object's path (no line numbers: DWARF is not
// read). The
// strings stay valid until the runtime's closing call (pc 0) for the same
// argument block, which ends the read section the first call began.
void rp_cgo_symbolizer(void *p) {
	struct rp_sym_arg *a = p;
	if (a->pc == 0) {
		if (a->data == (uintptr_t)&rp_pin) {
			a->data = 0;
			rp_read_end();
		} else if (rp_host_symbolizer != NULL) {
			rp_host_symbolizer(a);
		}
		return;
	}
	if (a->data != 0 && a->data != (uintptr_t)&rp_pin && rp_host_symbolizer != NULL) {
		// The block holds the host symbolizer's state from an earlier
		// PC: let it free that before the block becomes ours.
		uintptr_t pc = a->pc;
		a->pc = 0;
		rp_host_symbolizer(a);
		a->pc = pc;
		a->data = 0;
	}
	if (a->data != (uintptr_t)&rp_pin) {
		rp_read_begin();
	}
	const struct rp_ptab *t = __atomic_load_n(&rp_tab, __ATOMIC_ACQUIRE);
	const struct rp_pobj *o = rp_find(t, a->pc);
	if (o == NULL) {
		if (a->data == (uintptr_t)&rp_pin) {
			a->data = 0;
		}
		rp_read_end();
		if (rp_host_symbolizer != NULL) {
			rp_host_symbolizer(a);
		} else {
			a->file = NULL;
			a->func = NULL;
			a->lineno = 0;
			a->entry = 0;
			a->more = 0;
		}
		return;
	}
	// A return address may be one past the end of a call at the end of
	// its function: look pc-1 up when pc itself is in no symbol.
	const struct rp_psym *s = rp_sym(o, a->pc);
	if (s == NULL) {
		s = rp_sym(o, a->pc - 1);
	}
	a->file = o->path;
	a->lineno = 0;
	a->func = s != NULL ? o->strs + s->name : o->anon;
	a->entry = s != NULL ? s->lo : 0;
	a->more = 0;
	a->data = (uintptr_t)&rp_pin;
}

void rp_prof_test_traceback(uint64_t pc, uint64_t sp, uint64_t fp, uint64_t lr, uint64_t top, uintptr_t *buf, uintptr_t max) {
	struct rp_frame *saved = rp_self.cur;
	rp_self.cur = (struct rp_frame *)(uintptr_t)top;
	ucontext_t uc;
	memset(&uc, 0, sizeof uc);
	rp_tb_set_regs(&uc, pc, sp, fp, lr);
	struct rp_tb_arg a = {.sig_context = (uintptr_t)&uc, .buf = buf, .max = max};
	rp_cgo_traceback(&a);
	rp_self.cur = saved;
}

// A host's traceback and symbolizer, for tests of the chaining: they
// count their calls and record or name nothing.
static long rp_test_host_calls;

void rp_prof_test_host_traceback(void *p) {
	struct rp_tb_arg *a = p;
	__atomic_add_fetch(&rp_test_host_calls, 1, __ATOMIC_RELAXED);
	if (a->max > 0) {
		a->buf[0] = 0;
	}
}

void rp_prof_test_host_symbolizer(void *p) {
	struct rp_sym_arg *a = p;
	__atomic_add_fetch(&rp_test_host_calls, 1, __ATOMIC_RELAXED);
	a->file = NULL;
	a->func = NULL;
	a->lineno = 0;
	a->entry = 0;
	a->more = 0;
}

long rp_prof_test_host_calls(void) { return __atomic_load_n(&rp_test_host_calls, __ATOMIC_RELAXED); }
