//go:build linux

package loader_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runplug/runplug/abi"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// TestCallbackIsolated passes Go callbacks (their Ptr, as in process) to
// plugins/cb_store.c in process and isolated: called at once (nested in
// the call), stored and called by a later call, called by a thread the
// plugin created (isolated: over the child's upcall channel), with every
// argument class and a string, and inside a general call (s24_via, whose
// callback argument is a stack word). Both must give the same results.
func TestCallbackIsolated(t *testing.T) {
	testenv.NeedNative(t, "isolated plugins (seccomp filters, user namespaces)")
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
		callPtr, err1 := loader.Bind3[uintptr, int64, int64, int64](fnOf(t, p, "cb_call"))
		store, err2 := loader.Bind1[uintptr, loader.Void](fnOf(t, p, "cb_store"))
		stored, err3 := loader.Bind2[int64, int64, int64](fnOf(t, p, "cb_call_stored"))
		start, err4 := loader.Bind1[int64, uint64](fnOf(t, p, "cb_thread_start"))
		join, err5 := loader.Bind1[uint64, int64](fnOf(t, p, "cb_thread_join"))
		callMixed, err6 := loader.Bind1[uintptr, float64](fnOf(t, p, "cb_call_mixed"))
		var via func(context.Context, isoS24, int64, int64, int64, int64, int64, int64, int64, uintptr) (isoS24, error)
		err7 := loader.Bind(fnOf(t, ffi, "s24_via"), &via)
		if err := errors.Join(err1, err2, err3, err4, err5, err6, err7); err != nil {
			t.Fatal(err)
		}
		var err error
		if r.call, err = callPtr(context.Background(), mul.Ptr(), 7, 3); err != nil {
			t.Fatalf("isolated %v: cb_call: %v", p.Isolated(), err)
		}
		if _, err := store(context.Background(), mul.Ptr()); err != nil {
			t.Fatal(err)
		}
		if r.stored, err = stored(context.Background(), 4, 2); err != nil {
			t.Fatalf("isolated %v: cb_call_stored: %v", p.Isolated(), err)
		}
		h, err := start(context.Background(), 50)
		if err != nil || h == 0 {
			t.Fatalf("isolated %v: cb_thread_start: %#x, %v", p.Isolated(), h, err)
		}
		if r.thread, err = join(context.Background(), h); err != nil {
			t.Fatalf("isolated %v: cb_thread_join: %v", p.Isolated(), err)
		}
		if r.mixed, err = callMixed(context.Background(), mixed.Ptr()); err != nil {
			t.Fatalf("isolated %v: cb_call_mixed: %v", p.Isolated(), err)
		}
		if r.via, err = via(context.Background(), isoS24{5, 6, 7}, 1, 2, 3, 4, 5, 6, 7, neg.Ptr()); err != nil {
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
// nested in a call ends that call with the *loader.HostPanicError of the
// host's Go function; on a plugin thread the plugin gets 0 and the
// Callback's panic handler gets the panic; after Release both report
// ErrCallbackFreed.
func TestCallbackIsolatedPanics(t *testing.T) {
	testenv.NeedNative(t, "isolated plugins (seccomp filters, user namespaces)")
	in, iso := both(t, "cb_store", loader.Options{KeepAfterFault: true})
	for _, p := range []*loader.Plugin{in, iso} {
		store, _ := loader.Bind1[uintptr, loader.Void](fnOf(t, p, "cb_store"))
		callStored, _ := loader.Bind2[int64, int64, int64](fnOf(t, p, "cb_call_stored"))
		start, _ := loader.Bind1[int64, uint64](fnOf(t, p, "cb_thread_start"))
		join, _ := loader.Bind1[uint64, int64](fnOf(t, p, "cb_thread_join"))
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
		var seen []*loader.HostPanicError
		cb.SetPanicHandler(func(e *loader.HostPanicError) {
			mu.Lock()
			seen = append(seen, e)
			mu.Unlock()
		})
		if _, err := store(context.Background(), cb.Ptr()); err != nil {
			t.Fatal(err)
		}
		_, err = callStored(context.Background(), 1, 0)
		var hp *loader.HostPanicError
		if !errors.As(err, &hp) || hp.Value != "one is not allowed" || !strings.Contains(hp.Func, "TestCallbackIsolatedPanics") {
			t.Fatalf("isolated %v: cb_call_stored(1) = %v, want a HostPanicError naming the Go function", p.Isolated(), err)
		}
		if r, err := callStored(context.Background(), 0, 0); err != nil || r != 100 {
			t.Fatalf("isolated %v: after the panic: %d, %v", p.Isolated(), r, err)
		}
		h, err := start(context.Background(), 3)
		if err != nil {
			t.Fatal(err)
		}
		if sum, err := join(context.Background(), h); err != nil || sum != 200 {
			t.Fatalf("isolated %v: plugin thread summed %d, %v; want 200", p.Isolated(), sum, err)
		}
		mu.Lock()
		if len(seen) != 1 || seen[0].Value != "one is not allowed" || cb.Err() != error(seen[0]) {
			t.Fatalf("isolated %v: handler saw %v, Err %v", p.Isolated(), seen, cb.Err())
		}
		mu.Unlock()
		cb.Release()
		if _, err := callStored(context.Background(), 0, 0); !errors.Is(err, pcall.ErrCallbackFreed) {
			t.Fatalf("isolated %v: call through a released callback: %v, want ErrCallbackFreed", p.Isolated(), err)
		}
		h, _ = start(context.Background(), 2)
		if sum, err := join(context.Background(), h); err != nil || sum != 0 {
			t.Fatalf("isolated %v: plugin thread through a released callback: %d, %v; want 0", p.Isolated(), sum, err)
		}
		mu.Lock()
		if len(seen) != 3 || !errors.Is(seen[2], pcall.ErrCallbackFreed) {
			t.Fatalf("isolated %v: handler saw %v", p.Isolated(), seen)
		}
		mu.Unlock()
	}
}

// TestCloseFromHostCall: a callback that closes (or restarts) the plugin
// whose call is running it gets an error wrapping pcall.ErrCloseInCall,
// in process and isolated, instead of waiting for that call forever; the
// plugin stays open, and closes once the call has returned.
func TestCloseFromHostCall(t *testing.T) {
	testenv.NeedNative(t, "isolated plugins (seccomp filters, user namespaces)")
	in, iso := both(t, "cb_store", loader.Options{})
	for _, p := range []*loader.Plugin{in, iso} {
		var closeErr, restartErr error
		cb, err := loader.NewCallback(func(a, b int64) int64 {
			closeErr = p.Close(context.Background())
			if p.Isolated() {
				restartErr = p.Restart(context.Background())
			}
			return a + b
		})
		if err != nil {
			t.Fatal(err)
		}
		callPtr, err := loader.Bind3[uintptr, int64, int64, int64](fnOf(t, p, "cb_call"))
		if err != nil {
			t.Fatal(err)
		}
		if r, err := callPtr(context.Background(), cb.Ptr(), 2, 3); err != nil || r != 5 {
			t.Fatalf("isolated %v: cb_call = %d, %v", p.Isolated(), r, err)
		}
		if !errors.Is(closeErr, pcall.ErrCloseInCall) {
			t.Errorf("isolated %v: Close from the callback: %v, want ErrCloseInCall", p.Isolated(), closeErr)
		}
		if p.Isolated() && !errors.Is(restartErr, pcall.ErrCloseInCall) {
			t.Errorf("Restart from the callback: %v, want ErrCloseInCall", restartErr)
		}
		cb.Release()
		if err := p.Close(context.Background()); err != nil {
			t.Errorf("isolated %v: Close after the call: %v", p.Isolated(), err)
		}
	}
}

// The C types of plugins/cb_struct.c.
type (
	isoII  struct{ A, B int64 }
	isoDD  struct{ X, Y float64 }
	isoMix struct {
		I int32
		F float32
		D float64
	}
	isoBig struct{ A, B, C int64 }
	isoFF  struct{ A, B float32 }
	isoSm  struct {
		C int8
		S int16
		I int32
	}
)

func isoISum(p isoII, m isoMix, b isoBig, x int64) int64 {
	return p.A*3 + p.B*5 + int64(m.I*7) + b.A*11 + b.B*13 + b.C*17 + x*19
}

func isoFSum(q isoDD, m isoMix, y float64) float64 {
	return q.X*1.5 + q.Y*2.5 + float64(m.F)*3.5 + m.D*4.5 + y*5.5
}

// TestCallbackStructsIsolated: Go callbacks of the general form (structs
// by value both ways in each class: INTEGER pair, SSE pair, mixed, MEMORY
// through the hidden pointer; stack arguments) passed to
// plugins/cb_struct.c's callers, in process and isolated, on the calling
// thread and on a thread the plugin created: the results must be the C
// callee's, in both places.
func TestCallbackStructsIsolated(t *testing.T) {
	testenv.NeedNative(t, "isolated plugins (seccomp filters, user namespaces)")
	in, iso := both(t, "cb_struct", loader.Options{})
	type tcase struct {
		caller, callee string
		fn             any
		run            func(p *loader.Plugin, caller string, fn uintptr, seed int64) (any, error)
	}
	bind := func(res any) func(p *loader.Plugin, caller string, fn uintptr, seed int64) (any, error) {
		return func(p *loader.Plugin, caller string, fn uintptr, seed int64) (any, error) {
			switch res.(type) {
			case isoII:
				f, err := loader.Bind2[uintptr, int64, isoII](fnOf(t, p, caller))
				if err != nil {
					return nil, err
				}
				return f(context.Background(), fn, seed)
			case isoDD:
				f, err := loader.Bind2[uintptr, int64, isoDD](fnOf(t, p, caller))
				if err != nil {
					return nil, err
				}
				return f(context.Background(), fn, seed)
			case isoMix:
				f, err := loader.Bind2[uintptr, int64, isoMix](fnOf(t, p, caller))
				if err != nil {
					return nil, err
				}
				return f(context.Background(), fn, seed)
			case isoBig:
				f, err := loader.Bind2[uintptr, int64, isoBig](fnOf(t, p, caller))
				if err != nil {
					return nil, err
				}
				return f(context.Background(), fn, seed)
			case isoFF:
				f, err := loader.Bind2[uintptr, int64, isoFF](fnOf(t, p, caller))
				if err != nil {
					return nil, err
				}
				return f(context.Background(), fn, seed)
			case float64:
				f, err := loader.Bind2[uintptr, int64, float64](fnOf(t, p, caller))
				if err != nil {
					return nil, err
				}
				return f(context.Background(), fn, seed)
			default:
				f, err := loader.Bind2[uintptr, int64, int64](fnOf(t, p, caller))
				if err != nil {
					return nil, err
				}
				return f(context.Background(), fn, seed)
			}
		}
	}
	cases := []tcase{
		{"call_ii", "cb_ii", func(p isoII, q isoDD, m isoMix, b isoBig, x int64, y float64) isoII {
			i := isoISum(p, m, b, x)
			return isoII{i, i + int64(isoFSum(q, m, y))}
		}, bind(isoII{})},
		{"call_dd", "cb_dd", func(p isoII, q isoDD, m isoMix, b isoBig, x int64, y float64) isoDD {
			f := isoFSum(q, m, y)
			return isoDD{f, f + float64(isoISum(p, m, b, x))}
		}, bind(isoDD{})},
		{"call_mix", "cb_mix", func(p isoII, q isoDD, m isoMix, b isoBig, x int64, y float64) isoMix {
			f := isoFSum(q, m, y)
			return isoMix{int32(isoISum(p, m, b, x)), float32(f), f * 2}
		}, bind(isoMix{})},
		{"call_big", "cb_big", func(p isoII, q isoDD, m isoMix, b isoBig, x int64, y float64) isoBig {
			i := isoISum(p, m, b, x)
			return isoBig{i, i * 2, int64(isoFSum(q, m, y))}
		}, bind(isoBig{})},
		{"call_big_thread", "cb_big", func(p isoII, q isoDD, m isoMix, b isoBig, x int64, y float64) isoBig {
			i := isoISum(p, m, b, x)
			return isoBig{i, i * 2, int64(isoFSum(q, m, y))}
		}, bind(isoBig{})},
		{"call_ff", "cb_ff", func(x isoFF, y float32, k isoSm, z isoFF) isoFF {
			return isoFF{x.A*2 + y + z.B + float32(k.C), x.B*3 - z.A + float32(k.S) + float32(k.I)*0.5}
		}, bind(isoFF{})},
		{"call_many", "cb_many", func(a1, a2, a3, a4, a5, a6, a7 int64, d1, d2, d3, d4, d5, d6, d7, d8, d9 float64, c int8, f float32, s isoII) float64 {
			return float64(a1+2*a2+3*a3+4*a4+5*a5+6*a6+7*a7+8*int64(c)+9*s.A+10*s.B) +
				d1*1.5 + d2*2.5 + d3*3.5 + d4*4.5 + d5*5.5 + d6*6.5 + d7*7.5 + d8*8.5 + d9*9.5 + float64(f)*10.5
		}, bind(float64(0))},
		{"call_spill", "cb_spill", func(a1, a2, a3, a4, a5 int64, s isoII, a6 int64) int64 {
			return a1 + 2*a2 + 3*a3 + 4*a4 + 5*a5 + 6*s.A + 7*s.B + 8*a6
		}, bind(int64(0))},
	}
	for _, c := range cases {
		t.Run(c.caller, func(t *testing.T) {
			cb, err := loader.NewCallback(c.fn)
			if err != nil {
				t.Fatal(err)
			}
			defer cb.Release()
			for _, seed := range []int64{1, -12345} {
				var got []any
				for _, p := range []*loader.Plugin{in, iso} {
					callee, err := p.Func(c.callee)
					if err != nil {
						t.Fatal(err)
					}
					for _, fn := range []uintptr{callee.Addr(), cb.Ptr()} {
						r, err := c.run(p, c.caller, fn, seed)
						if err != nil {
							t.Fatalf("isolated %v: %s(%#x, %d): %v", p.Isolated(), c.caller, fn, seed, err)
						}
						got = append(got, r)
					}
				}
				for i := 1; i < len(got); i++ {
					if got[i] != got[0] {
						t.Fatalf("seed %d: C callee, Go callback in process, then isolated: %v", seed, got)
					}
				}
			}
		})
	}
}

// TestCallbackStructIsolatedRefusals: a panic in an isolated plugin's
// general-form callback ends the call with the host function's
// *loader.HostPanicError; a host function of the general form, which an
// isolated plugin cannot call, fails that call; a general-form callback
// with a string argument is refused when passed (ErrUnsupported).
func TestCallbackStructIsolatedRefusals(t *testing.T) {
	testenv.NeedNative(t, "isolated plugins (seccomp filters, user namespaces)")
	if !pcall.Supported {
		testenv.Skipf(t, "no native calls in this build")
	}
	_, iso := both(t, "cb_struct", loader.Options{KeepAfterFault: true})
	call, err := loader.Bind2[uintptr, int64, isoBig](fnOf(t, iso, "call_big"))
	if err != nil {
		t.Fatal(err)
	}
	cb, err := loader.NewCallback(func(p isoII, q isoDD, m isoMix, b isoBig, x int64, y float64) isoBig {
		panic("struct callback")
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Release()
	_, err = call(context.Background(), cb.Ptr(), 3)
	var hp *loader.HostPanicError
	if !errors.As(err, &hp) || hp.Value != "struct callback" || !strings.Contains(hp.Func, "TestCallbackStructIsolatedRefusals") {
		t.Fatalf("call_big with a panicking callback: %v, want the Go function's HostPanicError", err)
	}
	strCB, err := loader.NewCallback(func(a, b, c, d, e, f, g int64, s string) int64 { return 0 })
	if err != nil {
		t.Fatal(err)
	}
	defer strCB.Release()
	if _, err := call(context.Background(), strCB.Ptr(), 3); !errors.Is(err, loader.ErrUnsupported) || !strings.Contains(err.Error(), "cannot be passed to an isolated plugin") {
		t.Fatalf("a general-form callback with a string: %v, want ErrUnsupported: cannot be passed to an isolated plugin", err)
	}

}

// TestHostFuncStructsIsolated: a host function of the general form (structs
// by value, a MEMORY-class result, a 24-byte argument on the stack),
// imported by name, called by an isolated plugin (its form learnt on the
// first call) on its calling thread and on a thread of its own, gives the
// C callee's result; one with a string argument among stack arguments
// fails, not supported.
func TestHostFuncStructsIsolated(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	testenv.NeedNative(t, "isolated plugins (seccomp filters, user namespaces)")
	if !pcall.Supported {
		testenv.Skipf(t, "no native calls in this build")
	}
	l := loader.New(loader.Options{Isolation: isolate.New(isolate.Options{}), KeepAfterFault: true})
	defer l.Close(context.Background())
	if _, err := l.RegisterHostFunc("rp_host_big", func(p isoII, q isoDD, m isoMix, b isoBig, x int64, y float64) isoBig {
		i := isoISum(p, m, b, x)
		return isoBig{i, i * 2, int64(isoFSum(q, m, y))}
	}); err != nil {
		t.Fatal(err)
	}
	p, err := l.Load(context.Background(), plugintest.Build(t, "cb_struct"))
	if err != nil {
		t.Fatal(err)
	}
	viaHost, err := loader.Bind1[int64, isoBig](fnOf(t, p, "call_host_big"))
	if err != nil {
		t.Fatal(err)
	}
	callBig, err := loader.Bind2[uintptr, int64, isoBig](fnOf(t, p, "call_big"))
	if err != nil {
		t.Fatal(err)
	}
	cbBig, err := p.Func("cb_big")
	if err != nil {
		t.Fatal(err)
	}
	for _, seed := range []int64{2, -99, 5} {
		c, err := callBig(context.Background(), cbBig.Addr(), seed)
		if err != nil {
			t.Fatal(err)
		}
		g, err := viaHost(context.Background(), seed)
		if err != nil || g != c || c == (isoBig{}) {
			t.Errorf("seed %d: C callee %+v, host function %+v (%v)", seed, c, g, err)
		}
	}
}

// TestCallSigCallbackValue: CallSig takes a *Callback for a pointer
// argument, in process and isolated; a released one is refused with
// ErrCallbackFreed before the call.
func TestCallSigCallbackValue(t *testing.T) {
	testenv.NeedNative(t, "isolated plugins (seccomp filters, user namespaces)")
	in, iso := both(t, "cb_store", loader.Options{})
	sig, err := loader.NewSignature(abi.Int64, abi.Pointer, abi.Int64, abi.Int64)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := loader.NewCallback(func(a, b int64) int64 { return a*10 + b })
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*loader.Plugin{in, iso} {
		f, err := p.FuncSig("cb_call", sig)
		if err != nil {
			t.Fatal(err)
		}
		var r int64
		if err := f.CallSig(context.Background(), &r, cb, 4, 2); err != nil || r != 42 {
			t.Fatalf("isolated %v: cb_call(cb, 4, 2) = %d, %v", p.Isolated(), r, err)
		}
	}
	cb.Release()
	for _, p := range []*loader.Plugin{in, iso} {
		f, _ := p.FuncSig("cb_call", sig)
		var r int64
		if err := f.CallSig(context.Background(), &r, cb, 4, 2); !errors.Is(err, pcall.ErrCallbackFreed) {
			t.Fatalf("isolated %v: a released *Callback: %v, want ErrCallbackFreed", p.Isolated(), err)
		}
	}
}

// TestCallbackIsolatedConcurrent: plugin threads of an isolated plugin
// call a stored callback (over the upcall channel) while host goroutines
// pass short-lived callbacks (each a new entry in the child, dropped when
// released) to calls of their own (run with -race).
func TestCallbackIsolatedConcurrent(t *testing.T) {
	testenv.NeedNative(t, "isolated plugins (seccomp filters, user namespaces)")
	if !pcall.Supported {
		testenv.Skipf(t, "no native calls in this build")
	}
	l := loader.New(loader.Options{Isolation: isolate.New(isolate.Options{Channels: 6})})
	defer l.Close(context.Background())
	p, err := l.Load(context.Background(), plugintest.Build(t, "cb_store"))
	if err != nil {
		t.Fatal(err)
	}
	store, _ := loader.Bind1[uintptr, loader.Void](fnOf(t, p, "cb_store"))
	start, _ := loader.Bind1[int64, uint64](fnOf(t, p, "cb_thread_start"))
	join, _ := loader.Bind1[uint64, int64](fnOf(t, p, "cb_thread_join"))
	callPtr, _ := loader.Bind3[uintptr, int64, int64, int64](fnOf(t, p, "cb_call"))
	if store == nil || start == nil || join == nil || callPtr == nil {
		t.Fatal("bind failed")
	}
	var mu sync.Mutex
	total := int64(0)
	cb, err := loader.NewCallback(func(a, b int64) int64 {
		mu.Lock()
		total += b
		mu.Unlock()
		return a + b
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Release()
	if _, err := store(context.Background(), cb.Ptr()); err != nil {
		t.Fatal(err)
	}
	const threads, n = 3, 200
	var wg sync.WaitGroup
	for g := 0; g < threads; g++ {
		wg.Add(2)
		go func() {
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
		go func(g int) {
			defer wg.Done()
			for i := 0; i < n/4; i++ {
				k := int64(g*n + i)
				x, err := loader.NewCallback(func(a, b int64) int64 { return a * b * k })
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
	mu.Lock()
	defer mu.Unlock()
	if total != threads*n || cb.Err() != nil {
		t.Fatalf("the stored callback ran %d times (want %d), Err %v", total, threads*n, cb.Err())
	}
}

// TestIsolatedCallbackLifecycle: after Restart a Callback passed before
// gets a fresh entry in the new child (nested and from a plugin thread);
// with a single channel there is no upcall channel, and a plugin thread's
// calls of a callback are served during the host's next call; a deadline
// ends a general call as it ends a register call (the child is killed).
func TestIsolatedCallbackLifecycle(t *testing.T) {
	testenv.NeedNative(t, "isolated plugins (seccomp filters, user namespaces)")
	if !pcall.Supported {
		testenv.Skipf(t, "no native calls in this build")
	}
	for _, channels := range []int{4, 1} {
		l := loader.New(loader.Options{Isolation: isolate.New(isolate.Options{Channels: channels})})
		defer l.Close(context.Background())
		p, err := l.Load(context.Background(), plugintest.Build(t, "cb_store"))
		if err != nil {
			t.Fatal(err)
		}
		callPtr, _ := loader.Bind3[uintptr, int64, int64, int64](fnOf(t, p, "cb_call"))
		store, _ := loader.Bind1[uintptr, loader.Void](fnOf(t, p, "cb_store"))
		start, _ := loader.Bind1[int64, uint64](fnOf(t, p, "cb_thread_start"))
		join, _ := loader.Bind1[uint64, int64](fnOf(t, p, "cb_thread_join"))
		if callPtr == nil || store == nil || start == nil || join == nil {
			t.Fatal("bind failed")
		}
		cb, err := loader.NewCallback(func(a, b int64) int64 { return a + b })
		if err != nil {
			t.Fatal(err)
		}
		defer cb.Release()
		for round := 0; round < 2; round++ {
			if r, err := callPtr(context.Background(), cb.Ptr(), 40, 2); err != nil || r != 42 {
				t.Fatalf("channels %d round %d: cb_call = %d, %v", channels, round, r, err)
			}
			if _, err := store(context.Background(), cb.Ptr()); err != nil {
				t.Fatal(err)
			}
			h, err := start(context.Background(), 10)
			if err != nil || h == 0 {
				t.Fatalf("cb_thread_start: %#x, %v", h, err)
			}
			// With one channel there is no upcall channel: the plugin
			// thread's calls wait for the host's next call (join) and
			// are served on its channel.
			want := int64(10*9/2 + 10)
			if sum, err := join(context.Background(), h); err != nil || sum != want {
				t.Fatalf("channels %d round %d: plugin thread summed %d, %v; want %d", channels, round, sum, err, want)
			}
			if err := p.Restart(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}

	l := loader.New(loader.Options{Isolation: isolate.New(isolate.Options{})})
	defer l.Close(context.Background())
	p, err := l.Load(context.Background(), plugintest.Build(t, "ffi_call"))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := loader.NewSignature(abi.Int64, rep7()...)
	if err != nil {
		t.Fatal(err)
	}
	f, err := p.FuncSig("spin_stack", sig)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var r int64
	err = f.CallSig(ctx, &r, 1, 2, 3, 4, 5, 6, 7)
	if !errors.Is(err, loader.ErrDeadline) {
		t.Fatalf("spin_stack with a deadline: %v, want ErrDeadline", err)
	}
}

func rep7() []*abi.Type {
	return []*abi.Type{abi.Int64, abi.Int64, abi.Int64, abi.Int64, abi.Int64, abi.Int64, abi.Int64}
}

// TestHostFuncFromPluginThreadIsolated: a host function called on a
// thread the plugin created, while the host's call that joins it runs
// (plugins/host_calls.c's call_add_thread), works isolated as in
// process: the thread borrows that call's channel (no callback, so no
// upcall channel, exists).
func TestHostFuncFromPluginThreadIsolated(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	testenv.NeedNative(t, "isolated plugins (seccomp filters, user namespaces)")
	for _, isolated := range []bool{false, true} {
		var lo loader.Options
		if isolated {
			lo.Isolation = isolate.New(isolate.Options{})
		}
		l := loader.New(lo)
		defer l.Close(context.Background())
		for name, fn := range map[string]any{
			"host_add":     func(a, b int64) int64 { return a*100 + b },
			"host_mix":     func(x float64, f float32, n int32, s int8) float64 { return 0 },
			"host_half":    func(x float32) float32 { return x / 2 },
			"host_strlen":  func(s string) int32 { return int32(len(s)) },
			"host_note":    func(v int16) {},
			"host_raw":     func(a int64, b float64) int64 { return a },
			"host_reenter": func(x int64) int64 { return x },
			"host_panic":   func(x int64) int64 { panic("no") },
		} {
			if _, err := l.RegisterHostFunc(name, fn); err != nil {
				t.Fatal(err)
			}
		}
		p, err := l.Load(context.Background(), plugintest.Build(t, "host_calls"))
		if err != nil {
			t.Fatal(err)
		}
		f, err := loader.Bind2[int64, int64, int64](fnOf(t, p, "call_add_thread"))
		if err != nil {
			t.Fatal(err)
		}
		for i := int64(0); i < 20; i++ {
			if r, err := f(context.Background(), i, 7); err != nil || r != i*100+7 {
				t.Fatalf("isolated %v: call_add_thread(%d, 7) = %d, %v", isolated, i, r, err)
			}
		}
	}
}
