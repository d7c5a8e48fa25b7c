package pcall

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestDeadlineDuringCallback: a deadline that passes while plugin code is
// in a callback into Go does not interrupt the Go code; the protected call
// ends with ErrDeadline as soon as the callback returns to the plugin. The
// callback ends the call's context itself and runs until the signal has
// marked the call (a handshake, not a duration: a timer could fire before
// the call started under qemu-user), making nested protected calls
// meanwhile in one case, so the signal also arrives while the outer frame
// is on the thread's outer chain.
func TestDeadlineDuringCallback(t *testing.T) {
	needCallbacks(t)
	tests := []struct {
		name   string
		nested bool
	}{
		{"waiting callback", false},
		{"callback making nested calls", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var finished atomic.Bool
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cb, err := NewCallback("slow", func(a *Args) Result {
				cancel()
				// A watchdog, not a window: a lost signal fails the test
				// after a minute instead of hanging it.
				giveUp := time.Now().Add(time.Minute)
				for fixtureOuterPending() != 1 && time.Now().Before(giveUp) {
					if !tt.nested {
						runtime.Gosched()
						continue
					}
					r, err := Call(fixtureAdd(), &Args{Int: [6]uint64{2, 3}})
					if err != nil || r.Int != 5 {
						panic("nested call failed")
					}
				}
				finished.Store(true)
				return Result{Int: 7}
			})
			if err != nil {
				t.Fatal(err)
			}
			defer cb.Free()
			// rp_cbfix_int(fn, ...) calls fn from C: plugin code calling back.
			_, err = CallContext(ctx, fixtureCallbackInt(), &Args{Int: [6]uint64{uint64(cb.Addr())}})
			if !errors.Is(err, ErrDeadline) || !errors.Is(err, context.Canceled) {
				t.Fatalf("CallContext error = %v, want ErrDeadline", err)
			}
			if !finished.Load() {
				t.Error("the Go callback was cut short")
			}
			if r, err := Call(fixtureAdd(), &Args{Int: [6]uint64{1, 1}}); err != nil || r.Int != 2 {
				t.Fatalf("call afterwards = %d, %v", r.Int, err)
			}
		})
	}
}

// TestDeadlineNeverLostLeavingCallback sends a call's deadline signal at
// each step of rp_callback_leave after a callback that made a nested
// protected call (which leaves the thread's cur NULL until the outer frame
// is made cur again): the call must end with ErrDeadline. The plugin code
// after the callback spins until interrupted, so a lost signal would spin
// for ever; a watchdog ends the spin (and fails the test) after a minute.
func TestDeadlineNeverLostLeavingCallback(t *testing.T) {
	needCallbacks(t)
	for step := 1; step <= 3; step++ {
		t.Run(fmt.Sprintf("step %d", step), func(t *testing.T) {
			cb, err := NewCallback("nested", func(a *Args) Result {
				if r, err := Call(fixtureAdd(), &Args{Int: [6]uint64{2, 3}}); err != nil || r.Int != 5 {
					panic("nested call failed")
				}
				fixtureLeaveHookArm(step)
				return Result{}
			})
			if err != nil {
				t.Fatal(err)
			}
			defer cb.Free()
			defer fixtureLeaveHookArm(0)
			fn := fixtureCallbackThenSpin()
			watchdog := time.AfterFunc(time.Minute, fixtureSpinStop)
			defer watchdog.Stop()
			// The context is never done: the hook sends the signal.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r, err := CallContext(ctx, fn, &Args{Int: [6]uint64{uint64(cb.Addr())}})
			if !errors.Is(err, ErrDeadline) {
				t.Fatalf("CallContext = %#x, %v; want ErrDeadline (the signal sent at step %d was lost)", r.Int, err, step)
			}
			if r, err := Call(fixtureAdd(), &Args{Int: [6]uint64{1, 1}}); err != nil || r.Int != 2 {
				t.Fatalf("call afterwards = %d, %v", r.Int, err)
			}
		})
	}
}
