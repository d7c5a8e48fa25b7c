//go:build linux

package loader_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/runplug/runplug/loader"
	"github.com/runplug/runplug/sandbox"
)

// TestCallbackIsolated passes Go callbacks (their Ptr, as in process) to
// plugins/cb_store.c in process and isolated: called at once (nested in
// the call), stored and called by a later call, called by a thread the
// plugin created (isolated: over the child's upcall channel), with every
// argument class and a string, and inside a general call (s24_via, whose
// callback argument is a stack word). Both must give the same results.
func TestCallbackIsolated(t *testing.T) {
	in, iso := both(t, "cb_store", loader.Options{})
	fin, fiso := both(t, "ffi_call", loader.Options{})
	mul, err := loader.NewCallback(func(a, b int64) int64 { return a*1000 + b })
	if err != nil {
		t.Fatal(err)
	}
	defer mul.Release()
	var mu sync.Mutex
	var strs []string
	mixed, err := loader.NewCallback(func(a int8, b float64, s string, c float32, d uint16, e int64) float64 {
		mu.Lock()
		strs = append(strs, s)
		mu.Unlock()
		return float64(a) + b*2 + float64(len(s))*3 + float64(c)*4 + float64(d)*5 + float64(e)*6
	})
	if err != nil {
		t.Fatal(err)
	}
	defer mixed.Release()
	neg, err := loader.NewCallback(func(x int64) int64 { return -x * 3 })
	if err != nil {
		t.Fatal(err)
	}
	defer neg.Release()

	type result struct {
		call, stored, thread int64
		mixed                float64
		via                  isoS24
	}
	run := func(p, ffi *loader.Plugin) result {
		var r result
		callPtr, err1 := loader.Bind3[uintptr, int64, int64, int64](p, "cb_call")
		store, err2 := loader.BindVoid1[uintptr](p, "cb_store")
		stored, err3 := loader.Bind2[int64, int64, int64](p, "cb_call_stored")
		start, err4 := loader.Bind1[int64, uint64](p, "cb_thread_start")
		join, err5 := loader.Bind1[uint64, int64](p, "cb_thread_join")
		callMixed, err6 := loader.Bind1[uintptr, float64](p, "cb_call_mixed")
		via, err7 := loader.Bind9[isoS24, int64, int64, int64, int64, int64, int64, int64, uintptr, isoS24](ffi, "s24_via")
		if err := errors.Join(err1, err2, err3, err4, err5, err6, err7); err != nil {
			t.Fatal(err)
		}
		var err error
		if r.call, err = callPtr(mul.Ptr(), 7, 3); err != nil {
			t.Fatalf("isolated %v: cb_call: %v", p.Isolated(), err)
		}
		if err := store(mul.Ptr()); err != nil {
			t.Fatal(err)
		}
		if r.stored, err = stored(4, 2); err != nil {
			t.Fatalf("isolated %v: cb_call_stored: %v", p.Isolated(), err)
		}
		h, err := start(50)
		if err != nil || h == 0 {
			t.Fatalf("isolated %v: cb_thread_start: %#x, %v", p.Isolated(), h, err)
		}
		if r.thread, err = join(h); err != nil {
			t.Fatalf("isolated %v: cb_thread_join: %v", p.Isolated(), err)
		}
		if r.mixed, err = callMixed(mixed.Ptr()); err != nil {
			t.Fatalf("isolated %v: cb_call_mixed: %v", p.Isolated(), err)
		}
		if r.via, err = via(isoS24{5, 6, 7}, 1, 2, 3, 4, 5, 6, 7, neg.Ptr()); err != nil {
			t.Fatalf("isolated %v: s24_via: %v", p.Isolated(), err)
		}
		return r
	}
	want := run(in, fin)
	got := run(iso, fiso)
	if got != want || want.thread != 50*49/2*1000+50 {
		t.Errorf("isolated %+v, in process %+v", got, want)
	}
	if len(strs) != 2 || strs[0] != "mixed" || strs[1] != "mixed" {
		t.Errorf("string arguments seen: %q", strs)
	}
}

// TestCallbackIsolatedPanics is TestCallbackPanics on both sides: a panic
// nested in a call ends that call with the *sandbox.HostPanicError of the
// host's Go function; on a plugin thread the plugin gets 0 and the
// Callback's panic handler gets the panic; after Release both report
// ErrCallbackFreed.
func TestCallbackIsolatedPanics(t *testing.T) {
	in, iso := both(t, "cb_store", loader.Options{KeepAfterFault: true})
	for _, p := range []*loader.Plugin{in, iso} {
		store, _ := loader.BindVoid1[uintptr](p, "cb_store")
		callStored, _ := loader.Bind2[int64, int64, int64](p, "cb_call_stored")
		start, _ := loader.Bind1[int64, uint64](p, "cb_thread_start")
		join, _ := loader.Bind1[uint64, int64](p, "cb_thread_join")
		if store == nil || callStored == nil || start == nil || join == nil {
			t.Fatal("bind failed")
		}
		cb, err := loader.NewCallback(func(a, b int64) int64 {
			if a == 1 {
				panic("one is not allowed")
			}
			return 100
		})
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var seen []*sandbox.HostPanicError
		cb.SetPanicHandler(func(e *sandbox.HostPanicError) {
			mu.Lock()
			seen = append(seen, e)
			mu.Unlock()
		})
		if err := store(cb.Ptr()); err != nil {
			t.Fatal(err)
		}
		_, err = callStored(1, 0)
		var hp *sandbox.HostPanicError
		if !errors.As(err, &hp) || hp.Value != "one is not allowed" || !strings.Contains(hp.Func, "TestCallbackIsolatedPanics") {
			t.Fatalf("isolated %v: cb_call_stored(1) = %v, want a HostPanicError naming the Go function", p.Isolated(), err)
		}
		if r, err := callStored(0, 0); err != nil || r != 100 {
			t.Fatalf("isolated %v: after the panic: %d, %v", p.Isolated(), r, err)
		}
		h, err := start(3)
		if err != nil {
			t.Fatal(err)
		}
		if sum, err := join(h); err != nil || sum != 200 {
			t.Fatalf("isolated %v: plugin thread summed %d, %v; want 200", p.Isolated(), sum, err)
		}
		mu.Lock()
		if len(seen) != 1 || seen[0].Value != "one is not allowed" || cb.Err() != error(seen[0]) {
			t.Fatalf("isolated %v: handler saw %v, Err %v", p.Isolated(), seen, cb.Err())
		}
		mu.Unlock()
		cb.Release()
		if _, err := callStored(0, 0); !errors.Is(err, sandbox.ErrCallbackFreed) {
			t.Fatalf("isolated %v: call through a released callback: %v, want ErrCallbackFreed", p.Isolated(), err)
		}
		h, _ = start(2)
		if sum, err := join(h); err != nil || sum != 0 {
			t.Fatalf("isolated %v: plugin thread through a released callback: %d, %v; want 0", p.Isolated(), sum, err)
		}
		mu.Lock()
		if len(seen) != 3 || !errors.Is(seen[2], sandbox.ErrCallbackFreed) {
			t.Fatalf("isolated %v: handler saw %v", p.Isolated(), seen)
		}
		mu.Unlock()
	}
}

// TestCloseFromHostCall: a callback that closes (or restarts) the plugin
// whose call is running it gets an error wrapping sandbox.ErrCloseInCall,
// in process and isolated, instead of waiting for that call forever; the
// plugin stays open, and closes once the call has returned.
func TestCloseFromHostCall(t *testing.T) {
	in, iso := both(t, "cb_store", loader.Options{})
	for _, p := range []*loader.Plugin{in, iso} {
		var closeErr, restartErr error
		cb, err := loader.NewCallback(func(a, b int64) int64 {
			closeErr = p.Close()
			if p.Isolated() {
				restartErr = p.Restart()
			}
			return a + b
		})
		if err != nil {
			t.Fatal(err)
		}
		callPtr, err := loader.Bind3[uintptr, int64, int64, int64](p, "cb_call")
		if err != nil {
			t.Fatal(err)
		}
		if r, err := callPtr(cb.Ptr(), 2, 3); err != nil || r != 5 {
			t.Fatalf("isolated %v: cb_call = %d, %v", p.Isolated(), r, err)
		}
		if !errors.Is(closeErr, sandbox.ErrCloseInCall) {
			t.Errorf("isolated %v: Close from the callback: %v, want ErrCloseInCall", p.Isolated(), closeErr)
		}
		if p.Isolated() && !errors.Is(restartErr, sandbox.ErrCloseInCall) {
			t.Errorf("Restart from the callback: %v, want ErrCloseInCall", restartErr)
		}
		cb.Release()
		if err := p.Close(); err != nil {
			t.Errorf("isolated %v: Close after the call: %v", p.Isolated(), err)
		}
	}
}
