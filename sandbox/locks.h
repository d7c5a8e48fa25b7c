// locks.h: the package's C locks, counted per thread.
//
// No runplug lock may be held while plugin code runs: a fault or a
// deadline in that code unwinds straight to rp_call, past every frame in
// between, and a lock taken in one of those frames would never be
// released (the next Load or Close that wants it would wait forever).
// So the C code takes its locks only through these wrappers, which count
// the locks the calling thread holds (rp_self.locks), and rp_fill_result,
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

static inline void rp_mutex_lock(pthread_mutex_t *m) {
	pthread_mutex_lock(m);
	rp_self.locks++;
}

static inline void rp_mutex_unlock(pthread_mutex_t *m) {
	rp_self.locks--;
	pthread_mutex_unlock(m);
}

static inline void rp_rdlock(pthread_rwlock_t *l) {
	pthread_rwlock_rdlock(l);
	rp_self.locks++;
}

static inline void rp_wrlock(pthread_rwlock_t *l) {
	pthread_rwlock_wrlock(l);
	rp_self.locks++;
}

static inline void rp_rwunlock(pthread_rwlock_t *l) {
	rp_self.locks--;
	pthread_rwlock_unlock(l);
}

#endif // RUNPLUG_LOCKS_H
