//go:build linux && amd64 && cgo

// callback.c: the C half of host callbacks (callback.go): rp_cb_c runs
// between a callback's thunk (callback_amd64.S) and the Go dispatcher.

#include <stdint.h>

#include "sandbox.h"
#include "_cgo_export.h"

// The thread's protected-call state (sandbox.c).
extern __thread struct rp_thread rp_self __attribute__((visibility("hidden"), tls_model("initial-exec")));

void rp_cb_entry(void);

// rp_cb_c runs the Go side of callback id with the argument registers in a
// and leaves the result registers in a->i[0] (rax) and a->f[0] (xmm0).
// Plugin code called it, so the thread may be inside a protected call:
// the in-plugin flag is cleared around the Go call (a fault in Go code
// then reaches the Go runtime as a panic), and a failure the dispatcher
// reports (a recovered panic) ends that outer call with RP_ABORTED. Go
// never unwinds through these frames: the dispatcher recovers first.
void rp_cb_c(uint32_t id, struct rp_args *a) {
	int in_call = rp_self.cur != NULL;
	int32_t saved = rp_callback_enter();
	int64_t code = rpGoCallback(id, a, in_call);
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

uint64_t rp_cbfix_int_addr(void) { return (uint64_t)&rp_cbfix_int; }
uint64_t rp_cbfix_float_addr(void) { return (uint64_t)&rp_cbfix_float; }
