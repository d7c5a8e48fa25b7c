// relay.h: the hand-off of RelayForeignThreads (relay.c, relay_cgo.go).
#ifndef RP_RELAY_H
#define RP_RELAY_H

#include <stdint.h>

#include "sandbox.h"

// struct rp_relay is one call handed to the relay: req is bumped by the
// caller once id and a are set, done by the relay once a holds the
// result. Both are futex words (private: one process).
struct rp_relay {
	uint32_t req;
	uint32_t done;
	uint32_t id;
	uint32_t pad;
	struct rp_args *a;
};

extern struct rp_relay rp_relay;

void rp_relay_start(void);

#endif
