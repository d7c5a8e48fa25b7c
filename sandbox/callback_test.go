package sandbox

import (
	"errors"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// cbArgs is the Args of a fixture call that calls fn(a..e, 6, x0..x7).
func cbArgs(fn uintptr, ints [5]int64, floats [8]float64) *Args {
	a := &Args{Int: [6]uint64{uint64(fn)}, Float: floats}
	for i, v := range ints {
		a.Int[i+1] = uint64(v)
	}
	return a
}

func newCB(t *testing.T, name string, fn func(*Args) Result) *Callback {
	t.Helper()
	c, err := NewCallback(name, fn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Free)
	return c
}

func TestCallbackArgsAndResults(t *testing.T) {
	var got Args
	c := newCB(t, "record", func(a *Args) Result {
		got = *a
		var sum uint64
		for _, v := range a.Int {
			sum += v
		}
		var fsum float64
		for _, v := range a.Float {
			fsum += v
		}
		return Result{Int: sum, Float: fsum}
	})
	floats := [8]float64{0.5, 1, 2, 4, 8, 16, 32, 64}
	tests := []struct {
		name    string
		fixture uintptr
		ints    [5]int64
		float   bool
		want    uint64
		wantF   float64
	}{
		{"int result", fixtureCallbackInt(), [5]int64{1, 2, 3, 4, 5}, false, 21, 0},
		{"negative ints", fixtureCallbackInt(), [5]int64{-1, -2, -3, -4, -5}, false, uint64(1<<64 - 9), 0},
		{"float result", fixtureCallbackFloat(), [5]int64{1, 2, 3, 4, 5}, true, 0, 127.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Call(tt.fixture, cbArgs(c.Addr(), tt.ints, floats))
			if err != nil {
				t.Fatal(err)
			}
			if tt.float {
				if r.Float != tt.wantF {
					t.Errorf("xmm0 = %v, want %v", r.Float, tt.wantF)
				}
			} else if r.Int != tt.want {
				t.Errorf("rax = %d, want %d", int64(r.Int), int64(tt.want))
			}
			for i, v := range tt.ints {
				if got.Int[i] != uint64(v) {
					t.Errorf("callback saw Int[%d] = %d, want %d", i, int64(got.Int[i]), v)
				}
			}
			if got.Int[5] != 6 || got.Float != floats {
				t.Errorf("callback saw Int[5] = %d, Float = %v", got.Int[5], got.Float)
			}
		})
	}
}

func TestCallbackPanicEndsOuterCall(t *testing.T) {
	type boom struct{ n int }
	var nilMap *Args
	tests := []struct {
		name  string
		fn    func(*Args) Result
		check func(t *testing.T, e *HostPanicError)
	}{
		{"panic value", func(*Args) Result { panic(boom{7}) }, func(t *testing.T, e *HostPanicError) {
			if e.Value != (boom{7}) {
				t.Errorf("Value = %#v", e.Value)
			}
		}},
		{"panic error", func(*Args) Result { panic(ErrDeadline) }, func(t *testing.T, e *HostPanicError) {
			if e.Value != ErrDeadline {
				t.Errorf("Value = %#v", e.Value)
			}
		}},
		{"nil dereference", func(*Args) Result { return Result{Int: nilMap.Int[0]} }, func(t *testing.T, e *HostPanicError) {
			if _, ok := e.Value.(runtime.Error); !ok {
				t.Errorf("Value = %#v, want a runtime.Error", e.Value)
			}
			if !strings.Contains(string(e.Stack), "callback_test.go") {
				t.Errorf("stack does not show the panicking function:\n%s", e.Stack)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCB(t, "bad_"+tt.name, tt.fn)
			_, err := Call(fixtureCallbackInt(), cbArgs(c.Addr(), [5]int64{}, [8]float64{}))
			var e *HostPanicError
			if !errors.As(err, &e) || !errors.Is(err, ErrHostPanic) {
				t.Fatalf("err = %v, want a *HostPanicError", err)
			}
			if e.Func != "bad_"+tt.name {
				t.Errorf("Func = %q", e.Func)
			}
			var fe *FaultError
			if errors.As(err, &fe) {
				t.Errorf("a Go panic was reported as a plugin fault: %v", fe)
			}
			tt.check(t, e)
			// The thread and the package keep working.
			r, err := Call(fixtureAdd(), &Args{Int: [6]uint64{2, 3}})
			if err != nil || r.Int != 5 {
				t.Fatalf("healthy call after the panic = %d, %v", r.Int, err)
			}
		})
	}
}

func TestCallbackNestedCall(t *testing.T) {
	// A callback that calls native code again through the sandbox.
	c := newCB(t, "nested", func(a *Args) Result {
		r, err := Call(fixtureAdd(), &Args{Int: [6]uint64{a.Int[0], a.Int[1]}})
		if err != nil {
			panic(err)
		}
		return Result{Int: r.Int * 10}
	})
	r, err := Call(fixtureCallbackInt(), cbArgs(c.Addr(), [5]int64{4, 5}, [8]float64{}))
	if err != nil || r.Int != 90 {
		t.Fatalf("nested = %d, %v; want 90", r.Int, err)
	}
}

func TestCallbackFreed(t *testing.T) {
	newCB(t, "keep", func(*Args) Result { return Result{} }) // keeps the page mapped
	c, err := NewCallback("gone", func(*Args) Result { return Result{Int: 1} })
	if err != nil {
		t.Fatal(err)
	}
	addr := c.Addr()
	c.Free()
	c.Free() // twice is fine
	_, err = Call(fixtureCallbackInt(), cbArgs(addr, [5]int64{}, [8]float64{}))
	if !errors.Is(err, ErrCallbackFreed) {
		t.Fatalf("call through a freed callback: %v, want ErrCallbackFreed", err)
	}
	if _, err := NewCallback("nil", nil); err == nil {
		t.Fatal("NewCallback(nil) succeeded")
	}
}

func TestCallbackRegisterReleaseNoGrowth(t *testing.T) {
	base := CallbackPages()
	per := 0
	for round := 0; round < 10; round++ {
		cbs := make([]*Callback, 0, 1000)
		for i := 0; i < 1000; i++ {
			c, err := NewCallback("many", func(*Args) Result { return Result{Int: 3} })
			if err != nil {
				t.Fatal(err)
			}
			cbs = append(cbs, c)
		}
		if round == 0 {
			per = CallbackPages()
		} else if n := CallbackPages(); n != per {
			t.Fatalf("round %d: %d thunk pages, round 0 had %d", round, n, per)
		}
		r, err := Call(fixtureCallbackInt(), cbArgs(cbs[999].Addr(), [5]int64{}, [8]float64{}))
		if err != nil || r.Int != 3 {
			t.Fatalf("call = %d, %v", r.Int, err)
		}
		for _, c := range cbs {
			c.Free()
		}
	}
	if n := CallbackPages(); n > base+1 || n > 1 {
		t.Fatalf("%d thunk pages left after freeing everything (had %d)", n, base)
	}
}

func TestCallbackConcurrent(t *testing.T) {
	c := newCB(t, "square", func(a *Args) Result {
		return Result{Int: a.Int[0] * a.Int[0], Float: math.Sqrt(a.Float[0])}
	})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				v := int64(g*1000 + i)
				r, err := Call(fixtureCallbackInt(), cbArgs(c.Addr(), [5]int64{v}, [8]float64{}))
				if err != nil || r.Int != uint64(v*v) {
					t.Errorf("square(%d) = %d, %v", v, r.Int, err)
					return
				}
				if i%50 == 0 { // churn registrations meanwhile
					x, err := NewCallback("churn", func(*Args) Result { return Result{} })
					if err != nil {
						t.Error(err)
						return
					}
					x.Free()
				}
			}
		}(g)
	}
	wg.Wait()
}
