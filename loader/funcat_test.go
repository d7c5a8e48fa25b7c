//go:build linux

package loader_test

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
	"github.com/runplug/runplug/sandbox"
)

// descriptor is plugins/ladspa_like.c's Descriptor as the host reads it.
type descriptor struct {
	id                                   uint64
	label                                string
	instantiate, connectPort, run, clean uintptr
	fault, spin, waitRelease             uintptr
}

// readDescriptor reads the Descriptor at addr through p's memory (the
// same code in process and isolated).
func readDescriptor(t *testing.T, p *loader.Plugin, addr uintptr) descriptor {
	t.Helper()
	var raw [9 * 8]byte
	if err := p.ReadMemory(addr, raw[:]); err != nil {
		t.Fatal(err)
	}
	w := func(i int) uintptr { return uintptr(binary.LittleEndian.Uint64(raw[8*i:])) }
	label, err := p.ReadString(w(1), 64)
	if err != nil {
		t.Fatal(err)
	}
	return descriptor{uint64(w(0)), label, w(2), w(3), w(4), w(5), w(6), w(7), w(8)}
}

// TestFuncAt calls the function pointers of a LADSPA-style descriptor
// table (plugins/ladspa_like.c), in process and isolated, through
// Plugin.FuncAt: with a Signature and CallSig, with typed bindings (a
// []byte out-buffer among the arguments), and with the plugin's
// protections: a fault is the call's error and quarantines the plugin, a
// deadline interrupts a call that never returns, and Close waits for a
// call in flight. Each part has a fresh instance of the plugin.
func TestFuncAt(t *testing.T) {
	testenv.NeedPort(t, pcall.FramesSupported, "general calls (the AAPCS64 frame thunk)")
	testenv.NeedNative(t, "isolated plugins (seccomp filters, user namespaces)")
	if !sandbox.Supported {
		testenv.Skipf(t, "no native calls in this build")
	}
	path := plugintest.Build(t, "ladspa_like")
	for _, isolated := range []bool{false, true} {
		t.Run(map[bool]string{false: "in-process", true: "isolated"}[isolated], func(t *testing.T) {
			var o loader.Options
			if isolated {
				o.Isolation = isolate.New(isolate.Options{})
			}
			l := loader.New(o)
			t.Cleanup(func() { l.Close(context.Background()) })
			fresh := func() (*loader.Plugin, descriptor, func(uintptr) *loader.Func) {
				p, err := l.Load(context.Background(), path)
				if err != nil {
					t.Fatal(err)
				}
				if p.Isolated() != isolated {
					t.Fatal("isolation not as asked")
				}
				return p, tableOf(t, p), func(addr uintptr) *loader.Func {
					f, err := p.FuncAt(addr, nil)
					if err != nil {
						t.Fatal(err)
					}
					return f
				}
			}
			t.Run("calls", func(t *testing.T) { funcAtCalls(t, fresh) })
			t.Run("deadline", func(t *testing.T) {
				p, d, at := fresh()
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				defer cancel()
				if _, err := at(d.spin).Call(ctx, 0); !errors.Is(err, sandbox.ErrDeadline) || !p.Quarantined() {
					t.Fatalf("spin with a deadline = %v (quarantined %v), want ErrDeadline and a quarantine", err, p.Quarantined())
				}
			})
			t.Run("fault", func(t *testing.T) {
				p, d, at := fresh()
				next := at(d.instantiate)
				var fe *loader.FaultError
				if _, err := at(d.fault).Call(context.Background(), 0); !errors.As(err, &fe) || !p.Quarantined() {
					t.Fatalf("fault = %v (quarantined %v), want a *FaultError and a quarantine", err, p.Quarantined())
				}
				if _, err := next.Call(context.Background(), 1); !errors.Is(err, loader.ErrQuarantined) {
					t.Errorf("a call after the fault = %v, want ErrQuarantined", err)
				}
			})
			t.Run("close during a call", func(t *testing.T) {
				p, d, at := fresh()
				closeDuringCall(t, p, d, at)
			})
		})
	}
}

// tableOf finds the plugin's descriptor and reads it.
func tableOf(t *testing.T, p *loader.Plugin) descriptor {
	t.Helper()
	ctx := context.Background()
	descFn, err := loader.Bind1[uint64, uintptr](fnOf(t, p, "descriptor"))
	if err != nil {
		t.Fatal(err)
	}
	addr, err := descFn(ctx, 0)
	if err != nil || addr == 0 {
		t.Fatalf("descriptor(0) = %#x, %v", addr, err)
	}
	if none, err := descFn(ctx, 1); err != nil || none != 0 {
		t.Fatalf("descriptor(1) = %#x, %v; want NULL", none, err)
	}
	d := readDescriptor(t, p, addr)
	if d.id != 1049 || d.label != "amp" {
		t.Fatalf("descriptor = %d %q, want 1049 \"amp\"", d.id, d.label)
	}
	return d
}

// funcAtCalls calls the table's ordinary functions.
func funcAtCalls(t *testing.T, fresh func() (*loader.Plugin, descriptor, func(uintptr) *loader.Func)) {
	p, d, at := fresh()
	ctx := context.Background()
	if _, err := p.FuncAt(0, nil); !errors.Is(err, loader.ErrBadAddress) {
		t.Errorf("FuncAt(0) = %v, want ErrBadAddress", err)
	}
	// instantiate through a Signature parsed from its C declaration.
	sig, err := loader.ParseSignature("void *instantiate(uint64_t sample_rate)")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := p.FuncAt(d.instantiate, sig)
	if err != nil {
		t.Fatal(err)
	}
	var h uintptr
	if err := inst.CallSig(ctx, &h, uint64(48000)); err != nil || h == 0 {
		t.Fatalf("instantiate = %#x, %v", h, err)
	}
	// The rest through typed bindings of FuncAt's Funcs.
	connect, err1 := loader.Bind3[uintptr, uint64, float64, loader.Void](at(d.connectPort))
	run, err2 := loader.Bind4[uintptr, []byte, []byte, uint64, int64](at(d.run))
	cleanup, err3 := loader.Bind1[uintptr, loader.Void](at(d.clean))
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	if _, err := connect(ctx, h, 0, 2.5); err != nil {
		t.Fatal(err)
	}
	samples := []float32{1, -2, 0.5, 8}
	src, dst := make([]byte, 4*len(samples)), make([]byte, 4*len(samples))
	for i, v := range samples {
		binary.LittleEndian.PutUint32(src[4*i:], math.Float32bits(v))
	}
	for want := int64(1); want <= 2; want++ {
		runs, err := run(ctx, h, src, dst, uint64(len(samples)))
		if err != nil || runs != want {
			t.Fatalf("run = %d, %v; want %d", runs, err, want)
		}
	}
	for i, v := range samples {
		if got := math.Float32frombits(binary.LittleEndian.Uint32(dst[4*i:])); got != v*2.5 {
			t.Errorf("out[%d] = %g, want %g (the out-buffer came back)", i, got, v*2.5)
		}
	}
	if _, err := cleanup(ctx, h); err != nil {
		t.Fatal(err)
	}
	if p.Quarantined() {
		t.Error("quarantined after calls that succeeded")
	}
}

// closeDuringCall closes p while a call through a function pointer is in
// flight: Close must wait for it. In process, wait_release spins until
// the host writes ladspa_released, which it does only once Close has
// begun (a later call is refused) and has not returned; the call then
// returns 7 from the image Close kept mapped for it. Isolated, memory
// requests wait for Close as calls do, so spin (which has entered before
// Close starts) is called under a context cancelled once Close has been
// started: the call must end with its own deadline error, not with its
// child killed under it. (Close may begin after the cancel: the isolated
// half then proves less, never fails wrongly.)
func closeDuringCall(t *testing.T, p *loader.Plugin, d descriptor, at func(uintptr) *loader.Func) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	closed := make(chan error, 1)
	entered := lookup(t, p, "ladspa_entered")
	waitEntered := func() {
		for flag := make([]byte, 8); flag[0] == 0; runtime.Gosched() {
			if err := p.ReadMemory(entered, flag); err != nil || ctx.Err() != nil {
				t.Fatalf("waiting for the call to enter: %v %v", err, ctx.Err())
			}
		}
	}
	if !p.Isolated() {
		released := lookup(t, p, "ladspa_released")
		wait, probe := at(d.waitRelease), at(d.instantiate)
		callErr := make(chan error, 1)
		go func() {
			r, err := wait.Call(ctx, 0)
			if err == nil && r != 7 {
				err = errors.New("wait_release returned a wrong value")
			}
			callErr <- err
		}()
		waitEntered()
		go func() { closed <- p.Close(ctx) }()
		for { // the handshake: Close has begun once calls are refused
			if _, err := probe.Call(ctx, 1); errors.Is(err, loader.ErrClosed) {
				break
			}
			if ctx.Err() != nil {
				t.Fatal("Close never began")
			}
			runtime.Gosched()
		}
		select {
		case err := <-closed:
			t.Fatalf("Close returned (%v) while a call was in flight", err)
		default:
		}
		if err := p.WriteMemory(released, []byte{1, 0, 0, 0, 0, 0, 0, 0}); err != nil {
			t.Fatal(err)
		}
		if err := <-callErr; err != nil {
			t.Errorf("the call Close waited for = %v, want 7, nil", err)
		}
	} else {
		callCtx, stop := context.WithCancel(ctx)
		callErr := make(chan error, 1)
		spin := at(d.spin)
		go func() {
			_, err := spin.Call(callCtx, 0)
			callErr <- err
		}()
		waitEntered()
		started := make(chan struct{})
		go func() {
			close(started)
			closed <- p.Close(ctx)
		}()
		<-started
		runtime.Gosched()
		stop()
		if err := <-callErr; !errors.Is(err, sandbox.ErrDeadline) {
			t.Errorf("call during Close = %v, want its own deadline error", err)
		}
	}
	if err := <-closed; err != nil {
		t.Errorf("Close = %v", err)
	}
}

// lookup returns the address of the data symbol name.
func lookup(t *testing.T, p *loader.Plugin, name string) uintptr {
	t.Helper()
	s, err := p.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return s.Addr
}
