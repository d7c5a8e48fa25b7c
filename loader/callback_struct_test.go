package loader

import (
	"context"
	"errors"
	"fmt"
	"github.com/runplug/runplug/internal/callconv"
	"sync"
	"testing"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/testenv"
)

// The C types of plugins/cb_struct.c.
type (
	cbII  struct{ A, B int64 }
	cbDD  struct{ X, Y float64 }
	cbMix struct {
		I int32
		F float32
		D float64
	}
	cbBig   struct{ A, B, C int64 }
	cbFF    struct{ A, B float32 }
	cbSmall struct {
		C int8
		S int16
		I int32
	}
)

// cbISum and cbFSum are cb_struct.c's isum and fsum.
func cbISum(p cbII, m cbMix, b cbBig, x int64) int64 {
	return p.A*3 + p.B*5 + int64(m.I*7) + b.A*11 + b.B*13 + b.C*17 + x*19
}

func cbFSum(q cbDD, m cbMix, y float64) float64 {
	return q.X*1.5 + q.Y*2.5 + float64(m.F)*3.5 + m.D*4.5 + y*5.5
}

// callStruct binds caller (a C function calling its first argument with
// arguments made from its second), calls it with the C callee's address
// and with a Go callback's, and returns both results.
func callStruct[R any](t *testing.T, p *Plugin, caller, callee string, fn any, seed int64) (c, g R) {
	t.Helper()
	call, err := Bind2[uintptr, int64, R](fnOf(t, p, caller))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := p.Func(callee)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := NewCallback(fn)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Release()
	if c, err = call(context.Background(), cf.Addr(), seed); err != nil {
		t.Fatalf("%s(%s): %v", caller, callee, err)
	}
	if g, err = call(context.Background(), cb.Ptr(), seed); err != nil {
		t.Fatalf("%s(Go callback): %v", caller, err)
	}
	return c, g
}

// TestCallbackStructs: Go callbacks taking and returning structs by value
// of each class (INTEGER pair, SSE pair, mixed, MEMORY through the hidden
// pointer), a 24-byte argument on the stack, more than 6 integer and 8
// float arguments, and a small struct that no longer fits the registers,
// each called by C code the way it calls the C callee of the same
// signature: both must give the same result, which weighs every argument
// differently.
func TestCallbackStructs(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	l := newLoader(t, Options{})
	p := load(t, l, "cb_struct")
	for _, seed := range []int64{1, 7, -12345} {
		t.Run("ii", func(t *testing.T) {
			c, g := callStruct[cbII](t, p, "call_ii", "cb_ii", func(p cbII, q cbDD, m cbMix, b cbBig, x int64, y float64) cbII {
				i := cbISum(p, m, b, x)
				return cbII{i, i + int64(cbFSum(q, m, y))}
			}, seed)
			if c != g || c == (cbII{}) {
				t.Errorf("seed %d: C callee %+v, Go callback %+v", seed, c, g)
			}
		})
		t.Run("dd", func(t *testing.T) {
			c, g := callStruct[cbDD](t, p, "call_dd", "cb_dd", func(p cbII, q cbDD, m cbMix, b cbBig, x int64, y float64) cbDD {
				f := cbFSum(q, m, y)
				return cbDD{f, f + float64(cbISum(p, m, b, x))}
			}, seed)
			if c != g || c == (cbDD{}) {
				t.Errorf("seed %d: C callee %+v, Go callback %+v", seed, c, g)
			}
		})
		t.Run("mix", func(t *testing.T) {
			c, g := callStruct[cbMix](t, p, "call_mix", "cb_mix", func(p cbII, q cbDD, m cbMix, b cbBig, x int64, y float64) cbMix {
				f := cbFSum(q, m, y)
				return cbMix{int32(cbISum(p, m, b, x)), float32(f), f * 2}
			}, seed)
			if c != g || c == (cbMix{}) {
				t.Errorf("seed %d: C callee %+v, Go callback %+v", seed, c, g)
			}
		})
		t.Run("big", func(t *testing.T) {
			c, g := callStruct[cbBig](t, p, "call_big", "cb_big", func(p cbII, q cbDD, m cbMix, b cbBig, x int64, y float64) cbBig {
				i := cbISum(p, m, b, x)
				return cbBig{i, i * 2, int64(cbFSum(q, m, y))}
			}, seed)
			if c != g || c == (cbBig{}) {
				t.Errorf("seed %d: C callee %+v, Go callback %+v", seed, c, g)
			}
		})
		t.Run("big-on-plugin-thread", func(t *testing.T) {
			c, g := callStruct[cbBig](t, p, "call_big_thread", "cb_big", func(p cbII, q cbDD, m cbMix, b cbBig, x int64, y float64) cbBig {
				i := cbISum(p, m, b, x)
				return cbBig{i, i * 2, int64(cbFSum(q, m, y))}
			}, seed)
			if c != g || c == (cbBig{}) {
				t.Errorf("seed %d: C callee %+v, Go callback %+v", seed, c, g)
			}
		})
		t.Run("ff", func(t *testing.T) {
			c, g := callStruct[cbFF](t, p, "call_ff", "cb_ff", func(x cbFF, y float32, k cbSmall, z cbFF) cbFF {
				return cbFF{x.A*2 + y + z.B + float32(k.C), x.B*3 - z.A + float32(k.S) + float32(k.I)*0.5}
			}, seed)
			if c != g || c == (cbFF{}) {
				t.Errorf("seed %d: C callee %+v, Go callback %+v", seed, c, g)
			}
		})
		t.Run("many", func(t *testing.T) {
			c, g := callStruct[float64](t, p, "call_many", "cb_many", func(a1, a2, a3, a4, a5, a6, a7 int64, d1, d2, d3, d4, d5, d6, d7, d8, d9 float64, c int8, f float32, s cbII) float64 {
				return float64(a1+2*a2+3*a3+4*a4+5*a5+6*a6+7*a7+8*int64(c)+9*s.A+10*s.B) +
					d1*1.5 + d2*2.5 + d3*3.5 + d4*4.5 + d5*5.5 + d6*6.5 + d7*7.5 + d8*8.5 + d9*9.5 + float64(f)*10.5
			}, seed)
			if c != g || c == 0 {
				t.Errorf("seed %d: C callee %v, Go callback %v", seed, c, g)
			}
		})
		t.Run("spill", func(t *testing.T) {
			c, g := callStruct[int64](t, p, "call_spill", "cb_spill", func(a1, a2, a3, a4, a5 int64, s cbII, a6 int64) int64 {
				return a1 + 2*a2 + 3*a3 + 4*a4 + 5*a5 + 6*s.A + 7*s.B + 8*a6
			}, seed)
			if c != g || c == 0 {
				t.Errorf("seed %d: C callee %v, Go callback %v", seed, c, g)
			}
		})
	}
}

// TestCallbackStructPanic: a panic in a callback of the general form (a
// MEMORY-class result, stack arguments) ends the plugin call that reached
// it with a *pcall.HostPanicError, as in the register forms.
func TestCallbackStructPanic(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	l := newLoader(t, Options{})
	p := load(t, l, "cb_struct")
	call, err := Bind2[uintptr, int64, cbBig](fnOf(t, p, "call_big"))
	if err != nil {
		t.Fatal(err)
	}
	cb, err := NewCallback(func(p cbII, q cbDD, m cbMix, b cbBig, x int64, y float64) cbBig {
		panic("struct callback")
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Release()
	_, err = call(context.Background(), cb.Ptr(), 3)
	var hp *pcall.HostPanicError
	if !errors.As(err, &hp) || hp.Value != "struct callback" {
		t.Fatalf("call_big with a panicking callback: %v, want a HostPanicError", err)
	}
}

// TestCallbackStructRefusals: what has no C form is refused when the
// callback is made, naming the argument or result.
func TestCallbackStructRefusals(t *testing.T) {
	for name, fn := range map[string]any{
		"slice field":   func(struct{ B []byte }) {},
		"string field":  func(a, b, c, d, e, f, g int, s struct{ S string }) {},
		"array result":  func() [3]int64 { return [3]int64{} },
		"string result": func(cbBig) string { return "" },
	} {
		cb, err := NewCallback(fn)
		if err == nil {
			cb.Release()
			t.Errorf("%s: NewCallback succeeded", name)
			continue
		}
		var se *SignatureError
		if !errors.As(err, &se) || !errors.Is(err, ErrSignature) {
			t.Errorf("%s: %v, want a *SignatureError", name, err)
		}
	}
}

// TestHostFuncStructs: a host function (imported by name, not passed as
// a pointer) takes the general form too: structs by value, a MEMORY
// result, a 24-byte argument on the stack.
func TestHostFuncStructs(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	l := newLoader(t, Options{})
	release, err := l.RegisterHostFunc("rp_host_big", func(p cbII, q cbDD, m cbMix, b cbBig, x int64, y float64) cbBig {
		i := cbISum(p, m, b, x)
		return cbBig{i, i * 2, int64(cbFSum(q, m, y))}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	p := load(t, l, "cb_struct")
	viaHost, err := Bind1[int64, cbBig](fnOf(t, p, "call_host_big"))
	if err != nil {
		t.Fatal(err)
	}
	for _, seed := range []int64{2, -99} {
		c, _ := callStruct[cbBig](t, p, "call_big", "cb_big", func(cbII, cbDD, cbMix, cbBig, int64, float64) cbBig { return cbBig{} }, seed)
		g, err := viaHost(context.Background(), seed)
		if err != nil || g != c || c == (cbBig{}) {
			t.Errorf("seed %d: C callee %+v, host function %+v (%v)", seed, c, g, err)
		}
	}
}

// TestCallbackStructConcurrent: one general-form callback called from
// several threads at once (each protected call on its own goroutine) gets
// each call's own arguments (run with -race).
func TestCallbackStructConcurrent(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	l := newLoader(t, Options{})
	p := load(t, l, "cb_struct")
	call, err := Bind2[uintptr, int64, cbII](fnOf(t, p, "call_ii"))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := p.Func("cb_ii")
	if err != nil {
		t.Fatal(err)
	}
	cb, err := NewCallback(func(p cbII, q cbDD, m cbMix, b cbBig, x int64, y float64) cbII {
		i := cbISum(p, m, b, x)
		return cbII{i, i + int64(cbFSum(q, m, y))}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Release()
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for w := int64(0); w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int64(0); i < 200; i++ {
				seed := w*1000 + i
				c, err1 := call(context.Background(), cf.Addr(), seed)
				g, err2 := call(context.Background(), cb.Ptr(), seed)
				if err1 != nil || err2 != nil || c != g {
					errs <- fmt.Sprintf("seed %d: C %+v (%v), Go %+v (%v)", seed, c, err1, g, err2)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestCallbackStructPanicOnPluginThread: a callback returning a struct
// in memory that panics on a plugin's thread (no plugin call to end)
// returns the caller's buffer in rax as the psABI says (x86-64), so C code
// that reads the result through rax does not crash; the panic goes to the
// handler.
func TestCallbackStructPanicOnPluginThread(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	l := newLoader(t, Options{})
	p := load(t, l, "cb_struct")
	call, err := Bind2[uintptr, int64, cbBig](fnOf(t, p, "call_big_thread"))
	if err != nil {
		t.Fatal(err)
	}
	cb, err := NewCallback(func(p cbII, q cbDD, m cbMix, b cbBig, x int64, y float64) cbBig {
		panic("on a plugin thread")
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Release()
	got := make(chan *pcall.HostPanicError, 1)
	cb.SetPanicHandler(func(e *pcall.HostPanicError) { got <- e })
	if _, err := call(context.Background(), cb.Ptr(), 5); err != nil {
		t.Fatalf("call_big_thread: %v", err)
	}
	<-got
	if callconv.Native == callconv.AAPCS64 {
		return // the AAPCS64 hands nothing back for a result in memory (x8 is not returned in x0)
	}
	rax, err := Bind2[uintptr, int64, int64](fnOf(t, p, "call_big_rax_thread"))
	if err != nil {
		t.Fatal(err)
	}
	if d, err := rax(context.Background(), cb.Ptr(), 5); err != nil || d != 0 {
		t.Errorf("panicking callback: rax - buffer = %d (%v), want 0", d, err)
	}
	select {
	case e := <-got:
		if e.Value != "on a plugin thread" {
			t.Errorf("handler got %v", e.Value)
		}
	default:
		t.Error("the panic handler was not called")
	}
}
