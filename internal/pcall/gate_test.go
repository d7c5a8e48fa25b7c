package pcall

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runplug/runplug/internal/testenv"
)

// gateModes runs a test with the membarrier scheme (when the kernel has
// it) and with the overflow-counter fallback forced on.
var gateModes = []struct {
	name     string
	fallback bool
}{
	{"membarrier", false},
	{"fallback", true},
}

func forEachGateMode(t *testing.T, f func(t *testing.T)) {
	for _, m := range gateModes {
		t.Run(m.name, func(t *testing.T) {
			if !m.fallback && !gateMembarrier() {
				testenv.Skipf(t, "membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) unavailable (Linux 4.14+): gates use the fallback")
			}
			setGateFallback(m.fallback)
			t.Cleanup(func() { setGateFallback(false) })
			f(t)
		})
	}
}

// closeAsync starts g.Close and returns a channel that gets its result,
// and one that is closed when Close has found a call through g in progress
// and begun to wait for it (closeWaitHook).
func closeAsync(g *Gate) (done <-chan error, waiting <-chan struct{}) {
	d, w := make(chan error, 1), make(chan struct{})
	waitingMu.Lock()
	waitingFor[g] = w
	waitingMu.Unlock()
	go func() { d <- g.Close() }()
	return d, w
}

// closeDone starts g.Close and returns a channel that gets its result.
func closeDone(g *Gate) <-chan error {
	d := make(chan error, 1)
	go func() { d <- g.Close() }()
	return d
}

var (
	waitingMu  sync.Mutex
	waitingFor = map[*Gate]chan struct{}{}
)

func init() {
	closeWaitHook = func(g *Gate) {
		waitingMu.Lock()
		defer waitingMu.Unlock()
		if w := waitingFor[g]; w != nil {
			close(w)
			delete(waitingFor, g)
		}
	}
}

// waitClose fails t unless done delivers nil within a generous watchdog
// (a hang means a call's slot leaked).
func waitClose(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not return: a call through the gate is still counted")
	}
}

// assertWaiting fails t unless Close reports (through closeWaitHook) that
// it found the call in progress and waits for it before it returns: a
// handshake, so it cannot pass on a Close that returns early however the
// threads are scheduled. The watchdog only turns a hang into a failure.
func assertWaiting(t *testing.T, done <-chan error, waiting <-chan struct{}) {
	t.Helper()
	select {
	case <-waiting:
	case err := <-done:
		t.Fatalf("Close returned (%v) while a call through the gate was in progress", err)
	case <-time.After(20 * time.Second):
		t.Fatal("Close neither returned nor began waiting for the call in progress")
	}
	select {
	case err := <-done:
		t.Fatalf("Close returned (%v) while a call through the gate was in progress", err)
	default:
	}
}

func TestGateCallAndClose(t *testing.T) {
	m := newTestImage(t, "gate.so")
	forEachGateMode(t, func(t *testing.T) {
		g := NewGate()
		r, err := g.Call(m.fn("add"), &Args{Int: [6]uint64{40, 2}})
		if err != nil || r.Int != 42 {
			t.Fatalf("Call = %d, %v; want 42", r.Int, err)
		}
		r, err = g.CallContext(context.Background(), m.fn("add"), &Args{Int: [6]uint64{1, 2}})
		if err != nil || r.Int != 3 {
			t.Fatalf("CallContext = %d, %v; want 3", r.Int, err)
		}
		if g.InCall() {
			t.Error("InCall outside any call")
		}
		waitClose(t, closeDone(g))
		for _, call := range []func() error{
			func() error { _, err := g.Call(m.fn("add"), nil); return err },
			func() error {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				_, err := g.CallContext(ctx, m.fn("add"), nil)
				return err
			},
		} {
			if err := call(); !errors.Is(err, ErrGateClosed) {
				t.Errorf("call after Close: %v, want ErrGateClosed", err)
			}
		}
		if err := g.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

// TestGateFailedCallsGiveBackSlots ends gated calls by a fault, a deadline
// and a host panic: each must take its gate out of the thread's slots, or
// Close would wait forever.
func TestGateFailedCallsGiveBackSlots(t *testing.T) {
	needCallbacks(t)
	m := newTestImage(t, "gatefail.so")
	panicker := newCB(t, "panicker", func(*Args) Result { panic("boom") })
	forEachGateMode(t, func(t *testing.T) {
		g := NewGate()
		tests := []struct {
			name string
			call func() error
			want error
		}{
			{"fault", func() error { _, err := g.Call(m.fn("null_read"), nil); return err }, nil},
			{"deadline", func() error {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
				defer cancel()
				_, err := g.CallContext(ctx, m.fn("spin"), nil)
				return err
			}, ErrDeadline},
			{"host panic", func() error {
				_, err := g.Call(fixtureCallbackInt(), cbArgs(panicker.Addr(), [5]int64{}, [8]float64{}))
				return err
			}, ErrHostPanic},
		}
		for _, tt := range tests {
			// Several rounds, so that a leaked slot would fill a thread's
			// gates[] and be seen even on another thread.
			for i := 0; i < 3*gateSlots; i++ {
				err := tt.call()
				var fe *FaultError
				if tt.want == nil && !errors.As(err, &fe) || tt.want != nil && !errors.Is(err, tt.want) {
					t.Fatalf("%s: err = %v", tt.name, err)
				}
			}
		}
		waitClose(t, closeDone(g))
	})
}

// gateSlots is RP_GATE_SLOTS, the per-thread slots before the overflow.
const gateSlots = 12

// TestGateCloseWaitsForNestedCall makes a call through outer whose
// function calls back into Go, which calls through inner (deeper than a
// thread's slots, so that the overflow counter is used too) and blocks:
// Close of either gate, from a third goroutine, must wait for it.
func TestGateCloseWaitsForNestedCall(t *testing.T) {
	needCallbacks(t)
	for _, depth := range []int{1, gateSlots + 4} {
		t.Run(fmt.Sprintf("depth%d", depth), func(t *testing.T) {
			forEachGateMode(t, func(t *testing.T) {
				outer, inner := NewGate(), NewGate()
				entered, release := make(chan struct{}), make(chan struct{})
				var returned atomic.Bool
				var cb *Callback
				cb = newCB(t, "nest", func(a *Args) Result {
					level := a.Int[0]
					if level == uint64(depth) {
						if !outer.InCall() || !inner.InCall() {
							t.Errorf("InCall = %v, %v inside both gates", outer.InCall(), inner.InCall())
						}
						if err := outer.Close(); !errors.Is(err, ErrCloseInCall) {
							t.Errorf("Close from inside the call: %v, want ErrCloseInCall", err)
						}
						close(entered)
						<-release
						returned.Store(true)
						return Result{Int: level}
					}
					r, err := inner.Call(fixtureCallbackInt(), cbArgs(cb.Addr(), [5]int64{int64(level) + 1}, [8]float64{}))
					if err != nil {
						t.Errorf("level %d: %v", level, err)
					}
					return Result{Int: r.Int + 1}
				})
				done := make(chan uint64, 1)
				go func() {
					r, err := outer.Call(fixtureCallbackInt(), cbArgs(cb.Addr(), [5]int64{0}, [8]float64{}))
					if err != nil {
						t.Errorf("outer call: %v", err)
					}
					done <- r.Int
				}()
				<-entered
				closedOuter, outerWaiting := closeAsync(outer)
				closedInner, innerWaiting := closeAsync(inner)
				assertWaiting(t, closedOuter, outerWaiting)
				assertWaiting(t, closedInner, innerWaiting)
				close(release)
				waitClose(t, closedOuter)
				if !returned.Load() {
					t.Error("Close of the outer gate returned before the nested call did")
				}
				waitClose(t, closedInner)
				if got := <-done; got != uint64(2*depth) {
					t.Errorf("result %d, want %d", got, 2*depth)
				}
			})
		})
	}
}

// TestGateCloseRacingCalls closes a gate while goroutines call through it
// a function that counts itself in and out: when Close returns no call may
// be inside, and none may start afterwards.
func TestGateCloseRacingCalls(t *testing.T) {
	needCallbacks(t)
	var inside, after atomic.Int64
	var closed atomic.Bool
	cb := newCB(t, "count", func(*Args) Result {
		inside.Add(1)
		if closed.Load() {
			after.Add(1)
		}
		for i := 0; i < 100; i++ {
			_ = i * i
		}
		inside.Add(-1)
		return Result{Int: 7}
	})
	forEachGateMode(t, func(t *testing.T) {
		for round := 0; round < 10; round++ {
			closed.Store(false)
			g := NewGate()
			var wg sync.WaitGroup
			var calls atomic.Int64
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						r, err := g.Call(fixtureCallbackInt(), cbArgs(cb.Addr(), [5]int64{}, [8]float64{}))
						if errors.Is(err, ErrGateClosed) {
							return
						}
						if err != nil || r.Int != 7 {
							t.Errorf("call: %d, %v", r.Int, err)
							return
						}
						calls.Add(1)
					}
				}()
			}
			for calls.Load() < 50 {
				time.Sleep(100 * time.Microsecond)
			}
			waitClose(t, closeDone(g))
			closed.Store(true)
			if n := inside.Load(); n != 0 {
				t.Fatalf("round %d: %d calls inside the function after Close returned", round, n)
			}
			wg.Wait()
			if n := after.Load(); n != 0 {
				t.Fatalf("round %d: %d calls entered the function after Close returned", round, n)
			}
		}
	})
}

func TestGateCallAllocs(t *testing.T) {
	m := newTestImage(t, "gatealloc.so")
	g := NewGate()
	fn := m.fn("add")
	n := testing.AllocsPerRun(1000, func() {
		a := Args{Int: [6]uint64{1, 2}}
		if _, err := g.Call(fn, &a); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per gated call, want 0", n)
	}
}

// TestGateCallInts checks that CallInts puts each of its 0 to 6 integers
// in its argument register (a function per register returns it) and tells
// a variadic callee that no vector register is used (al = 0), refuses a
// seventh without calling, and ends like Call on a fault and a closed gate.
func TestGateCallInts(t *testing.T) {
	m := newTestImage(t, "callints.so")
	g := NewGate()
	all := []uint64{11, 22, 33, 44, 55, 1<<64 - 1}
	for n := 0; n <= len(all); n++ {
		ints := all[:n]
		for k := 0; k < n; k++ {
			r, err := g.CallInts(m.fn(fmt.Sprintf("arg%d", k)), ints)
			if err != nil || r.Int != ints[k] {
				t.Errorf("%d ints: register %d = %#x, %v; want %#x", n, k, r.Int, err, ints[k])
			}
		}
		if !m.has("vector_count") {
			continue // x86-64 only: al, the vector-register count of variadic calls
		}
		if r, err := g.CallInts(m.fn("vector_count"), ints); err != nil || r.Int != 0 {
			t.Errorf("%d ints: al = %d, %v; want 0", n, r.Int, err)
		}
	}
	if _, err := g.CallInts(m.fn("trap"), make([]uint64, 7)); err == nil || errors.As(err, new(*FaultError)) {
		t.Errorf("7 ints: err = %v, want a refusal without a call", err)
	}
	_, err := g.CallInts(m.fn("null_read"), []uint64{1})
	var fe *FaultError
	if !errors.As(err, &fe) || fe.Symbol != fmt.Sprintf("null_read+%#x", faultOff["null_read"]) {
		t.Errorf("fault: err = %v, want a *FaultError in null_read", err)
	}
	if n := testing.AllocsPerRun(1000, func() { g.CallInts(m.fn("add"), []uint64{1, 2}) }); n != 0 {
		t.Errorf("%v allocations per CallInts, want 0", n)
	}
	waitClose(t, closeDone(g))
	if _, err := g.CallInts(m.fn("trap"), nil); !errors.Is(err, ErrGateClosed) {
		t.Errorf("after Close: err = %v, want ErrGateClosed", err)
	}
}

// TestMembarrierRegisteredBeforeRuntime: the registration for expedited
// membarriers happens in sandbox.c's constructor, while the process has
// one thread. Registered later, from the Go runtime's many threads, it
// waits for an RCU grace period: the first Load of every process (and of
// every isolated plugin's child) would pay milliseconds for it.
func TestMembarrierRegisteredBeforeRuntime(t *testing.T) {
	if !gateMembarrier() {
		testenv.Skipf(t, "membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) unavailable (Linux 4.14+)")
	}
	if !membarrierAtCtor() {
		t.Fatal("membarrier registered after the constructor: C constructors of a cgo binary no longer run before the Go runtime, or the constructor's registration failed")
	}
}
