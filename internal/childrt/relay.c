//go:build linux && (amd64 || arm64) && cgo

// relay.c: the C half of RelayForeignThreads (relay_cgo.go). Once the
// relays serve, a callback that native code calls outside any protected
// call (rp_cb_entry's cur == NULL path, callback_amd64.S and
// callback_arm64.S) is not run on the calling thread: rp_relay_forward
// hands it to a free relay (a Go thread each) and waits. A slot is one call at a time: the caller's
// frame (struct rp_cbframe) stays on its own stack, which the relay reads
// and writes meanwhile. Several slots, so that a callback whose Go code
// makes the plugin wait for another thread's callback (a host function
// that calls the plugin, which joins a thread that calls back) finds a
// relay free; with every started slot busy a caller asks the Go side for
// one more (up to RP_RELAY_SLOTS: such waits nest as deep as that) and
// waits for a slot to free or start.

#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "relay.h"

struct rp_relay rp_relays[RP_RELAY_SLOTS];

uint32_t rp_relay_started;
uint32_t rp_relay_want;
uint32_t rp_relay_freed;

static void futex_wait(uint32_t *w, uint32_t v) { syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0); }
static void futex_wake(uint32_t *w, int n) { syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0); }

static void rp_relay_forward(struct rp_cbframe *f) {
	for (;;) {
		uint32_t freed = __atomic_load_n(&rp_relay_freed, __ATOMIC_ACQUIRE);
		uint32_t started = __atomic_load_n(&rp_relay_started, __ATOMIC_ACQUIRE);
		for (uint32_t i = 0; i < started && i < RP_RELAY_SLOTS; i++) {
			struct rp_relay *r = &rp_relays[i];
			uint32_t idle = 0;
			if (!__atomic_compare_exchange_n(&r->busy, &idle, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
				continue;
			}
			r->f = f;
			uint32_t d = __atomic_load_n(&r->done, __ATOMIC_ACQUIRE);
			__atomic_add_fetch(&r->req, 1, __ATOMIC_SEQ_CST);
			futex_wake(&r->req, 1);
			while (__atomic_load_n(&r->done, __ATOMIC_ACQUIRE) == d) {
				futex_wait(&r->done, d);
			}
			__atomic_store_n(&r->busy, 0, __ATOMIC_RELEASE);
			__atomic_add_fetch(&rp_relay_freed, 1, __ATOMIC_SEQ_CST);
			futex_wake(&rp_relay_freed, 1);
			return;
		}
		// All busy (one may wait for a callback this caller will make:
		// a host function that calls the plugin, which joins a thread
		// that calls back): ask for one more relay, then wait for a slot.
		if (started < RP_RELAY_SLOTS) {
			__atomic_add_fetch(&rp_relay_want, 1, __ATOMIC_SEQ_CST);
			futex_wake(&rp_relay_want, 1);
		}
		futex_wait(&rp_relay_freed, freed);
	}
}

void rp_relay_start(void) { __atomic_store_n(&rp_foreign_fwd, rp_relay_forward, __ATOMIC_RELEASE); }
