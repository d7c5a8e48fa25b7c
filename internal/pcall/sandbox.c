//go:build linux && (amd64 || arm64) && cgo

// sandbox.c: signal handlers that turn a fault in plugin code into an error
// return, the protected-call entry points Go calls, deadline interrupts
// and the test fixtures of package pcall.
//
// Everything the signal handler touches is async-signal-safe: the
// initial-exec TLS block of the faulting thread, the frame that thread's
// rp_call keeps on its own stack, the saved sigactions (written once,
// before our handler is installed), and the getpid/sigaction/raise system
// calls.

#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sandbox.h"
#include "locks.h"

_Static_assert(offsetof(struct rp_frame, gotop) == RP_FR_GOTOP, "rp_frame.gotop");
_Static_assert(offsetof(struct rp_frame, seq) == RP_FR_SEQ, "rp_frame.seq");
_Static_assert(offsetof(struct rp_frame, active) == RP_FR_ACTIVE, "rp_frame.active");
_Static_assert(offsetof(struct rp_frame, pending) == RP_FR_ACTIVE + 4, "rp_frame.pending");
_Static_assert(offsetof(struct rp_frame, status) == RP_FR_STATUS, "rp_frame.status");
_Static_assert(offsetof(struct rp_frame, pc) == RP_FR_PC, "rp_frame.pc");
_Static_assert(offsetof(struct rp_frame, result) == RP_FR_RESULT, "rp_frame.result");
_Static_assert(offsetof(struct rp_frame, slot) == RP_FR_SLOT, "rp_frame.slot");
_Static_assert(sizeof(struct rp_frame) == RP_FR_SIZE, "rp_frame size");
_Static_assert(RP_FR_SIZE % 16 == 0, "rp_frame keeps the stack aligned");
_Static_assert(offsetof(struct rp_frame, gate) == RP_FR_GATE, "rp_frame.gate");
_Static_assert(offsetof(struct rp_frame, gslot) == RP_FR_GSLOT, "rp_frame.gslot");
_Static_assert(offsetof(struct rp_thread, cur) == RP_T_CUR, "rp_thread.cur");
_Static_assert(offsetof(struct rp_thread, depth) == RP_T_DEPTH, "rp_thread.depth");
_Static_assert(offsetof(struct rp_thread, gates) == RP_T_GATES, "rp_thread.gates");
_Static_assert(offsetof(struct rp_thread, registered) == RP_T_REGISTERED, "rp_thread.registered");
_Static_assert(offsetof(struct rp_gate, closing) == RP_GATE_CLOSING, "rp_gate.closing");
_Static_assert(offsetof(struct rp_gate, overflow) == RP_GATE_OVERFLOW, "rp_gate.overflow");
_Static_assert(offsetof(struct rp_slot, cancel) == RP_SLOT_CANCEL, "rp_slot.cancel");
_Static_assert(offsetof(struct rp_args, i) == RP_A_INT, "rp_args.i");
_Static_assert(offsetof(struct rp_args, f) == RP_A_FLOAT, "rp_args.f");
_Static_assert(offsetof(struct rp_callrec, fn) == RP_C_FN, "rp_callrec.fn");
_Static_assert(offsetof(struct rp_callrec, args) == RP_C_ARGS, "rp_callrec.args");
_Static_assert(offsetof(struct rp_callrec, nints) == RP_C_NINTS, "rp_callrec.nints");
_Static_assert(offsetof(struct rp_callrec, slot) == RP_C_SLOT, "rp_callrec.slot");
_Static_assert(offsetof(struct rp_callrec, gate) == RP_C_GATE, "rp_callrec.gate");
_Static_assert(offsetof(struct rp_callrec, a) == RP_C_A, "rp_callrec.a");
_Static_assert(offsetof(struct rp_callrec, b) == RP_C_B, "rp_callrec.b");
_Static_assert(offsetof(struct rp_callrec, info) == RP_C_INFO, "rp_callrec.info");
_Static_assert(offsetof(struct rp_callrec, code) == RP_C_INFO + 4, "rp_callrec.code");
_Static_assert(sizeof(struct rp_callrec) == RP_C_SIZE, "rp_callrec size");

// The thread's protected-call state. initial-exec: the package is only ever
// linked into the executable, where this is a fixed %fs offset. Hidden, not
// static: sandbox_amd64.S reads it too.
__attribute__((visibility("hidden"), tls_model("initial-exec"))) __thread struct rp_thread rp_self;

// The handlers that were installed before ours (the Go runtime's), indexed
// by signal number, and the real-time signal used for deadlines.
static struct sigaction rp_old[65];
static int rp_intr_signo;

static void rp_gate_init(void);
static pthread_key_t rp_timer_key;
static void rp_timer_exit(void *p);

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
// instruction stream of this thread: a kernel-generated fault or trap
// (si_code > 0, including SI_KERNEL), or SIGABRT sent by this process to a thread
// (SI_TKILL: abort() -> raise() -> tgkill on the calling thread).
static int rp_synchronous(int sig, const siginfo_t *si) {
	switch (sig) {
	case SIGSEGV:
	case SIGBUS:
	case SIGFPE:
	case SIGILL:
	case SIGTRAP: // int3 / __builtin_debugtrap (a debugger's ptrace sees it first)
		return si->si_code > 0;
	case SIGABRT:
		return si->si_code == SI_TKILL && si->si_pid == getpid();
	}
	return 0;
}

static void rp_trap(struct rp_frame *fr, int status, int sig, const siginfo_t *si, void *uc) {
	fr->status = status;
	fr->signo = sig;
	fr->code = si->si_code;
	fr->addr = (sig == SIGABRT || sig == rp_intr_signo) ? 0 : (uint64_t)si->si_addr;
	fr->pc = rp_uc_pc(uc);
	fr->fsp = rp_uc_sp(uc);
	fr->active = 0; // claim once: a fault on the way out reaches Go
}

static void rp_handler(int sig, siginfo_t *si, void *uc) {
	struct rp_thread *t = &rp_self;
	struct rp_frame *fr = t->cur;
	int saved_errno = errno;

	if (sig == rp_intr_signo) {
		// Deadline signals are sent with rt_tgsigqueueinfo by this process,
		// SI_QUEUE, and carry the sequence number of the call they target;
		// or, when that could not be queued, they come from the thread's
		// own timer (SI_TIMER, the value its rp_self), with the sequence
		// number in kick_seq (see rp_interrupt).
		uint64_t seq;
		if (si->si_code == SI_QUEUE && si->si_pid == getpid()) {
			seq = (uint64_t)(uintptr_t)si->si_value.sival_ptr;
		} else if (si->si_code == SI_TIMER && si->si_value.sival_ptr == (void *)t) {
			seq = __atomic_exchange_n(&t->kick_seq, 0, __ATOMIC_SEQ_CST);
		} else {
			errno = saved_errno;
			rp_chain(sig, si, uc);
			return;
		}
		if (seq != 0 && fr != NULL && fr->slot != 0 && fr->seq == seq) {
			if (fr->active && t->locks != 0) {
				// In runplug code, on the plugin's behalf, that holds
				// a lock (or is inside glibc's dl_iterate_phdr or
				// malloc, see locks.h): interrupting it here would
				// leave the lock held. The last unlock interrupts.
				fr->pending = 1;
				t->deferred = 1;
			} else if (fr->active) {
				rp_trap(fr, RP_INTERRUPTED, sig, si, uc);
				errno = saved_errno;
				rp_uc_recover(uc, fr);
				return;
			} else {
				// In a callback into Go: interrupt when control
				// comes back (rp_callback_leave).
				fr->pending = 1;
			}
		} else if (seq != 0) {
			// A call whose plugin code is in a callback that made a
			// nested call: mark it for rp_callback_leave.
			for (struct rp_frame *f = t->outer; f != NULL; f = f->outer_next) {
				if (f->slot != 0 && f->seq == seq) {
					f->pending = 1;
					break;
				}
			}
		}
		// A signal for a call that already ended is dropped.
		errno = saved_errno;
		return;
	}
	if (fr != NULL && fr->active && rp_synchronous(sig, si)) {
		rp_trap(fr, RP_FAULT, sig, si, uc);
		errno = saved_errno;
		rp_uc_recover(uc, fr);
		return;
	}
	errno = saved_errno;
	rp_chain(sig, si, uc);
}

int rp_install(int intr_signo) {
	static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, 0};
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
	rp_gate_init();
	if (pthread_key_create(&rp_timer_key, rp_timer_exit) != 0) {
		return EAGAIN;
	}
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

// Gates.
//
// A gate lets Close wait for the calls in progress through it without an
// atomic read-modify-write per call (a shared counter would bounce its
// cache line between every calling core and cost a locked instruction on
// entry and exit). Each thread lists the gates of its calls in progress in
// its own TLS block (rp_call: plain stores gates[depth] = g, depth + 1,
// THEN a load of g->closing). The closer does the mirror image: it stores
// closing = 1, THEN scans every thread's list. On x86 either side's load
// may pass its own earlier store (store->load reordering), so on its own
// the scan could miss a thread that read closing == 0. The closer's
// membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) between its store and the
// scan runs a full barrier on every thread of the process: a thread that
// loaded closing == 0 before it has its slot stores visible to the scan,
// and a thread that loads closing after it sees 1. The calling side pays
// nothing for this; the (rare) closer pays one system call.
//
// Threads are found through a registry: a thread's first gated call adds
// its rp_self to a list under rp_reg_mu and sets a pthread key whose
// destructor takes it off at thread exit, so the scan, which holds the
// mutex, never reads the TLS of a thread that has gone.
//
// Without membarrier (ENOSYS on old kernels, EPERM under a seccomp
// policy, ...) rp_gate_fallback makes every gated call count itself in
// g->overflow with lock-prefixed instructions instead (full barriers, the
// old cost); the same happens when a thread is inside more than
// RP_GATE_SLOTS gated calls at once (nesting through callbacks).

// rp_gate_fallback: count every gated call in its gate's overflow.
__attribute__((visibility("hidden"))) int32_t rp_gate_fallback = 1;
static int rp_membarrier; // registered for MEMBARRIER_CMD_PRIVATE_EXPEDITED

static pthread_mutex_t rp_reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct rp_thread *rp_reg_head;
static pthread_key_t rp_reg_key;
static pthread_once_t rp_reg_once = PTHREAD_ONCE_INIT;

static void rp_reg_exit(void *p) {
	struct rp_thread *t = p;
	rp_mutex_lock(&rp_reg_mu);
	if (t->reg_prev != NULL) {
		t->reg_prev->reg_next = t->reg_next;
	} else {
		rp_reg_head = t->reg_next;
	}
	if (t->reg_next != NULL) {
		t->reg_next->reg_prev = t->reg_prev;
	}
	t->reg_next = t->reg_prev = NULL;
	t->registered = 0;
	rp_mutex_unlock(&rp_reg_mu);
}

static void rp_reg_init(void) {
	if (pthread_key_create(&rp_reg_key, rp_reg_exit) != 0) {
		abort(); // PTHREAD_KEYS_MAX keys in use: nothing sensible to do
	}
}

// rp_gate_register puts the calling thread on the registry (rp_call's slow
// path, once per thread).
void rp_gate_register(void) {
	struct rp_thread *t = &rp_self;
	pthread_once(&rp_reg_once, rp_reg_init);
	rp_mutex_lock(&rp_reg_mu);
	t->reg_prev = NULL;
	t->reg_next = rp_reg_head;
	if (rp_reg_head != NULL) {
		rp_reg_head->reg_prev = t;
	}
	rp_reg_head = t;
	t->registered = 1;
	rp_mutex_unlock(&rp_reg_mu);
	pthread_setspecific(rp_reg_key, t);
}

// rp_membarrier_early registers for expedited membarriers in a
// constructor, before the Go runtime starts its threads: in a process of
// one thread the kernel only sets a flag, while in a multi-threaded one it
// waits for an RCU grace period (milliseconds; 5-20 on a busy machine).
// rp_membarrier_at_ctor says it happened here (tests).
static int rp_membarrier_at_ctor;

__attribute__((constructor)) static void rp_membarrier_early(void) {
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0) {
		rp_membarrier = 1;
		rp_membarrier_at_ctor = 1;
	}
}

// rp_gate_init turns the membarrier scheme on (called by rp_install),
// registering now if the constructor could not; if that fails too gated
// calls use the overflow counter.
static void rp_gate_init(void) {
	if (!rp_membarrier && syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0) {
		rp_membarrier = 1;
	}
	if (rp_membarrier) {
		__atomic_store_n(&rp_gate_fallback, 0, __ATOMIC_SEQ_CST);
	}
}

int rp_gate_membarrier_ok(void) { return rp_membarrier; }
int rp_gate_membarrier_at_ctor(void) { return rp_membarrier_at_ctor; }

// rp_gate_set_fallback forces the overflow counter on (tests), or back off
// when membarrier is available. A call keeps the mode it entered with.
void rp_gate_set_fallback(int on) {
	__atomic_store_n(&rp_gate_fallback, on || !rp_membarrier, __ATOMIC_SEQ_CST);
}

// rp_gate_close_begin marks g closing; once it returns, every gated call
// that will still call its function is visible to rp_gate_busy. Returns 0
// or the errno of a failed membarrier.
int rp_gate_close_begin(uintptr_t gp) {
	struct rp_gate *g = (struct rp_gate *)gp;
	__atomic_store_n(&g->closing, 1, __ATOMIC_SEQ_CST); // xchg: a full barrier too
	// Always when registered, even with the fallback forced on: a call
	// that entered in slot mode before it was forced may still be running.
	if (rp_membarrier && syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0) {
		return errno;
	}
	return 0;
}

// rp_gate_busy reports whether a call through g is in progress on any
// thread: in some registered thread's gates[0, depth), or counted in the
// overflow.
int rp_gate_busy(uintptr_t gp) {
	struct rp_gate *g = (struct rp_gate *)gp;
	if (__atomic_load_n(&g->overflow, __ATOMIC_SEQ_CST) != 0) {
		return 1;
	}
	int busy = 0;
	rp_mutex_lock(&rp_reg_mu);
	for (struct rp_thread *t = rp_reg_head; t != NULL && !busy; t = t->reg_next) {
		int64_t n = __atomic_load_n(&t->depth, __ATOMIC_ACQUIRE);
		if (n > RP_GATE_SLOTS) {
			n = RP_GATE_SLOTS;
		}
		for (int64_t i = 0; i < n; i++) {
			if (__atomic_load_n(&t->gates[i], __ATOMIC_RELAXED) == (uint64_t)gp) {
				busy = 1;
				break;
			}
		}
	}
	rp_mutex_unlock(&rp_reg_mu);
	return busy;
}

// rp_gate_held_here reports whether the calling thread is itself inside a
// call through g (a host function closing its own plugin), from its
// gates[] and, for calls counted in a gate's overflow, its frames: the
// frames are cur and those on the outer chain, whose plugin code is in a
// callback into Go (the only place Go code can ask from inside a call).
int rp_gate_held_here(uintptr_t gp) {
	struct rp_thread *t = &rp_self;
	struct rp_frame *cur = t->cur;
	if (cur != NULL && cur->gslot == RP_GSLOT_OVERFLOW && cur->gate == (uint64_t)gp) {
		return 1;
	}
	for (struct rp_frame *f = t->outer; f != NULL; f = f->outer_next) {
		if (f->gslot == RP_GSLOT_OVERFLOW && f->gate == (uint64_t)gp) {
			return 1;
		}
	}
	int64_t n = t->depth;
	for (int64_t i = 0; i < n && i < RP_GATE_SLOTS; i++) {
		if (t->gates[i] == (uint64_t)gp) {
			return 1;
		}
	}
	return 0;
}

// rp_timer_make gives the thread its deadline timer: a POSIX timer whose
// signal (InterruptSignal, SI_TIMER, value t) goes to this thread. The
// kernel allocates a timer's signal when the timer is made, so firing it
// never fails for want of a queue slot, as rt_tgsigqueueinfo does once
// the user's RLIMIT_SIGPENDING is used up (by any of the user's
// processes). Made at the thread's first CallContext; deleted at its exit.
static void rp_timer_make(struct rp_thread *t) {
	struct sigevent sev;
	timer_t id;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = rp_intr_signo;
	sev.sigev_value.sival_ptr = t;
	sev._sigev_un._tid = t->tid;
	if (timer_create(CLOCK_MONOTONIC, &sev, &id) != 0) {
		t->has_timer = -1;
		return;
	}
	t->timer = id;
	t->has_timer = 1;
	pthread_setspecific(rp_timer_key, t);
}

static void rp_timer_exit(void *p) {
	struct rp_thread *t = p;
	if (t->has_timer == 1) {
		t->has_timer = 0;
		timer_delete(t->timer);
	}
}

// rp_slot_running reports whether slot's call has started and not ended.
int rp_slot_running(uintptr_t slotp) {
	return __atomic_load_n(&((struct rp_slot *)slotp)->state, __ATOMIC_SEQ_CST) == 1;
}

// rp_slot_begin publishes the thread and a fresh sequence number (returned)
// of a CallContext call in its slot and marks it running. rp_call then
// publishes its frame and only then reads cancel: with this seq_cst store and rp_interrupt's
// seq_cst store of cancel and load of state, either the call sees cancel
// or rp_interrupt sees it running and signals it (the signal then finds
// the frame, or, arriving before it, is dropped and the call sees cancel).
uint64_t rp_slot_begin(struct rp_slot *slot) {
	// Unique in the process, not just per thread: a signal that outlives
	// its call can never match a later call, even on a thread that reused
	// the tid of one that exited.
	static uint64_t rp_seq;
	struct rp_thread *t = &rp_self;
	if (t->tid == 0) {
		t->tid = (int32_t)syscall(SYS_gettid); // once per thread
		rp_timer_make(t);
	}
	uint64_t seq = __atomic_add_fetch(&rp_seq, 1, __ATOMIC_RELAXED);
	slot->tid = t->tid;
	slot->seq = seq;
	slot->thr = t;
	__atomic_store_n(&slot->state, 1, __ATOMIC_SEQ_CST);
	return seq;
}

void rp_slot_end(struct rp_slot *slot) { __atomic_store_n(&slot->state, 2, __ATOMIC_SEQ_CST); }

// rp_fill_result encodes what stopped a call (its frame) into its record.
// rp_locks_released is called by the last unlock of a thread whose
// deadline signal came while it held a lock (rp_handler): the call is
// interrupted now, where no lock is held, as rp_callback_leave does for a
// deadline that passed during a callback.
void rp_locks_released(void) {
	struct rp_thread *t = &rp_self;
	t->deferred = 0;
	struct rp_frame *fr = t->cur;
	if (fr != NULL && fr->active && fr->pending) {
		fr->active = 0;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		fr->status = RP_INTERRUPTED;
		fr->pc = (uint64_t)__builtin_return_address(0);
		rp_resume(fr);
	}
}

// rp_locks_at_recovery counts the recovered calls whose thread still held
// a runplug lock (locks.h): each is a lock that will never be released.
static uint64_t rp_locks_at_recovery;

uint64_t rp_locks_held_at_recovery(void) { return __atomic_load_n(&rp_locks_at_recovery, __ATOMIC_RELAXED); }

void rp_fill_result(struct rp_callrec *c, const struct rp_frame *fr) {
	if (fr->status != RP_CLOSED && rp_self.locks != 0) {
		__atomic_add_fetch(&rp_locks_at_recovery, 1, __ATOMIC_RELAXED);
	}
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	c->info = fr->status & 0xff;
	c->code = 0;
	c->a = 0;
	c->b = fr->pc;
	switch (fr->status) {
	case RP_FAULT:
		c->info |= (fr->signo & 0xff) << 8;
		c->code = fr->code;
		c->a = fr->addr;
		if (fr->addr < fr->fsp + page && fr->addr + 65536 >= fr->fsp) {
			c->info |= RP_NEAR_SP;
		}
		break;
	case RP_ABORTED:
		c->a = (uint64_t)fr->abort_code;
		break;
	}
}

uintptr_t rp_slot_new(void) { return (uintptr_t)calloc(1, sizeof(struct rp_slot)); }

void rp_slot_free(uintptr_t slot) { free((void *)slot); }

// rp_interrupt asks the thread running slot's call to stop: either the call
// has not started and will see cancel, or it runs and gets the deadline
// signal naming its sequence number (stale signals are dropped). It
// returns RP_INTR_SENT (also when there was nothing to send), or
// RP_INTR_TIMER when the signal could not be queued (EAGAIN: the user's
// RLIMIT_SIGPENDING is used up) and the thread's timer was fired
// instead, or -errno when no signal could be sent (the caller retries).
int rp_interrupt(uintptr_t slotp) {
	struct rp_slot *slot = (struct rp_slot *)slotp;
	__atomic_store_n(&slot->cancel, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&slot->state, __ATOMIC_SEQ_CST) != 1) {
		return RP_INTR_SENT;
	}
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_signo = rp_intr_signo;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_ptr = (void *)(uintptr_t)slot->seq;
	if (syscall(SYS_rt_tgsigqueueinfo, getpid(), slot->tid, rp_intr_signo, &si) == 0) {
		return RP_INTR_SENT;
	}
	int err = errno;
	// The thread is inside the call (state 1; the caller waits for us
	// before it frees the slot), so slot->thr is its live rp_self.
	struct rp_thread *t = slot->thr;
	if (err != EAGAIN || t == NULL || t->has_timer != 1) {
		return -err;
	}
	__atomic_store_n(&t->kick_seq, slot->seq, __ATOMIC_SEQ_CST);
	struct itimerspec its;
	memset(&its, 0, sizeof its);
	its.it_value.tv_nsec = 1; // now
	if (timer_settime((timer_t)t->timer, 0, &its, NULL) != 0) {
		return -errno;
	}
	return RP_INTR_TIMER;
}

// The value rp_callback_enter returns: bit 0 the frame's active flag, bit 1
// set when a frame was pushed on the outer chain.
#define RP_CB_PUSHED 2

// The runtime's stack top of the goroutine this thread runs C code for
// (g.m.curg.stack.hi): what cgo's own wrappers use to find their
// argument frame again after a call that may have called back into Go.
extern char *_cgo_topofstack(void);

int32_t rp_callback_enter(void) {
	struct rp_thread *t = &rp_self;
	struct rp_frame *fr = t->cur;
	if (fr == NULL) {
		return 0;
	}
	fr->gotop = (uint64_t)_cgo_topofstack();
	int32_t saved = fr->active | RP_CB_PUSHED;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	fr->active = 0;
	fr->outer_next = t->outer;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	t->outer = fr;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return saved;
}

// rp_leave_hook, when set (only by the package's tests, see
// rp_fixture_leave_hook_arm), is called at each step of rp_callback_leave
// at which a deadline signal once could be lost, so that a test can send
// one exactly there.
static void (*volatile rp_leave_hook)(int step, struct rp_frame *fr);

void rp_callback_leave(int32_t saved) {
	struct rp_thread *t = &rp_self;
	if (!(saved & RP_CB_PUSHED)) {
		return;
	}
	struct rp_frame *fr = t->outer;
	// The Go code ran on the goroutine's stack, which may have grown and
	// moved to a new stack, with everything on it at the same distance
	// from its top: so has the call's record.
	fr->result += (uint64_t)_cgo_topofstack() - fr->gotop;
	// The order makes a deadline signal for fr's call impossible to lose:
	// fr becomes cur before it leaves the outer chain (a nested call in
	// the callback left cur NULL, and the handler looks at cur, then the
	// chain), so the handler finds it at every instant; and active is set
	// before pending is read for the last time, so the signal either
	// traps the call itself (active) or sets pending, which is read after.
	t->cur = fr;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (rp_leave_hook != NULL) {
		rp_leave_hook(1, fr);
	}
	t->outer = fr->outer_next;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (rp_leave_hook != NULL) {
		rp_leave_hook(2, fr);
	}
	fr->active = saved & 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (rp_leave_hook != NULL) {
		rp_leave_hook(3, fr);
	}
	if ((saved & 1) && fr->pending) {
		fr->active = 0;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		fr->status = RP_INTERRUPTED;
		fr->pc = (uint64_t)__builtin_return_address(0);
		rp_resume(fr);
	}
}

// rp_outer_pending reports, from a callback into Go, whether a deadline
// signal has marked the protected call that made the callback (the head
// of the thread's outer chain): 1 or 0, -1 when there is no such call.
int32_t rp_outer_pending(void) {
	struct rp_frame *fr = rp_self.outer;
	return fr != NULL ? fr->pending : -1;
}

void rp_abort_current(int64_t code) {
	struct rp_frame *fr = rp_self.cur;
	if (fr == NULL) {
		abort(); // not inside a protected call: nothing to unwind to
	}
	fr->active = 0;
	fr->status = RP_ABORTED;
	fr->abort_code = code;
	fr->pc = (uint64_t)__builtin_return_address(0);
	rp_resume(fr);
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
	int64_t before = rp_self.cur->active;
	int32_t saved = rp_callback_enter();
	int64_t during = rp_self.cur->active;
	rp_callback_leave(saved);
	int64_t after = rp_self.cur->active;
	return before | during << 8 | after << 16;
}

uint64_t rp_fixture_callback_state_addr(void) { return (uint64_t)&rp_fixture_callback_state; }

// rp_fixture_leave_hook_arm makes the next rp_callback_leave of a
// CallContext call send that call's deadline signal at its step `step`
// (1 to 3, see rp_callback_leave), once. 0 disarms.
static volatile int rp_fixture_leave_step;

static void rp_fixture_leave_hook(int step, struct rp_frame *fr) {
	if (fr->slot != 0 && __atomic_compare_exchange_n(&rp_fixture_leave_step, &step, 0, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
		rp_interrupt(fr->slot); // to this thread: delivered before the system call returns
	}
}

void rp_fixture_leave_hook_arm(int step) {
	rp_fixture_leave_step = step;
	rp_leave_hook = step != 0 ? rp_fixture_leave_hook : NULL;
}

// rp_fixture_callback_then_spin calls the callback fn, then spins until
// its deadline interrupts it, or until rp_fixture_spin_stop (a test's
// watchdog: the deadline was lost) makes it return -1.
static volatile int rp_fixture_spin_stopped;

static int64_t rp_fixture_callback_then_spin(uint64_t fn) {
	((void (*)(void))fn)();
	while (!rp_fixture_spin_stopped) {
	}
	return -1;
}

uint64_t rp_fixture_callback_then_spin_addr(void) {
	rp_fixture_spin_stopped = 0;
	return (uint64_t)&rp_fixture_callback_then_spin;
}

void rp_fixture_spin_stop(void) { rp_fixture_spin_stopped = 1; }

// rp_fixture_fault_holding lets a test check the lock check: it counts a
// lock as held (none is) and faults; rp_fixture_unhold undoes both.
static int64_t rp_fixture_fault_holding(void) {
	rp_self.locks++;
	*(volatile int *)0 = 1;
	return 0;
}

uint64_t rp_fixture_fault_holding_addr(void) { return (uint64_t)&rp_fixture_fault_holding; }

void rp_fixture_unhold(void) {
	rp_self.locks--;
	__atomic_sub_fetch(&rp_locks_at_recovery, 1, __ATOMIC_RELAXED);
}

// rp_fixture_lock_spin takes a runplug lock and spins until a deadline
// signal has come and been deferred, then unlocks: the interrupt must
// come at that unlock, not inside. rp_fixture_lock_free reports whether
// the lock is free.
static pthread_mutex_t rp_fixture_mu = PTHREAD_MUTEX_INITIALIZER;

static int64_t rp_fixture_lock_spin(void) {
	rp_mutex_lock(&rp_fixture_mu);
	while (!rp_self.deferred) {
		__asm__ volatile("" ::: "memory");
	}
	rp_mutex_unlock(&rp_fixture_mu);
	return -1; // not reached: the unlock interrupts the call
}

uint64_t rp_fixture_lock_spin_addr(void) { return (uint64_t)&rp_fixture_lock_spin; }

int rp_fixture_lock_free(void) {
	if (pthread_mutex_trylock(&rp_fixture_mu) != 0) {
		return 0;
	}
	pthread_mutex_unlock(&rp_fixture_mu);
	return 1;
}
