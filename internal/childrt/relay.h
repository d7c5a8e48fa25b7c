// relay.h: the hand-off of RelayForeignThreads (relay.c, relay_cgo.go).
#ifndef RP_RELAY_H
#define RP_RELAY_H

#include <stdint.h>

#include "callback.h"

// RP_RELAY_SLOTS is the most relays (Go threads), so of callbacks from
// native threads that run at once; RP_RELAY_FIRST start at once, and one
// more each time a caller finds all started ones busy (rp_relay_want).
#define RP_RELAY_SLOTS 64
#define RP_RELAY_FIRST 4

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

// rp_relay_started is the number of relays serving (the first ones of
// rp_relays; raised by the Go side, relay_cgo.go). rp_relay_want is
// bumped (and woken) by a caller that found all of them busy: the Go
// side starts one more, up to RP_RELAY_SLOTS. rp_relay_freed is bumped
// (and woken) each time a slot frees or a relay starts.
extern uint32_t rp_relay_started;
extern uint32_t rp_relay_want;
extern uint32_t rp_relay_freed;

void rp_relay_start(void);

#endif
