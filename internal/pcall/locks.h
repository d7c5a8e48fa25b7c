// locks.h: the package's C locks, counted per thread.
//
// No runplug lock may be held while plugin code runs: a fault or a
// deadline in that code unwinds straight to rp_call, past every frame in
// between, and a lock taken in one of those frames would never be
// released (the next Load or Close that wants it would wait forever).
// So the C code takes its locks only through these wrappers, which count
// the locks the calling thread holds (rp_self.locks); a deadline signal
// that comes while that count is not 0 waits for the last unlock
// (rp_handler defers it, rp_unhold delivers it); and rp_fill_result,
// the one place every recovered fault, deadline and abort passes through,
// counts the recoveries that found a lock still held
// (rp_locks_at_recovery). The package's tests fail when that count is not
// 0 (sandbox.LocksHeldAtRecovery): a future lock held across plugin code
// is caught by the first test that faults or times out under it.

#ifndef RUNPLUG_LOCKS_H
#define RUNPLUG_LOCKS_H

#include <pthread.h>

#include "sandbox.h"

extern __thread struct rp_thread rp_self __attribute__((visibility("hidden"), tls_model("initial-exec")));

void rp_locks_released(void);

// rp_hold counts a lock as held before it is taken (a deadline signal
// from then on waits: the signal handler defers it while the count is not
// 0); rp_unhold, after it is released, interrupts the call if a deadline
// was deferred meanwhile. Also used around glibc functions that take
// glibc's own locks (dl_iterate_phdr, dladdr, malloc on the TLS slow
// path) when runplug calls them on plugin code's behalf.
static inline void rp_hold(void) {
	rp_self.locks++;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

static inline void rp_unhold(void) {
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (--rp_self.locks == 0) {
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		if (rp_self.deferred) {
			rp_locks_released();
		}
	}
}

static inline void rp_mutex_lock(pthread_mutex_t *m) {
	rp_hold();
	pthread_mutex_lock(m);
}

static inline void rp_mutex_unlock(pthread_mutex_t *m) {
	pthread_mutex_unlock(m);
	rp_unhold();
}

static inline void rp_rdlock(pthread_rwlock_t *l) {
	rp_hold();
	pthread_rwlock_rdlock(l);
}

static inline void rp_wrlock(pthread_rwlock_t *l) {
	rp_hold();
	pthread_rwlock_wrlock(l);
}

static inline void rp_rwunlock(pthread_rwlock_t *l) {
	pthread_rwlock_unlock(l);
	rp_unhold();
}

#endif // RUNPLUG_LOCKS_H
