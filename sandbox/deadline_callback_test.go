package sandbox

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestDeadlineDuringCallback: a deadline that passes while plugin code is
// in a callback into Go does not interrupt the Go code; the protected call
// ends with ErrDeadline as soon as the callback returns to the plugin. The
// callback makes nested protected calls meanwhile, so the deadline signal
// also arrives while the outer frame is on the thread's outer chain.
func TestDeadlineDuringCallback(t *testing.T) {
	tests := []struct {
		name   string
		nested bool
	}{
		{"sleeping callback", false},
		{"callback making nested calls", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var finished atomic.Bool
			cb, err := NewCallback("slow", func(a *Args) Result {
				end := time.Now().Add(60 * time.Millisecond)
				for time.Now().Before(end) {
					if !tt.nested {
						time.Sleep(time.Millisecond)
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
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
			defer cancel()
			// rp_cbfix_int(fn, ...) calls fn from C: plugin code calling back.
			_, err = CallContext(ctx, fixtureCallbackInt(), &Args{Int: [6]uint64{uint64(cb.Addr())}})
			if !errors.Is(err, ErrDeadline) || !errors.Is(err, context.DeadlineExceeded) {
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
