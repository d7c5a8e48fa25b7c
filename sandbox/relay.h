// relay.h: the hand-off of RelayForeignThreads (relay.c, relay_cgo.go).
#ifndef RP_RELAY_H
#define RP_RELAY_H

#include <stdint.h>

#include "callback.h"

// struct rp_relay is one call handed to the relay: req is bumped by the
// caller once f is set, done by the relay once f holds the result. Both
// are futex words (private: one process).
struct rp_relay {
	uint32_t req;
	uint32_t done;
	struct rp_cbframe *f;
};

extern struct rp_relay rp_relay;

void rp_relay_start(void);

#endif
