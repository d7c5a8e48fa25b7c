// relay.h: the hand-off of RelayForeignThreads (relay.c, relay_cgo.go).
#ifndef RP_RELAY_H
#define RP_RELAY_H

#include <stdint.h>

#include "callback.h"

// RP_RELAY_SLOTS is the number of relays (Go threads), so of callbacks
// from native threads that run at once.
#define RP_RELAY_SLOTS 4

// struct rp_relay is a relay's slot: busy while a caller holds it; req is
// bumped by the caller once f is set, done by the relay once f holds the
// result. req and done are futex words (private: one process).
struct rp_relay {
	uint32_t req;
	uint32_t done;
	uint32_t busy;
	uint32_t pad;
	struct rp_cbframe *f;
};

extern struct rp_relay rp_relays[RP_RELAY_SLOTS];

void rp_relay_start(void);

#endif
