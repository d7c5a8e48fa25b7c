// listen.h: the child's half of the seccomp listener handshake
// (listen.c, listen_cgo.go; the host's half is package isolate's
// listen.go).

#ifndef RP_LISTEN_H
#define RP_LISTEN_H

#include <stdint.h>

// The handshake's states, in the shared word.
enum {
	RP_LISTEN_NONE,      // nothing yet
	RP_LISTEN_OFFERED,   // child: the listener is its descriptor *fdword
	RP_LISTEN_TAKEN,     // host: it holds a copy; the child closes its own
	RP_LISTEN_REFUSED,   // host: it cannot take one
	RP_LISTEN_NOKERNEL,  // child: the kernel refused a listener (*fdword: errno)
	RP_LISTEN_WITHDRAWN, // child: it waited in vain
	RP_LISTEN_GONE,      // host: the child ended
};

// rp_offer_listener's answer when the host had said before the offer
// that it cannot take a listener.
#define RP_OFFER_HOST_REFUSED (-100000)

int rp_offer_listener(const void *filter, unsigned short len, uint32_t *state, int32_t *fdword, uint32_t *also);
int rp_await_listener(int fd, uint32_t *state, int64_t timeout_ns);

#endif
