package pcall

import (
	"errors"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"unsafe"
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
	needCallbacks(t)
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
	needCallbacks(t)
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
	needCallbacks(t)
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
	needCallbacks(t)
	newCB(t, "keep", func(*Args) Result { return Result{} }) // keeps the page mapped
	c, err := NewCallback("gone", func(*Args) Result { return Result{Int: 1} })
	if err != nil {
		t.Fatal(err)
	}
	addr := c.Addr()
	c.Free()
	c.Free() // twice is fine
	_, err = Call(fixtureCallbackInt(), cbArgs(addr, [5]int64{}, [8]float64{}))
	var e *HostPanicError
	if !errors.Is(err, ErrCallbackFreed) || !errors.As(err, &e) || e.Func != "gone" {
		t.Fatalf("call through a freed callback: %v, want ErrCallbackFreed naming gone", err)
	}
	if _, err := NewCallback("nil", nil); err == nil {
		t.Fatal("NewCallback(nil) succeeded")
	}
}

func TestCallbackRegisterReleaseNoGrowth(t *testing.T) {
	needCallbacks(t)
	// Released slots wait in a queue of cbQuarantine before reuse, so the
	// pages grow to cover the live callbacks plus that queue, then stop.
	limit := CallbackPages() + (1000+cbQuarantine)/thunksPerPage() + 2
	var after []int
	for round := 0; round < 10; round++ {
		cbs := make([]*Callback, 0, 1000)
		for i := 0; i < 1000; i++ {
			c, err := NewCallback("many", func(*Args) Result { return Result{Int: 3} })
			if err != nil {
				t.Fatal(err)
			}
			cbs = append(cbs, c)
		}
		r, err := Call(fixtureCallbackInt(), cbArgs(cbs[999].Addr(), [5]int64{}, [8]float64{}))
		if err != nil || r.Int != 3 {
			t.Fatalf("call = %d, %v", r.Int, err)
		}
		for _, c := range cbs {
			c.Free()
		}
		after = append(after, CallbackPages())
	}
	if n := after[len(after)-1]; n > limit || n != after[len(after)-3] {
		t.Fatalf("thunk pages after each round: %v; want them to stop growing, at most %d", after, limit)
	}
}

func TestCallbackConcurrent(t *testing.T) {
	needCallbacks(t)
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

// TestCallbackOutsideCall calls callbacks from C code that runs in no
// protected call (a plain cgo call): a panic, or a call through a freed
// callback, gives its caller zero and goes to the handler and Err.
func TestCallbackOutsideCall(t *testing.T) {
	needCallbacks(t)
	ok := newCB(t, "add", func(a *Args) Result { return Result{Int: a.Int[0] + a.Int[1]} })
	if got := fixtureCallbackLoop(ok.Addr(), 4); got != 0+1+1+1+2+1+3+1 {
		t.Fatalf("loop over add = %d", got)
	}
	if ok.Err() != nil {
		t.Fatalf("Err = %v after calls that did not panic", ok.Err())
	}

	calls := 0
	bad := newCB(t, "bad", func(a *Args) Result {
		calls++
		if a.Int[0] == 1 {
			panic("boom")
		}
		return Result{Int: 10}
	})
	var seen []*HostPanicError
	bad.SetPanicHandler(func(e *HostPanicError) { seen = append(seen, e) })
	// f(0)=10, f(1) panics: 0, f(2)=10.
	if got := fixtureCallbackLoop(bad.Addr(), 3); got != 20 || calls != 3 {
		t.Fatalf("loop = %d after %d calls, want 20 after 3", got, calls)
	}
	if len(seen) != 1 || seen[0].Value != "boom" || seen[0].Func != "bad" || len(seen[0].Stack) == 0 {
		t.Fatalf("handler saw %v", seen)
	}
	if err := bad.Err(); !errors.Is(err, ErrHostPanic) || err.(*HostPanicError) != seen[0] {
		t.Fatalf("Err = %v", err)
	}

	// A handler that panics itself is dropped; the caller still gets 0.
	bad.SetPanicHandler(func(*HostPanicError) { panic("handler") })
	if got := fixtureCallbackLoop(bad.Addr(), 2); got != 10 {
		t.Fatalf("loop with a panicking handler = %d, want 10", got)
	}

	gone, err := NewCallback("gone", func(*Args) Result { return Result{Int: 1} })
	if err != nil {
		t.Fatal(err)
	}
	var freed []*HostPanicError
	gone.SetPanicHandler(func(e *HostPanicError) { freed = append(freed, e) })
	addr := gone.Addr()
	gone.Free()
	if got := fixtureCallbackLoop(addr, 2); got != 0 {
		t.Fatalf("loop over a freed callback = %d, want 0", got)
	}
	if len(freed) != 2 || !errors.Is(freed[0], ErrCallbackFreed) || !errors.Is(gone.Err(), ErrCallbackFreed) {
		t.Fatalf("freed callback reported %v, Err %v", freed, gone.Err())
	}
}

// TestCallbackSecondResultRegisters: a raw function's a.Int[1] and
// a.Float[1] reach the caller in rdx and xmm1 (a 16-byte struct result).
func TestCallbackSecondResultRegisters(t *testing.T) {
	needCallbacks(t)
	c := newCB(t, "pair", func(a *Args) Result {
		a.Int[1], a.Float[1] = a.Int[0]*2, a.Float[0]*2
		return Result{Int: a.Int[0], Float: a.Float[0]}
	})
	if got := fixtureCallbackPair(c.Addr(), 21, 1.25); got != 21+42+1.25+2.5 {
		t.Fatalf("rax+rdx+xmm0+xmm1 = %v, want %v", got, 21+42+1.25+2.5)
	}
}

// TestCallbackQuarantine: a freed callback's address is not handed out
// again while fewer than cbQuarantine other slots were freed after it, and
// calls through it keep taking the ErrCallbackFreed path meanwhile.
func TestCallbackQuarantine(t *testing.T) {
	needCallbacks(t)
	gone, err := NewCallback("gone", func(*Args) Result { return Result{Int: 1} })
	if err != nil {
		t.Fatal(err)
	}
	stale := gone.Addr()
	gone.Free()
	var cbs []*Callback
	defer func() {
		for _, c := range cbs {
			c.Free()
		}
	}()
	// Churn: make and free cbQuarantine-1 others (the queue then still
	// holds stale's slot ahead of them), making new ones meanwhile.
	for i := 0; i < cbQuarantine; i++ {
		c, err := NewCallback("churn", func(*Args) Result { return Result{Int: 2} })
		if err != nil {
			t.Fatal(err)
		}
		if c.Addr() == stale {
			t.Fatalf("the freed address was reused after %d allocations", i)
		}
		if i%2 == 0 {
			c.Free()
		} else {
			cbs = append(cbs, c)
		}
	}
	if _, err := Call(fixtureCallbackInt(), cbArgs(stale, [5]int64{}, [8]float64{})); !errors.Is(err, ErrCallbackFreed) {
		t.Fatalf("call through the freed address: %v, want ErrCallbackFreed", err)
	}
}

// BenchmarkDispatch is the Go half of a callback call alone (no C, no
// cgo transition): the dispatcher finding a register-form callback's slot,
// guarding it against panics and calling add(i, 1); the rest of a call
// from C (BenchmarkCallback in package loader) is cgo's and the entry's.
//
//	go test -run '^$' -bench 'Dispatch$' -count 5 ./sandbox
func BenchmarkDispatch(b *testing.B) {
	cb, err := NewCallbackRegs("add", func(i0, i1, _, _, _, _, _, _, _ uint64, _, _, _, _, _, _, _, _ float64) (uint64, float64) {
		return i0 + i1, 0
	}, 2, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer cb.Free()
	f := cbFrame{id: cb.id}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		f.a.Int[0], f.a.Int[1] = uint64(i), 1
		f.done = 0 // as the entry leaves it
		if dispatch(unsafe.Pointer(&f)); f.code != 0 || f.a.Int[0] != uint64(i)+1 {
			b.Fatal("bad result")
		}
	}
}
