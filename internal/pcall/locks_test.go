//go:build linux && amd64 && cgo

package pcall

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
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

// A deadline that comes while runplug code holds a lock on the plugin's
// behalf is deferred to the unlock: the call ends with ErrDeadline and
// the lock is free (interrupted inside, it would be held for good).
func TestDeadlineDeferredWhileLockHeld(t *testing.T) {
	before := LocksHeldAtRecovery()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	r, err := CallContext(ctx, fixtureLockSpin(), nil)
	if !errors.Is(err, ErrDeadline) {
		t.Fatalf("call holding a lock: %d, %v; want ErrDeadline", r.Int, err)
	}
	if !fixtureLockFree() {
		t.Fatal("the lock is still held after the deadline")
	}
	if n := LocksHeldAtRecovery(); n != before {
		t.Fatalf("LocksHeldAtRecovery went from %d to %d", before, n)
	}
}
