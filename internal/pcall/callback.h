// callback.h: the frame a host callback's entry (callback_amd64.S) builds
// on its stack and hands to Go (callback.c, callback_cgo.go).

#ifndef RUNPLUG_CALLBACK_H
#define RUNPLUG_CALLBACK_H

#include "sandbox.h"

// Offsets into struct rp_cbframe (checked in callback.c, and against the
// Go type cbFrame in callback_cgo.go).
#define RP_CB_MORE 112
#ifdef __aarch64__
#define RP_CB_MOREWORDS 12 // x6, x7, x8, padding, then the high halves of v0-v7
#define RP_CB_VHI (RP_CB_MORE + 32)
#else
#define RP_CB_MOREWORDS 0
#endif
#define RP_CB_ID (112 + 8 * RP_CB_MOREWORDS)
#define RP_CB_INCALL (RP_CB_ID + 4)
#define RP_CB_DONE (RP_CB_ID + 5)
#define RP_CB_CODE (RP_CB_ID + 8)
#define RP_CB_SIZE (RP_CB_ID + 16)

#ifndef __ASSEMBLER__

// struct rp_cbframe is the bottom of a callback entry's stack frame: the
// caller's argument registers, which the Go function reads and whose
// first ones it overwrites with the result registers, the thunk's id, and
// what the Go side returns. The Go type cbFrame has the same layout.
struct rp_cbframe {
	struct rp_args a; // in: the argument registers; out: rax, rdx in i[0], i[1], xmm0, xmm1 in f[0], f[1]
	                  // (arm64: x0, x1, and d0-d3 in f[0..3])
#if RP_CB_MOREWORDS > 0
	uint64_t more[RP_CB_MOREWORDS]; // arm64: x6, x7, x8 in; from more[4] the high
	                                // halves of v0-v7 in and of v0-v3 out (long doubles)
#endif
	uint32_t id;      // the callback's thunk id
	uint8_t incall;   // 1 inside a protected call (set by rp_cb_c)
	uint8_t done;     // 0; the Go side's (its panic guard's flag)
	uint16_t pad;
	int64_t code;     // out: 0, or the abort code of a failure when incall
};

// rp_foreign_fwd is read by rp_cb_entry on a thread native code created:
// NULL (run the Go dispatcher on the calling thread) until package child's
// relay sets it (relay.c, rp_relay_start) to hand the call to a Go thread.
extern void (*rp_foreign_fwd)(struct rp_cbframe *);

#endif
#endif
