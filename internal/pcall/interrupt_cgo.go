//go:build linux && (amd64 || arm64) && cgo

package pcall

/*
#include "sandbox.h"
*/
import "C"

import (
	"sync/atomic"
	"time"
)

// Deadline signals that could not be sent at once (see interrupt).
var (
	intrTimer  atomic.Uint64 // sent by the target thread's timer instead of the queue
	intrRetry  atomic.Uint64 // not sent: tried again
	intrQueued atomic.Uint64 // queued at once
)

// interruptRetryMax bounds the pause between two tries of a deadline
// signal that could not be sent.
const interruptRetryMax = 50 * time.Millisecond

// interrupt interrupts the call of slot (rp_interrupt), and does not give
// up: a signal the kernel refused to queue (EAGAIN once the user's
// RLIMIT_SIGPENDING is used up, by any of the user's processes) goes by
// the thread's own timer, whose signal the kernel allocated in advance;
// and when even that is unavailable (a thread that began its first
// deadline call with the limit already used up) it is tried again, with
// growing pauses, for as long as the call runs. The caller waits for
// interrupt to return before it frees the slot.
func interrupt(slot C.uintptr_t) {
	wait := time.Millisecond
	for {
		switch rc := C.rp_interrupt(slot); {
		case rc == C.RP_INTR_SENT:
			intrQueued.Add(1)
			return
		case rc == C.RP_INTR_TIMER:
			intrTimer.Add(1)
			return
		}
		intrRetry.Add(1)
		if C.rp_slot_running(slot) == 0 {
			return
		}
		time.Sleep(wait)
		wait = min(2*wait, interruptRetryMax)
	}
}

// interruptStats reports how the deadline signals of this process were
// sent so far: queued at once, sent by the target thread's timer because
// the kernel refused to queue them (RLIMIT_SIGPENDING used up), and tries
// that failed and were made again. A host that sees timer or retries grow
// shares its user's signal queue limit with something that exhausts it.
func interruptStats() (queued, timer, retries uint64) {
	return intrQueued.Load(), intrTimer.Load(), intrRetry.Load()
}

// LocksHeldAtRecovery returns how many recovered faults, deadlines and
// aborts so far found their thread holding one of runplug's C locks: each
// is a lock that will never be released (the code that would have
// released it was unwound), so the next operation that wants it hangs.
// Always 0 unless runplug has a bug; the package tests check it.
func LocksHeldAtRecovery() uint64 { return uint64(C.rp_locks_held_at_recovery()) }
