//go:build linux && amd64 && cgo

package sandbox

import (
	"errors"
	"runtime"
	"testing"
)

// The recovery path notices a fault that leaves a runplug lock held (the
// debug check of locks.h that TestMain turns into a failure).
func TestLocksHeldAtRecovery(t *testing.T) {
	runtime.LockOSThread() // fixtureUnhold must run on the faulting thread
	defer runtime.UnlockOSThread()
	before := LocksHeldAtRecovery()
	_, err := Call(fixtureFaultHolding(), nil)
	var fe *FaultError
	if !errors.As(err, &fe) {
		t.Fatalf("fault holding a lock: err = %v, want a fault", err)
	}
	after := LocksHeldAtRecovery()
	fixtureUnhold()
	if after != before+1 {
		t.Fatalf("LocksHeldAtRecovery went from %d to %d, want one more", before, after)
	}
	if n := LocksHeldAtRecovery(); n != before {
		t.Fatalf("after the fixture undid itself: %d, want %d", n, before)
	}
}
