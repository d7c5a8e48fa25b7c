package pcall

import (
	"errors"
	"testing"
	"unsafe"
)

// growStack recurses through n frames of 1 KiB each, so that a goroutine
// that starts with a small stack has it copied to a larger one.
//
//go:noinline
func growStack(n int) int {
	var buf [1024]byte
	buf[n%len(buf)] = byte(n)
	if n == 0 {
		return int(buf[0])
	}
	return growStack(n-1) + int(buf[n%len(buf)])
}

// TestCallbackMovesStack runs protected calls whose host callback grows,
// and so moves, the calling goroutine's stack: the call record that
// rp_call writes its outcome to lives on that stack, and must be found at
// its new address (rp_callback_leave) on every way out.
func TestCallbackMovesStack(t *testing.T) {
	needCallbacks(t)
	g := NewGate()
	tests := []struct {
		name  string
		fn    func(*Args) Result
		float bool
		check func(t *testing.T, r Result, err error)
	}{
		{"int result", func(a *Args) Result {
			growStack(64)
			return Result{Int: a.Int[0] + 1000}
		}, false, func(t *testing.T, r Result, err error) {
			if err != nil || r.Int != 1001 {
				t.Errorf("got %d, %v; want 1001", r.Int, err)
			}
		}},
		{"float result", func(a *Args) Result {
			growStack(64)
			return Result{Float: a.Float[0] * 4}
		}, true, func(t *testing.T, r Result, err error) {
			if err != nil || r.Float != 2 {
				t.Errorf("got %v, %v; want 2", r.Float, err)
			}
		}},
		{"nested gated call", func(a *Args) Result {
			growStack(64)
			r, err := g.Call(fixtureAdd(), &Args{Int: [6]uint64{a.Int[0], 41}})
			if err != nil {
				panic(err)
			}
			growStack(128)
			return r
		}, false, func(t *testing.T, r Result, err error) {
			if err != nil || r.Int != 42 {
				t.Errorf("got %d, %v; want 42", r.Int, err)
			}
		}},
		{"panic after growing", func(*Args) Result {
			growStack(64)
			panic("after the move")
		}, false, func(t *testing.T, r Result, err error) {
			var e *HostPanicError
			if !errors.As(err, &e) || e.Value != "after the move" {
				t.Errorf("err = %v, want the host panic", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCB(t, "grow", tt.fn)
			fixture := fixtureCallbackInt()
			if tt.float {
				fixture = fixtureCallbackFloat()
			}
			type outcome struct {
				r     Result
				err   error
				moved bool
			}
			done := make(chan outcome)
			go func() { // a fresh goroutine: a small stack that must grow
				var marker int
				before := uintptr(unsafe.Pointer(&marker))
				a := Args{Int: [6]uint64{uint64(c.Addr()), 1}, Float: [8]float64{0.5}}
				r, err := g.Call(fixture, &a)
				moved := uintptr(unsafe.Pointer(&marker)) != before
				done <- outcome{r, err, moved}
			}()
			o := <-done
			if !o.moved {
				t.Fatal("the goroutine's stack did not move: the test proves nothing")
			}
			tt.check(t, o.r, o.err)
		})
	}
}
