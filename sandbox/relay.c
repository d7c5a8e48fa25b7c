//go:build linux && amd64 && cgo

// relay.c: the C half of RelayForeignThreads (relay_cgo.go). Once a relay
// serves, a callback that native code calls outside any protected call
// (rp_cb_entry's cur == NULL path, callback_amd64.S) is not run on the
// calling thread: rp_relay_forward hands it to the relay's Go thread and
// waits. One call at a time (relay_mu): the caller's frame (struct
// rp_cbframe) stays on its own stack, which the relay reads and writes
// meanwhile.

#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "relay.h"

// rp_foreign_fwd is read by rp_cb_entry: NULL (run the Go dispatcher on
// the calling thread) until rp_relay_start.
void (*rp_foreign_fwd)(struct rp_cbframe *) __attribute__((visibility("hidden")));

struct rp_relay rp_relay;

static pthread_mutex_t relay_mu = PTHREAD_MUTEX_INITIALIZER;

static void rp_relay_forward(struct rp_cbframe *f) {
	pthread_mutex_lock(&relay_mu);
	rp_relay.f = f;
	uint32_t d = __atomic_load_n(&rp_relay.done, __ATOMIC_ACQUIRE);
	__atomic_add_fetch(&rp_relay.req, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &rp_relay.req, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	while (__atomic_load_n(&rp_relay.done, __ATOMIC_ACQUIRE) == d) {
		syscall(SYS_futex, &rp_relay.done, FUTEX_WAIT_PRIVATE, d, NULL, NULL, 0);
	}
	pthread_mutex_unlock(&relay_mu);
}

void rp_relay_start(void) { __atomic_store_n(&rp_foreign_fwd, rp_relay_forward, __ATOMIC_RELEASE); }
