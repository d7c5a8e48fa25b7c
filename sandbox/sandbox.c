// sandbox.c: signal handlers that turn a fault in plugin code into an error
// return, the protected-call entry points Go calls, deadline interrupts,
// host-library lookups, and the test fixtures of package sandbox.
//
// Everything the signal handler touches is async-signal-safe: the
// initial-exec TLS block of the faulting thread, the frame that thread's
// rp_call keeps on its own stack, the saved sigactions (written once,
// before our handler is installed), and the getpid/sigaction/raise system
// calls.

#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox.h"

_Static_assert(offsetof(struct rp_frame, fn) == RP_FR_FN, "rp_frame.fn");
_Static_assert(offsetof(struct rp_frame, i) == RP_FR_INT, "rp_frame.i");
_Static_assert(offsetof(struct rp_frame, f) == RP_FR_FLOAT, "rp_frame.f");
_Static_assert(offsetof(struct rp_frame, rax) == RP_FR_RAX, "rp_frame.rax");
_Static_assert(offsetof(struct rp_frame, xmm0) == RP_FR_XMM0, "rp_frame.xmm0");
_Static_assert(offsetof(struct rp_frame, sp) == RP_FR_SP, "rp_frame.sp");

// The thread's protected-call state. initial-exec: the package is only ever
// linked into the executable, where this is a fixed %fs offset.
static __thread struct rp_thread rp_self __attribute__((tls_model("initial-exec")));

// The handlers that were installed before ours (the Go runtime's), indexed
// by signal number, and the real-time signal used for deadlines.
static struct sigaction rp_old[65];
static int rp_intr_signo;

// Keep libm linked (even with --as-needed) so that HostLibraryNames can
// offer it: this reference is resolved from libm.so.6.
__attribute__((used)) double (*const rp_keep_libm)(double) = cbrt;

static void rp_chain(int sig, siginfo_t *si, void *uc) {
	struct sigaction *old = &rp_old[sig];
	if (old->sa_flags & SA_SIGINFO) {
		if (old->sa_sigaction != NULL) {
			old->sa_sigaction(sig, si, uc);
		}
		return;
	}
	if (old->sa_handler == SIG_IGN) {
		return;
	}
	if (old->sa_handler == SIG_DFL) {
		// Restore the default action; a fault recurs when the instruction
		// restarts, anything else is raised again (delivered once the
		// handler returns and the mask is restored).
		struct sigaction dfl;
		memset(&dfl, 0, sizeof dfl);
		dfl.sa_handler = SIG_DFL;
		sigaction(sig, &dfl, NULL);
		if (si->si_code <= 0) {
			raise(sig);
		}
		return;
	}
	old->sa_handler(sig);
}

// rp_synchronous reports whether sig was raised by the interrupted
// instruction stream of this thread: a kernel-generated fault (si_code > 0,
// including SI_KERNEL), or SIGABRT sent by this process to a thread
// (SI_TKILL: abort() -> raise() -> tgkill on the calling thread).
static int rp_synchronous(int sig, const siginfo_t *si) {
	switch (sig) {
	case SIGSEGV:
	case SIGBUS:
	case SIGFPE:
	case SIGILL:
		return si->si_code > 0;
	case SIGABRT:
		return si->si_code == SI_TKILL && si->si_pid == getpid();
	}
	return 0;
}

static void rp_trap(struct rp_thread *t, struct rp_frame *fr, int status, int sig, const siginfo_t *si,
		    void *uc) {
	fr->status = status;
	fr->signo = sig;
	fr->code = si->si_code;
	fr->addr = (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL) ? (uint64_t)si->si_addr : 0;
	fr->pc = rp_uc_pc(uc);
	fr->fsp = rp_uc_sp(uc);
	t->active = 0; // claim once: a fault on the way out reaches Go
	rp_uc_redirect(uc, (uint64_t)&rp_recover, fr->sp);
}

static void rp_handler(int sig, siginfo_t *si, void *uc) {
	struct rp_thread *t = &rp_self;
	struct rp_frame *fr = t->cur;
	int saved_errno = errno;

	if (sig == rp_intr_signo) {
		// Deadline signals are sent with rt_tgsigqueueinfo by this process,
		// SI_QUEUE, and carry the sequence number of the call they target.
		if (si->si_code != SI_QUEUE || si->si_pid != getpid()) {
			errno = saved_errno;
			rp_chain(sig, si, uc);
			return;
		}
		uint64_t seq = (uint64_t)(uintptr_t)si->si_value.sival_ptr;
		for (struct rp_frame *f = fr; f != NULL; f = f->prev) {
			if (f->seq != seq) {
				continue;
			}
			if (f == fr && t->active) {
				rp_trap(t, fr, RP_INTERRUPTED, sig, si, uc);
			} else {
				// In a callback into Go (or a nested call): interrupt
				// when control comes back (rp_callback_leave).
				f->pending = 1;
			}
			break;
		}
		// A signal for a call that already ended is dropped.
		errno = saved_errno;
		return;
	}
	if (fr != NULL && t->active && rp_synchronous(sig, si)) {
		rp_trap(t, fr, RP_FAULT, sig, si, uc);
		errno = saved_errno;
		return;
	}
	errno = saved_errno;
	rp_chain(sig, si, uc);
}

int rp_install(int intr_signo) {
	static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, 0};
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = rp_handler;
	// SA_ONSTACK: run on the alternate stack the Go runtime gives every
	// thread, so a plugin's stack overflow can be handled. SA_RESTART as
	// the Go runtime does. All signals blocked while the handler runs, as
	// the Go handler we chain to expects.
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);

	if (intr_signo <= 0 || intr_signo >= 65) {
		return EINVAL;
	}
	rp_intr_signo = intr_signo;
	for (int k = 0;; k++) {
		int sig = sigs[k] ? sigs[k] : intr_signo;
		// Read the old action first so it is in place before any signal
		// can reach our handler.
		if (sigaction(sig, NULL, &rp_old[sig]) != 0) {
			return errno;
		}
		if (sigaction(sig, &sa, NULL) != 0) {
			return errno;
		}
		if (sigs[k] == 0) {
			break;
		}
	}
	return 0;
}

// rp_run is the body of both call entry points.
static inline __attribute__((always_inline)) struct rp_result
rp_run(struct rp_slot *slot, uint64_t fn, uint64_t i0, uint64_t i1, uint64_t i2, uint64_t i3, uint64_t i4,
       uint64_t i5, double f0, double f1, double f2, double f3, double f4, double f5, double f6, double f7) {
	struct rp_thread *t = &rp_self;
	struct rp_frame fr;
	struct rp_result r;

	fr.fn = fn;
	fr.i[0] = i0;
	fr.i[1] = i1;
	fr.i[2] = i2;
	fr.i[3] = i3;
	fr.i[4] = i4;
	fr.i[5] = i5;
	fr.f[0] = f0;
	fr.f[1] = f1;
	fr.f[2] = f2;
	fr.f[3] = f3;
	fr.f[4] = f4;
	fr.f[5] = f5;
	fr.f[6] = f6;
	fr.f[7] = f7;
	fr.status = RP_OK;
	fr.pending = 0;
	fr.prev = t->cur;
	fr.seq = ++t->seq;

	if (slot != NULL) {
		if (t->tid == 0) {
			t->tid = (int32_t)syscall(SYS_gettid);
		}
		slot->tid = t->tid;
		slot->seq = fr.seq;
		__atomic_store_n(&slot->state, 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&slot->cancel, __ATOMIC_SEQ_CST)) {
			// The deadline passed before the call started.
			__atomic_store_n(&slot->state, 2, __ATOMIC_SEQ_CST);
			memset(&r, 0, sizeof r);
			r.status = RP_INTERRUPTED;
			return r;
		}
	}

	t->cur = &fr;
	// The handler runs on this thread: a compiler barrier orders the
	// stores it reads.
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	t->active = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	rp_invoke(&fr);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	t->active = 0;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	t->cur = fr.prev;
	if (slot != NULL) {
		__atomic_store_n(&slot->state, 2, __ATOMIC_SEQ_CST);
	}

	r.rax = fr.rax;
	r.xmm0 = fr.xmm0;
	r.status = fr.status;
	if (__builtin_expect(fr.status != RP_OK, 0)) {
		r.signo = fr.signo;
		r.code = fr.code;
		r.addr = fr.addr;
		r.pc = fr.pc;
		r.sp = fr.fsp;
		r.abort_code = fr.abort_code;
	}
	return r;
}

struct rp_result rp_call(uint64_t fn, uint64_t i0, uint64_t i1, uint64_t i2, uint64_t i3, uint64_t i4,
			 uint64_t i5, double f0, double f1, double f2, double f3, double f4, double f5,
			 double f6, double f7) {
	return rp_run(NULL, fn, i0, i1, i2, i3, i4, i5, f0, f1, f2, f3, f4, f5, f6, f7);
}

struct rp_result rp_call_slot(uintptr_t slot, uint64_t fn, uint64_t i0, uint64_t i1, uint64_t i2,
			      uint64_t i3, uint64_t i4, uint64_t i5, double f0, double f1, double f2,
			      double f3, double f4, double f5, double f6, double f7) {
	return rp_run((struct rp_slot *)slot, fn, i0, i1, i2, i3, i4, i5, f0, f1, f2, f3, f4, f5, f6, f7);
}

uintptr_t rp_slot_new(void) { return (uintptr_t)calloc(1, sizeof(struct rp_slot)); }

void rp_slot_free(uintptr_t slot) { free((void *)slot); }

// rp_interrupt asks the thread running slot's call to stop: either the call
// has not started and will see cancel, or it runs and gets the deadline
// signal naming its sequence number (stale signals are dropped).
void rp_interrupt(uintptr_t slotp) {
	struct rp_slot *slot = (struct rp_slot *)slotp;
	__atomic_store_n(&slot->cancel, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&slot->state, __ATOMIC_SEQ_CST) != 1) {
		return;
	}
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_signo = rp_intr_signo;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_ptr = (void *)(uintptr_t)slot->seq;
	syscall(SYS_rt_tgsigqueueinfo, getpid(), slot->tid, rp_intr_signo, &si);
}

int32_t rp_callback_enter(void) {
	struct rp_thread *t = &rp_self;
	int32_t saved = t->active;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	t->active = 0;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return saved;
}

void rp_callback_leave(int32_t saved) {
	struct rp_thread *t = &rp_self;
	struct rp_frame *fr = t->cur;
	if (saved && fr != NULL && fr->pending) {
		fr->status = RP_INTERRUPTED;
		fr->pc = (uint64_t)__builtin_return_address(0);
		rp_resume(fr->sp);
	}
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	t->active = saved;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

void rp_abort_current(int64_t code) {
	struct rp_thread *t = &rp_self;
	struct rp_frame *fr = t->cur;
	if (fr == NULL) {
		abort(); // not inside a protected call: nothing to unwind to
	}
	t->active = 0;
	fr->status = RP_ABORTED;
	fr->abort_code = code;
	fr->pc = (uint64_t)__builtin_return_address(0);
	rp_resume(fr->sp);
}

// Host libraries.

void *rp_dlopen_noload(const char *name) { return dlopen(name, RTLD_NOLOAD | RTLD_LAZY); }

uint64_t rp_dlsym(void *h, const char *name, const char *version) {
	if (version != NULL && version[0] != 0) {
		return (uint64_t)dlvsym(h, name, version);
	}
	return (uint64_t)dlsym(h, name);
}

// rp_dladdr names the host-library symbol nearest to pc (fault path only).
struct rp_sym rp_dladdr(uint64_t pc) {
	struct rp_sym s;
	Dl_info info;
	memset(&s, 0, sizeof s);
	if (dladdr((void *)pc, &info) != 0) {
		s.ok = 1;
		s.sname = info.dli_sname;
		s.saddr = (uint64_t)info.dli_saddr;
		s.fname = info.dli_fname;
	}
	return s;
}

// Test fixtures (used by the package's tests and benchmarks only).

// rp_fixture_add is the add(a, b) of BenchmarkCall.
int64_t rp_fixture_add(int64_t a, int64_t b) { return a + b; }

uint64_t rp_fixture_add_addr(void) { return (uint64_t)&rp_fixture_add; }

// rp_fixture_call2 is the unprotected baseline: a plain cgo call that calls
// fn(a, b) through the pointer.
int64_t rp_fixture_call2(uint64_t fn, int64_t a, int64_t b) {
	return ((int64_t(*)(int64_t, int64_t))fn)(a, b);
}

// rp_fixture_abort_call plays a dispatcher whose Go callback failed.
static int64_t rp_fixture_abort_call(int64_t code) { rp_abort_current(code); }

uint64_t rp_fixture_abort_call_addr(void) { return (uint64_t)&rp_fixture_abort_call; }

// rp_fixture_callback_state returns active before | during enter/leave << 8
// | after << 16, as a dispatcher around a Go callback would see them.
static int64_t rp_fixture_callback_state(void) {
	int64_t before = rp_self.active;
	int32_t saved = rp_callback_enter();
	int64_t during = rp_self.active;
	rp_callback_leave(saved);
	int64_t after = rp_self.active;
	return before | during << 8 | after << 16;
}

uint64_t rp_fixture_callback_state_addr(void) { return (uint64_t)&rp_fixture_callback_state; }
