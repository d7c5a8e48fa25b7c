//go:build linux

package loader

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/dlsvc"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/testenv"
)

// libcFunc returns the address of a function of the host's libc.
func libcFunc(t testing.TB, name string) uintptr {
	t.Helper()
	h, err := dlsvc.OpenHostLibrary("libc.so.6")
	if err != nil {
		t.Fatal(err)
	}
	p, ok := h.Lookup(name, "")
	if !ok {
		t.Fatalf("%s not in libc", name)
	}
	return p
}

func newCallback(t testing.TB, fn any) *Callback {
	t.Helper()
	cb, err := NewCallback(fn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cb.Release)
	return cb
}

// TestCallbackQsortBsearch sorts Go memory with the host libc's qsort and
// a Go comparator, then searches it with bsearch.
func TestCallbackQsortBsearch(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	calls := 0
	cmp := newCallback(t, func(a, b unsafe.Pointer) int32 {
		calls++
		if calls == 1 {
			// The pinned array must stay put and alive through a GC and
			// a move of this goroutine's stack.
			runtime.GC()
			growStack(64)
		}
		x, y := *(*int32)(a), *(*int32)(b)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	xs := []int32{42, -7, 19, 0, 1 << 30, -1 << 30, 5, 5, 3}
	want := slices.Clone(xs)
	slices.Sort(want)
	var pins runtime.Pinner
	defer pins.Unpin()
	pins.Pin(&xs[0])
	base := unsafe.Pointer(&xs[0])
	if _, err := pcall.Call(libcFunc(t, "qsort"), &pcall.Args{Int: [6]uint64{
		uint64(uintptr(base)), uint64(len(xs)), 4, uint64(cmp.Ptr())}}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(xs, want) || calls == 0 {
		t.Fatalf("qsort gave %v after %d comparisons, want %v", xs, calls, want)
	}
	bsearch := libcFunc(t, "bsearch")
	for _, tc := range []struct {
		key   int32
		found bool
	}{{19, true}, {-1 << 30, true}, {1 << 30, true}, {4, false}} {
		key := tc.key
		pins.Pin(&key)
		r, err := pcall.Call(bsearch, &pcall.Args{Int: [6]uint64{
			uint64(uintptr(unsafe.Pointer(&key))), uint64(uintptr(base)), uint64(len(xs)), 4, uint64(cmp.Ptr())}})
		if err != nil {
			t.Fatal(err)
		}
		if !tc.found {
			if r.Int != 0 {
				t.Errorf("bsearch(%d) found %#x", tc.key, r.Int)
			}
			continue
		}
		i := (uintptr(r.Int) - uintptr(base)) / 4
		if r.Int == 0 || i >= uintptr(len(xs)) || xs[i] != tc.key {
			t.Errorf("bsearch(%d) = %#x (index %d)", tc.key, r.Int, i)
		}
	}
}

// TestCallbackStoredByPlugin: a plugin keeps the pointer and calls it
// later, on the host's thread inside a call and on a thread it created.
func TestCallbackStoredByPlugin(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	l := newLoader(t, Options{})
	p := load(t, l, "cb_store")
	store, err := Bind1[uintptr, Void](fnOf(t, p, "cb_store"))
	if err != nil {
		t.Fatal(err)
	}
	callStored, err := Bind2[int64, int64, int64](fnOf(t, p, "cb_call_stored"))
	if err != nil {
		t.Fatal(err)
	}
	start, err := Bind1[int64, uint64](fnOf(t, p, "cb_thread_start"))
	if err != nil {
		t.Fatal(err)
	}
	join, err := Bind1[uint64, int64](fnOf(t, p, "cb_thread_join"))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	threads := map[int]bool{}
	cb := newCallback(t, func(a, b int64) int64 {
		mu.Lock()
		threads[unix.Gettid()] = true
		mu.Unlock()
		return a*10 + b
	})
	if _, err := store(context.Background(), cb.Ptr()); err != nil {
		t.Fatal(err)
	}
	if r, err := callStored(context.Background(), 4, 2); err != nil || r != 42 {
		t.Fatalf("cb_call_stored(4, 2) = %d, %v", r, err)
	}
	const n = 1000
	for round := 0; round < 3; round++ {
		h, err := start(context.Background(), n)
		if err != nil || h == 0 {
			t.Fatalf("cb_thread_start = %#x, %v", h, err)
		}
		sum, err := join(context.Background(), h)
		if want := int64(10*n*(n-1)/2 + n); err != nil || sum != want {
			t.Fatalf("plugin thread summed %d, %v; want %d", sum, err, want)
		}
	}
	if cb.Err() != nil {
		t.Fatal(cb.Err())
	}
	if len(threads) < 2 {
		t.Fatalf("the callback ran on %d thread(s), want the host's and the plugin's", len(threads))
	}
}

// TestCallbackPanics: a panic inside a protected call ends that call; on
// a plugin thread (no protected call) the plugin gets 0 and the handler
// the panic; after Release, both paths report ErrCallbackFreed.
func TestCallbackPanics(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	l := newLoader(t, Options{KeepAfterFault: true})
	p := load(t, l, "cb_store")
	store, _ := Bind1[uintptr, Void](fnOf(t, p, "cb_store"))
	callStored, _ := Bind2[int64, int64, int64](fnOf(t, p, "cb_call_stored"))
	start, _ := Bind1[int64, uint64](fnOf(t, p, "cb_thread_start"))
	join, _ := Bind1[uint64, int64](fnOf(t, p, "cb_thread_join"))
	if store == nil || callStored == nil || start == nil || join == nil {
		t.Fatal("bind failed")
	}
	cb, err := NewCallback(func(a, b int64) int64 {
		if a == 1 {
			panic("one is not allowed")
		}
		return 100
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []*pcall.HostPanicError
	cb.SetPanicHandler(func(e *pcall.HostPanicError) {
		mu.Lock()
		seen = append(seen, e)
		mu.Unlock()
	})
	if _, err := store(context.Background(), cb.Ptr()); err != nil {
		t.Fatal(err)
	}

	// Inside a protected call.
	_, err = callStored(context.Background(), 1, 0)
	var hp *pcall.HostPanicError
	if !errors.As(err, &hp) || hp.Value != "one is not allowed" || !strings.Contains(hp.Func, "TestCallbackPanics") {
		t.Fatalf("cb_call_stored(1) = %v, want a HostPanicError naming the Go function", err)
	}
	if r, err := callStored(context.Background(), 0, 0); err != nil || r != 100 {
		t.Fatalf("after the panic: %d, %v", r, err)
	}
	if len(seen) != 0 || cb.Err() != nil {
		t.Fatalf("a panic inside a call reached the handler: %v", seen)
	}

	// On the plugin's thread: f(0) = 100, f(1) panics (0), f(2) = 100.
	h, err := start(context.Background(), 3)
	if err != nil {
		t.Fatal(err)
	}
	if sum, err := join(context.Background(), h); err != nil || sum != 200 {
		t.Fatalf("plugin thread summed %d, %v; want 200", sum, err)
	}
	if len(seen) != 1 || seen[0].Value != "one is not allowed" || cb.Err() != error(seen[0]) {
		t.Fatalf("handler saw %v, Err %v", seen, cb.Err())
	}

	// Released: a defined error on both paths.
	cb.Release()
	cb.Release()
	if _, err := callStored(context.Background(), 0, 0); !errors.Is(err, pcall.ErrCallbackFreed) {
		t.Fatalf("call through a released callback: %v, want ErrCallbackFreed", err)
	}
	h, _ = start(context.Background(), 2)
	if sum, err := join(context.Background(), h); err != nil || sum != 0 {
		t.Fatalf("plugin thread through a released callback: %d, %v; want 0", sum, err)
	}
	if len(seen) != 3 || !errors.Is(seen[2], pcall.ErrCallbackFreed) {
		t.Fatalf("handler saw %v", seen)
	}
}

// TestCallbackManyLive keeps 10,000 callbacks alive at once, each calling
// a Go closure of its own, then releases them.
func TestCallbackManyLive(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	l := newLoader(t, Options{})
	p := load(t, l, "cb_store")
	callPtr, err := Bind3[uintptr, int64, int64, int64](fnOf(t, p, "cb_call"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 10000
	cbs := make([]*Callback, n)
	seen := map[uintptr]bool{}
	for i := range cbs {
		i := int64(i)
		cb, err := NewCallback(func(a, b int64) int64 { return i*1000 + a + b })
		if err != nil {
			t.Fatal(err)
		}
		if seen[cb.Ptr()] {
			t.Fatalf("callback %d reuses a live address", i)
		}
		seen[cb.Ptr()] = true
		cbs[i] = cb
	}
	for i, cb := range cbs {
		if r, err := callPtr(context.Background(), cb.Ptr(), 1, 2); err != nil || r != int64(i)*1000+3 {
			t.Fatalf("callback %d = %d, %v", i, r, err)
		}
	}
	for _, cb := range cbs {
		cb.Release()
	}
}

func TestNewCallbackErrors(t *testing.T) {
	for _, fn := range []any{nil, 42, func(x []byte) {}, func() string { return "" }, func(a, b int) (int, int) { return a, b }} {
		if cb, err := NewCallback(fn); err == nil {
			cb.Release()
			t.Errorf("NewCallback(%T) succeeded", fn)
		} else if strings.Count(err.Error(), "loader:") != 1 {
			t.Errorf("NewCallback(%T): %v: want one package prefix", fn, err)
		}
	}
	var se *SignatureError
	if _, err := NewCallback(func(x []byte) {}); !errors.As(err, &se) || se.Index != 0 {
		t.Errorf("NewCallback(func([]byte)): %v, want a SignatureError for argument 0", err)
	}
}

// growStack recurses through n frames of 1 KiB each, so that the
// goroutine's stack is copied to a larger one.
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

// TestCallbackConcurrentThreads: plugin threads and host goroutines call
// callbacks at once while others are made and released (run with -race).
func TestCallbackConcurrentThreads(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	l := newLoader(t, Options{})
	p := load(t, l, "cb_store")
	store, _ := Bind1[uintptr, Void](fnOf(t, p, "cb_store"))
	start, _ := Bind1[int64, uint64](fnOf(t, p, "cb_thread_start"))
	join, _ := Bind1[uint64, int64](fnOf(t, p, "cb_thread_join"))
	callPtr, _ := Bind3[uintptr, int64, int64, int64](fnOf(t, p, "cb_call"))
	if store == nil || start == nil || join == nil || callPtr == nil {
		t.Fatal("bind failed")
	}
	var mu sync.Mutex
	total := int64(0)
	cb := newCallback(t, func(a, b int64) int64 {
		mu.Lock()
		total += b
		mu.Unlock()
		return a + b
	})
	if _, err := store(context.Background(), cb.Ptr()); err != nil {
		t.Fatal(err)
	}
	const threads, n = 4, 500
	var wg sync.WaitGroup
	for g := 0; g < threads; g++ {
		wg.Add(2)
		go func() { // a plugin thread calling the stored callback
			defer wg.Done()
			h, err := start(context.Background(), n)
			if err != nil || h == 0 {
				t.Errorf("start: %v", err)
				return
			}
			if sum, err := join(context.Background(), h); err != nil || sum != int64(n*(n-1)/2+n) {
				t.Errorf("plugin thread sum %d, %v", sum, err)
			}
		}()
		go func(g int) { // churn: short-lived callbacks called once each
			defer wg.Done()
			for i := 0; i < n; i++ {
				k := int64(g*n + i)
				x, err := NewCallback(func(a, b int64) int64 { return a * b * k })
				if err != nil {
					t.Error(err)
					return
				}
				if r, err := callPtr(context.Background(), x.Ptr(), 2, 3); err != nil || r != 6*k {
					t.Errorf("churn callback %d = %d, %v", k, r, err)
				}
				x.Release()
			}
		}(g)
	}
	wg.Wait()
	if total != threads*n || cb.Err() != nil {
		t.Fatalf("the stored callback ran %d times (want %d), Err %v", total, threads*n, cb.Err())
	}
}

// TestCallbackArgumentKinds calls callbacks of each form (register form
// with floats, narrow integers, strings) from C.
func TestCallbackArgumentKinds(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	l := newLoader(t, Options{})
	p := load(t, l, "cb_store")
	mixed, err := Bind1[uintptr, float64](fnOf(t, p, "cb_call_mixed"))
	if err != nil {
		t.Fatal(err)
	}
	flt, err := Bind3[uintptr, float64, int64, float32](fnOf(t, p, "cb_call_float"))
	if err != nil {
		t.Fatal(err)
	}
	narrow, err := Bind2[uintptr, int8, int32](fnOf(t, p, "cb_call_narrow"))
	if err != nil {
		t.Fatal(err)
	}
	var got string
	m := newCallback(t, func(a int8, x float64, s string, f float32, u uint16, big int64) float64 {
		got = fmt.Sprintf("%v %v %v %v %v %v", a, x, s, f, u, big)
		return float64(a) + x + float64(len(s)) + float64(f) + float64(u) + float64(big)
	})
	r, err := mixed(context.Background(), m.Ptr())
	if want := -3 + 2.5 + 5 + 0.25 + 65535 + float64(int64(1)<<40); err != nil || r != want || got != "-3 2.5 mixed 0.25 65535 1099511627776" {
		t.Errorf("mixed = %v, %v (saw %q); want %v", r, err, got, want)
	}
	f := newCallback(t, func(x float64, n int64, h float32) float32 { return float32(x)*float32(n) + h })
	if r, err := flt(context.Background(), f.Ptr(), 1.5, 4); err != nil || r != 6.5 {
		t.Errorf("float = %v, %v; want 6.5", r, err)
	}
	nw := newCallback(t, func(c int8, b bool) int16 {
		if !b {
			return 0
		}
		return int16(c) * 200
	})
	for _, c := range []int8{-100, 7, 127} {
		if r, err := narrow(context.Background(), nw.Ptr(), c); err != nil || r != int32(c)*200 {
			t.Errorf("narrow(%d) = %d, %v; want %d", c, r, err, int32(c)*200)
		}
	}
}
