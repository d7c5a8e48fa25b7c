//go:build linux && (amd64 || arm64) && cgo

// callback.c: the C half of host callbacks (callback.go): rp_cb_c runs
// between a callback's thunk (callback_amd64.S) and the Go dispatcher.

#include <stddef.h>
#include <stdint.h>

#include "callback.h"
#include "_cgo_export.h"

// rp_foreign_fwd: see callback.h.
void (*rp_foreign_fwd)(struct rp_cbframe *) __attribute__((visibility("hidden")));

_Static_assert(offsetof(struct rp_cbframe, a) == 0, "rp_cbframe.a");
_Static_assert(offsetof(struct rp_cbframe, id) == RP_CB_ID, "rp_cbframe.id");
_Static_assert(offsetof(struct rp_cbframe, incall) == RP_CB_INCALL, "rp_cbframe.incall");
_Static_assert(offsetof(struct rp_cbframe, done) == RP_CB_DONE, "rp_cbframe.done");
_Static_assert(offsetof(struct rp_cbframe, code) == RP_CB_CODE, "rp_cbframe.code");
_Static_assert(sizeof(struct rp_cbframe) == RP_CB_SIZE, "rp_cbframe size");
_Static_assert(RP_CB_SIZE % 16 == 0, "rp_cbframe keeps the stack aligned");

// The thread's protected-call state (sandbox.c).
extern __thread struct rp_thread rp_self __attribute__((visibility("hidden"), tls_model("initial-exec")));

// runtime/cgo's side of a call from C into Go, as a cgo //export wrapper
// uses it (declared by cmd/cgo in _cgo_export.c, not in a header), and
// the accessor of the installed cgo traceback context function
// (runtime/cgo's libcgo.h). docs/ASSUMPTIONS.md lists what runplug relies on.
extern void crosscall2(void (*fn)(void *), void *, int, size_t);
extern size_t _cgo_wait_runtime_init_done(void);
extern void _cgo_release_context(size_t);
extern void (*_cgo_get_context_function(void))(void *);

// rp_cb_gofn is the Go function dispatch (callback.go), as the code
// address of a Go func(unsafe.Pointer) value, which is how crosscall2's
// fn is called (runtime.cgocallbackg1). Set once by rp_cb_init.
__attribute__((visibility("hidden"))) void (*rp_cb_gofn)(void *);

void rp_cb_entry(void);
void rp_cb_entry_i0(void), rp_cb_entry_i1(void), rp_cb_entry_i2(void), rp_cb_entry_i3(void),
    rp_cb_entry_i4(void), rp_cb_entry_i5(void), rp_cb_entry_i6(void);

// rp_cb_init records dispatch's address and makes runtime/cgo complete its
// lazy setup (the pthread key that keeps a non-Go thread's Go state bound
// across its calls into Go) as a cgo //export wrapper's first call does:
// the entry's own path into Go skips that call.
void rp_cb_init(uintptr_t gofn) {
	rp_cb_gofn = (void (*)(void *))gofn;
	_cgo_release_context(_cgo_wait_runtime_init_done());
}

// rp_cb_go runs dispatch on f the way a cgo //export wrapper calls its Go
// function: with the cgo traceback context, when a context function is
// installed, recorded around the call; without one, the wrapper's two
// calls into runtime/cgo would only find that out (and see the runtime
// initialized, which it is since Go code made the callback).
static void rp_cb_go(struct rp_cbframe *f) {
	if (_cgo_get_context_function() == NULL) {
		crosscall2(rp_cb_gofn, f, 0, 0);
		return;
	}
	size_t ctxt = _cgo_wait_runtime_init_done();
	crosscall2(rp_cb_gofn, f, 0, ctxt);
	_cgo_release_context(ctxt);
}

// rp_cb_c runs the Go side of the callback of frame f, which leaves the
// result registers in f->a. The entry calls it inside a protected call,
// or when a cgo traceback context function is installed. Inside a
// protected call the in-plugin flag is cleared around the Go call (a
// fault in Go code then reaches the Go runtime as a panic), and a failure
// the Go side reports (a recovered panic) ends that outer call with
// RP_ABORTED. Go never unwinds through these frames: dispatch recovers
// first.
void rp_cb_c(struct rp_cbframe *f) {
	if (rp_self.cur == NULL) {
		// No protected call on this thread (a Go thread in plain C code,
		// or a thread the plugin created): nothing to bracket or end.
		rp_cb_go(f);
		return;
	}
	int32_t saved = rp_callback_enter();
	f->incall = 1;
	f->code = 0; // the Go side writes it only on failure
	rp_cb_go(f);
	int64_t code = f->code;
	if (code != 0 && rp_self.outer != NULL) {
		// The Go function panicked: report that rather than a deadline
		// that passed meanwhile (the panic record is consumed only by
		// an aborted call). A deadline signal landing between here and
		// rp_callback_leave can still win; the record then stays.
		rp_self.outer->pending = 0;
	}
	rp_callback_leave(saved);
	if (code != 0) {
		rp_abort_current(code);
	}
}

uint64_t rp_cb_entry_addr(void) { return (uint64_t)&rp_cb_entry; }

// rp_cb_clear_cache makes the instruction cache coherent with the thunks
// just written to [start, end) (AArch64 does not do it by itself; on
// x86-64 this is nothing).
void rp_cb_clear_cache(uintptr_t start, uintptr_t end) { __builtin___clear_cache((char *)start, (char *)end); }

// rp_cb_static_thunks returns the first thunk page built into the binary
// and its cells (callback_amd64.S), or 0 where there is none.
#if defined(__x86_64__)
extern char rp_cb_thunks0[];
extern uint64_t rp_cb_cells0[];
uint64_t rp_cb_static_thunks(uint64_t **cells) {
	*cells = rp_cb_cells0;
	return (uint64_t)(uintptr_t)rp_cb_thunks0;
}
#else
uint64_t rp_cb_static_thunks(uint64_t **cells) {
	*cells = 0;
	return 0;
}
#endif
// rp_cb_entry_ints_addr returns the entry that saves only the first n
// (0 to 6) integer argument registers.
uint64_t rp_cb_entry_ints_addr(int n) {
	static void (*const entries[])(void) = {rp_cb_entry_i0, rp_cb_entry_i1, rp_cb_entry_i2, rp_cb_entry_i3,
	                                        rp_cb_entry_i4, rp_cb_entry_i5, rp_cb_entry_i6};
	return (uint64_t)entries[n];
}

// Test fixtures: native callers of a callback (package tests only).

typedef int64_t (*rp_cbfix_ifn)(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, double, double,
                                double, double, double, double, double, double);
typedef double (*rp_cbfix_ffn)(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, double, double,
                               double, double, double, double, double, double);

// rp_cbfix_int calls fn(a, b, c, d, e, 6, x0, ..., x7) for its rax.
static int64_t rp_cbfix_int(uint64_t fn, int64_t a, int64_t b, int64_t c, int64_t d, int64_t e, double x0,
                            double x1, double x2, double x3, double x4, double x5, double x6, double x7) {
	return ((rp_cbfix_ifn)fn)(a, b, c, d, e, 6, x0, x1, x2, x3, x4, x5, x6, x7);
}

// rp_cbfix_float calls fn(a, b, c, d, e, 6, x0, ..., x7) for its xmm0.
static double rp_cbfix_float(uint64_t fn, int64_t a, int64_t b, int64_t c, int64_t d, int64_t e, double x0,
                             double x1, double x2, double x3, double x4, double x5, double x6, double x7) {
	return ((rp_cbfix_ffn)fn)(a, b, c, d, e, 6, x0, x1, x2, x3, x4, x5, x6, x7);
}

// rp_cbfix_loop calls fn(i, 1) for i in [0, n) and sums the results: the
// native caller of the callback benchmarks (sandbox.CallbackLoop).
int64_t rp_cbfix_loop(uint64_t fn, int64_t n) {
	int64_t (*f)(int64_t, int64_t) = (int64_t(*)(int64_t, int64_t))fn;
	int64_t s = 0;
	for (int64_t i = 0; i < n; i++) {
		s += f(i, 1);
	}
	return s;
}

// rp_cbfix_pair calls fn(a, x) as a function returning struct { int64_t
// a, b; } in rax:rdx and, as one returning struct { double x, y; } in
// xmm0:xmm1, and adds all four.
struct rp_cbfix_ii { int64_t a, b; };
struct rp_cbfix_dd { double x, y; };
double rp_cbfix_pair(uint64_t fn, int64_t a, double x) {
	struct rp_cbfix_ii i = ((struct rp_cbfix_ii(*)(int64_t, double))fn)(a, x);
	struct rp_cbfix_dd d = ((struct rp_cbfix_dd(*)(int64_t, double))fn)(a, x);
	return (double)(i.a + i.b) + d.x + d.y;
}

uint64_t rp_cbfix_int_addr(void) { return (uint64_t)&rp_cbfix_int; }
uint64_t rp_cbfix_float_addr(void) { return (uint64_t)&rp_cbfix_float; }

// rp_cbfix_context is a cgo traceback context function (the Context of
// runtime.SetCgoTraceback) that counts what it is asked: a new context
// (arg Context 0; it gives 0x5eed) or the release of one.
static int64_t rp_cbfix_ctx_new, rp_cbfix_ctx_rel;
static void rp_cbfix_context(void *p) {
	uintptr_t *ctx = p;
	if (*ctx == 0) {
		__atomic_add_fetch(&rp_cbfix_ctx_new, 1, __ATOMIC_RELAXED);
		*ctx = 0x5eed;
	} else {
		__atomic_add_fetch(&rp_cbfix_ctx_rel, 1, __ATOMIC_RELAXED);
	}
}
void *rp_cbfix_context_addr(void) { return (void *)&rp_cbfix_context; }
void rp_cbfix_context_counts(int64_t *n, int64_t *r) {
	*n = __atomic_load_n(&rp_cbfix_ctx_new, __ATOMIC_RELAXED);
	*r = __atomic_load_n(&rp_cbfix_ctx_rel, __ATOMIC_RELAXED);
}
