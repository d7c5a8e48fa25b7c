package loader

import (
	"context"
	"errors"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/sysmaps"
	"github.com/runplug/runplug/internal/testenv"
	"github.com/runplug/runplug/internal/wire"
)

// hostCalls records what host_calls' host functions saw.
type hostCalls struct {
	mu      sync.Mutex
	notes   []int16
	strs    []string
	mix     [4]float64
	reenter func(context.Context, int64) (int64, error) // bound to the plugin's leaf
}

// register registers every host function host_calls imports, with
// host_panic running panicker.
func (h *hostCalls) register(t testing.TB, l *Loader, panicker func(int64) int64) {
	t.Helper()
	fns := map[string]any{
		"host_add": func(a, b int64) int64 { return a + b },
		"host_mix": func(x float64, f float32, n int32, s int8) float64 {
			h.mu.Lock()
			h.mix = [4]float64{x, float64(f), float64(n), float64(s)}
			h.mu.Unlock()
			return x*float64(f) + float64(n) + float64(s)
		},
		"host_half": func(x float32) float32 { return x / 2 },
		"host_strlen": func(s string) int32 {
			h.mu.Lock()
			h.strs = append(h.strs, s)
			h.mu.Unlock()
			return int32(len(s))
		},
		"host_note": func(v int16) {
			h.mu.Lock()
			h.notes = append(h.notes, v)
			h.mu.Unlock()
		},
		"host_raw": wire.RawHostFunc(func(a *pcall.Args) pcall.Result {
			return pcall.Result{Int: a.Int[0] + uint64(int64(a.Float[0]))}
		}),
		"host_reenter": func(x int64) int64 {
			r, err := h.reenter(context.Background(), x)
			if err != nil {
				panic(err)
			}
			return r
		},
		"host_panic": panicker,
	}
	for name, fn := range fns {
		release, err := l.RegisterHostFunc(name, fn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(release)
	}
}

func TestHostFuncCalls(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	l := newLoader(t, Options{})
	var h hostCalls
	h.register(t, l, func(x int64) int64 { return -x })
	p := load(t, l, "host_calls")
	var err error
	if h.reenter, err = Bind1[int64, int64](fnOf(t, p, "leaf")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		run  func() (any, error)
		want any
	}{
		{"int args and result", func() (any, error) {
			f, _ := Bind2[int64, int64, int64](fnOf(t, p, "call_add"))
			return f(context.Background(), 40, -1)
		}, int64(40)},
		{"int extremes", func() (any, error) {
			f, _ := Bind2[int64, int64, int64](fnOf(t, p, "call_add"))
			return f(context.Background(), math.MaxInt64, math.MinInt64)
		}, int64(0)},
		{"mixed float and narrow ints", func() (any, error) {
			f, _ := Bind4[float64, float32, int32, int8, float64](fnOf(t, p, "call_mix"))
			return f(context.Background(), 2.5, 4, -100, -3)
		}, float64(2.5*4 - 100 - 3)},
		{"float32", func() (any, error) {
			f, _ := Bind1[float32, float32](fnOf(t, p, "call_half"))
			return f(context.Background(), -3)
		}, float32(-1.5)},
		{"string argument", func() (any, error) {
			f, _ := Bind0[int32](fnOf(t, p, "call_strlen"))
			return f(context.Background())
		}, int32(len("hello, host"))},
		{"no result, int16 argument", func() (any, error) {
			f, _ := Bind1[int16, int64](fnOf(t, p, "call_note"))
			return f(context.Background(), -32768)
		}, int64(7)},
		{"raw form", func() (any, error) {
			f, _ := Bind2[int64, float64, int64](fnOf(t, p, "call_raw"))
			return f(context.Background(), 5, 37.9)
		}, int64(42)},
		{"nested call into the plugin", func() (any, error) {
			f, _ := Bind1[int64, int64](fnOf(t, p, "call_reenter"))
			return f(context.Background(), 5)
		}, int64(16)},
		{"from a thread the plugin created", func() (any, error) {
			f, _ := Bind2[int64, int64, int64](fnOf(t, p, "call_add_thread"))
			return f(context.Background(), -8, 3)
		}, int64(-5)},
		{"healthy panicker", func() (any, error) {
			f, _ := Bind1[int64, int64](fnOf(t, p, "call_panic"))
			return f(context.Background(), 9)
		}, int64(-9)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.run()
			if err != nil || got != tt.want {
				t.Fatalf("got %v (%T), %v; want %v (%T)", got, got, err, tt.want, tt.want)
			}
		})
	}
	if h.mix != [4]float64{2.5, 4, -100, -3} {
		t.Errorf("host_mix saw %v", h.mix)
	}
	if len(h.strs) != 1 || h.strs[0] != "hello, host" {
		t.Errorf("host_strlen saw %q", h.strs)
	}
	if len(h.notes) != 1 || h.notes[0] != -32768 {
		t.Errorf("host_note saw %v", h.notes)
	}
}

func TestHostFuncPanic(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	var nilp *int
	tests := []struct {
		name    string
		panic   func(int64) int64
		check   func(t *testing.T, e *pcall.HostPanicError)
		wantErr error
	}{
		{"panic value", func(x int64) int64 { panic("host gave up") }, func(t *testing.T, e *pcall.HostPanicError) {
			if e.Value != "host gave up" {
				t.Errorf("Value = %#v", e.Value)
			}
		}, nil},
		{"panic error", func(x int64) int64 { panic(ErrHostFuncExists) }, nil, ErrHostFuncExists},
		{"nil dereference in Go", func(x int64) int64 { return int64(*nilp) + x }, func(t *testing.T, e *pcall.HostPanicError) {
			if re, ok := e.Value.(runtime.Error); !ok || !strings.Contains(re.Error(), "nil pointer") {
				t.Errorf("Value = %#v, want a nil-pointer runtime.Error", e.Value)
			}
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLoader(t, Options{})
			var h hostCalls
			h.register(t, l, tt.panic)
			p := load(t, l, "host_calls")
			callPanic, err := Bind1[int64, int64](fnOf(t, p, "call_panic"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := callPanic(context.Background(), 1)
			var e *pcall.HostPanicError
			if !errors.As(err, &e) || !errors.Is(err, pcall.ErrHostPanic) || got != 0 {
				t.Fatalf("call_panic = %d, %v; want a host panic error", got, err)
			}
			var fe *pcall.FaultError
			if errors.As(err, &fe) {
				t.Fatalf("a Go panic was reported as a plugin fault: %v", err)
			}
			if e.Func != "host_panic" || !strings.Contains(err.Error(), "call_panic") {
				t.Errorf("error = %v (Func %q)", err, e.Func)
			}
			if tt.check != nil {
				tt.check(t, e)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error does not wrap the panic value %v", tt.wantErr)
			}
			if !p.Quarantined() {
				t.Error("plugin not quarantined after the host panic")
			}
			if _, err := callPanic(context.Background(), 1); !errors.Is(err, ErrQuarantined) {
				t.Errorf("call after the panic: %v", err)
			}
			// A fresh instance and another plugin work; the instance that
			// panicked never resumed after host_panic.
			p2 := load(t, l, "host_calls")
			add, err := Bind2[int64, int64, int64](fnOf(t, p2, "call_add"))
			if err != nil {
				t.Fatal(err)
			}
			if got, err := add(context.Background(), 1, 2); err != nil || got != 4 {
				t.Errorf("fresh instance call_add = %d, %v", got, err)
			}
			if got := call(t, load(t, l, "basic"), "add", 2, 3); got != 5 {
				t.Errorf("basic add = %d", got)
			}
			after, err := Bind0[int64](fnOf(t, p2, "get_after_panic"))
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := after(context.Background()); n != 0 {
				t.Errorf("fresh instance after_panic = %d", n)
			}
		})
	}
}

func TestHostFuncRegisterRefusals(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	l := newLoader(t, Options{})
	release, err := l.RegisterHostFunc("taken", func() {})
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	var nilRaw wire.RawHostFunc
	var nilFunc func()
	tests := []struct {
		name string
		fn   any
		reg  string
		want error
	}{
		{"duplicate", func() {}, "taken", ErrHostFuncExists},
		{"empty name", func() {}, "", nil},
		{"NUL in name", func() {}, "a\x00b", nil},
		{"not a func", 42, "x", ErrSignature},
		{"nil raw", nilRaw, "x", nil},
		{"nil func", nilFunc, "x", nil},
		{"struct arg with a slice", func(struct{ a []byte }) {}, "x", ErrSignature},
		{"array arg", func([4]int32) {}, "x", ErrSignature},
		{"array result", func() [2]int64 { return [2]int64{} }, "x", ErrSignature},
		{"string result", func() string { return "" }, "x", ErrSignature},
		{"two results", func() (int, error) { return 0, nil }, "x", ErrSignature},
		{"variadic", func(...int) {}, "x", ErrSignature},
		{"Go pointer among 7 args", func(a, b, c, d, e, f int, g *int) {}, "x", ErrSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rel, err := l.RegisterHostFunc(tt.reg, tt.fn)
			if err == nil {
				rel()
				t.Fatal("registration succeeded")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	// 6 integer-class and 8 float-class arguments together are fine.
	rel, err := l.RegisterHostFunc("wide", func(a, b, c int64, d unsafe.Pointer, e string, f bool, x0, x1, x2, x3, x4, x5, x6 float64, x7 float32) uint8 {
		return 0
	})
	if err != nil {
		t.Fatal(err)
	}
	rel()
}

func TestHostFuncReleaseWhileImported(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	l := newLoader(t, Options{})
	var h hostCalls
	h.register(t, l, func(x int64) int64 { return x })
	// Re-register host_add by hand so that this test controls its release.
	l.host.mu.Lock()
	old := l.host.fns["host_add"]
	l.host.mu.Unlock()
	l.host.release(old)
	release, err := l.RegisterHostFunc("host_add", func(a, b int64) int64 { return a * b })
	if err != nil {
		t.Fatal(err)
	}
	p := load(t, l, "host_calls")
	add, err := Bind2[int64, int64, int64](fnOf(t, p, "call_add"))
	if err != nil {
		t.Fatal(err)
	}
	l.host.mu.Lock()
	h2 := l.host.fns["host_add"]
	l.host.mu.Unlock()
	if h2.refs != 1 {
		t.Fatalf("host_add bound by %d objects, want 1", h2.refs)
	}
	release()
	release() // twice is fine
	if got, err := add(context.Background(), 6, 7); err != nil || got != 43 {
		t.Fatalf("call_add after release = %d, %v; want 43 (still bound)", got, err)
	}
	if _, err := l.Load(context.Background(), p.Path()); !errors.Is(err, ErrSymbolNotFound) {
		t.Fatalf("load after release: %v, want an undefined host_add", err)
	}
	if h2.cb.Addr() == 0 || h2.released != true {
		t.Fatal("registration state")
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	l.host.mu.Lock()
	refs, users := h2.refs, len(l.host.users)
	l.host.mu.Unlock()
	if refs != 0 || users != 0 {
		t.Fatalf("after Close: refs %d, %d objects still bound", refs, users)
	}
}

func TestHostFuncRegisterReleaseNoGrowth(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	l := newLoader(t, Options{})
	p := load(t, l, "basic") // keep a plugin loaded meanwhile
	_ = p
	cycle := func(n int) {
		rels := make([]func(), 0, 100)
		for i := 0; i < n; i++ {
			rel, err := l.RegisterHostFunc("f", wire.RawHostFunc(func(*pcall.Args) pcall.Result { return pcall.Result{} }))
			if err != nil {
				t.Fatal(err)
			}
			rel()
			// And a batch alive at once, so that pages fill and empty.
			if i%1000 == 0 {
				for k := 0; k < 100; k++ {
					r, err := l.RegisterHostFunc("batch"+string(rune('a'+k%26))+string(rune('a'+k/26)), func(x int32) int32 { return x })
					if err != nil {
						t.Fatal(err)
					}
					rels = append(rels, r)
				}
				for _, r := range rels {
					r()
				}
				rels = rels[:0]
			}
		}
	}
	cycle(1000) // warm up
	maps0, _ := sysmaps.Read()
	pages0 := pcall.CallbackPages()
	rss0 := rssPages(t)
	cycle(10000)
	maps1, _ := sysmaps.Read()
	if p1 := pcall.CallbackPages(); p1 > pages0 {
		t.Errorf("thunk pages grew from %d to %d", pages0, p1)
	}
	l.host.mu.Lock()
	n := len(l.host.fns)
	l.host.mu.Unlock()
	if n != 0 {
		t.Errorf("%d registrations left", n)
	}
	if hostRaceEnabled {
		return // thunk pages only: the race detector grows RSS and mappings
	}
	if len(maps1) > len(maps0)+8 {
		t.Errorf("mappings grew from %d to %d", len(maps0), len(maps1))
	}
	if rss1 := rssPages(t); rss1 > rss0+2048 { // 8 MiB of slack for the runtime
		t.Errorf("RSS grew from %d to %d pages", rss0, rss1)
	}
}

func TestHostFuncConcurrent(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	l := newLoader(t, Options{})
	var h hostCalls
	h.register(t, l, func(x int64) int64 { return x + 1 })
	shared := load(t, l, "host_calls")
	var err error
	if h.reenter, err = Bind1[int64, int64](fnOf(t, shared, "leaf")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			p := shared
			if g%2 == 1 { // half the goroutines use their own instance
				var err error
				if p, err = l.Load(context.Background(), shared.Path()); err != nil {
					t.Error(err)
					return
				}
				defer p.Close(context.Background())
			}
			add, err1 := Bind2[int64, int64, int64](fnOf(t, p, "call_add"))
			half, err2 := Bind1[float32, float32](fnOf(t, p, "call_half"))
			if err1 != nil || err2 != nil {
				t.Error(err1, err2)
				return
			}
			for i := int64(0); i < 300; i++ {
				if got, err := add(context.Background(), i, int64(g)); err != nil || got != i+int64(g)+1 {
					t.Errorf("call_add(%d, %d) = %d, %v", i, g, got, err)
					return
				}
				if got, err := half(context.Background(), float32(i)); err != nil || got != float32(i)/2 {
					t.Errorf("call_half(%d) = %v, %v", i, got, err)
					return
				}
				if i%30 == 0 {
					rel, err := l.RegisterHostFunc("churn", func() {})
					if err == nil {
						rel()
					} else if !errors.Is(err, ErrHostFuncExists) {
						t.Error(err)
					}
				}
			}
		}(g)
	}
	wg.Wait()
}

// rssPages returns the process's resident set in pages (/proc/self/statm).
func rssPages(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		t.Fatalf("statm: %q", b)
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestHostFuncDeadline: a context that ends while a host function runs
// ends the plugin call when the host function returns. The host function
// itself ends the context and then waits until the call is marked (a
// handshake): a timer could fire before the call started on a loaded
// machine or under qemu-user, and the host function would never run.
func TestHostFuncDeadline(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	l := newLoader(t, Options{})
	var h hostCalls
	h.register(t, l, func(x int64) int64 { return x })
	l.host.mu.Lock()
	old := l.host.fns["host_add"]
	l.host.mu.Unlock()
	l.host.release(old)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	returned := make(chan struct{}, 1)
	release, err := l.RegisterHostFunc("host_add", func(a, b int64) int64 {
		cancel()
		// Return only once the ended context has marked the call (the
		// minute is a watchdog, not a window).
		giveUp := time.Now().Add(time.Minute)
		for !pcall.DeadlinePassedInCallback() && time.Now().Before(giveUp) {
			runtime.Gosched()
		}
		returned <- struct{}{}
		return a + b
	})
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	p := load(t, l, "host_calls")
	f, err := p.Func("call_add")
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.callArgs(ctx, &pcall.Args{Int: [6]uint64{1, 2}})
	if !errors.Is(err, pcall.ErrDeadline) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want a deadline error", err)
	}
	select {
	case <-returned: // the host function ran to its end
	default:
		t.Fatal("the host function was cut short")
	}
	if !p.Quarantined() {
		t.Error("plugin not quarantined after the deadline")
	}
}

// TestHostFuncPanicAfterDeadline: a host function that panics after the
// call's deadline passed reports the panic, not the deadline.
func TestHostFuncPanicAfterDeadline(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	l := newLoader(t, Options{})
	// The call's context ends from inside the host function (a
	// handshake): a short timeout could end it before the call started
	// on a loaded machine.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var h hostCalls
	h.register(t, l, func(x int64) int64 {
		cancel()
		giveUp := time.Now().Add(time.Minute) // a watchdog, not a window
		for !pcall.DeadlinePassedInCallback() && time.Now().Before(giveUp) {
			runtime.Gosched()
		}
		panic("late and broken")
	})
	p := load(t, l, "host_calls")
	f, err := p.Func("call_panic")
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.callArgs(ctx, &pcall.Args{Int: [6]uint64{1}})
	var e *pcall.HostPanicError
	if !errors.As(err, &e) || e.Value != "late and broken" {
		t.Fatalf("err = %v, want the host panic", err)
	}
}
