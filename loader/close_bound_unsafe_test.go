package loader_test

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// TestCloseBoundedByContext: a Close whose ctx is done while a call still
// runs returns ErrDeadline at once instead of waiting for ever; later calls
// are refused; the call goes on in the image Close left mapped and
// returns its value when let go; closing the Loader afterwards is safe.
func TestCloseBoundedByContext(t *testing.T) {
	ctx := context.Background()
	l := loader.New(loader.Options{})
	p, err := l.Load(ctx, plugintest.Build(t, "close_wait"))
	if err != nil {
		t.Fatal(err)
	}
	wait := fnOf(t, p, "cw_wait")
	entered := (*atomic.Int64)(nativePointer(symAddr(t, p, "cw_entered")))
	released := (*atomic.Int64)(nativePointer(symAddr(t, p, "cw_released")))

	result := make(chan error, 1)
	go func() {
		r, err := wait.Call(ctx, 0) // no deadline: only cw_released ends it
		if err == nil && r != 7 {
			err = errors.New("cw_wait returned a wrong value")
		}
		result <- err
	}()
	for entered.Load() == 0 { // the handshake: the call is in the plugin
		runtime.Gosched()
	}

	closeCtx, cancel := context.WithCancel(ctx)
	cancel() // done before Close begins: Close must not wait at all
	if err := p.Close(closeCtx); !errors.Is(err, loader.ErrDeadline) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Close with a call in flight and a done ctx = %v, want ErrDeadline and context.Canceled", err)
	}
	if _, err := wait.Call(ctx, 0); !errors.Is(err, loader.ErrClosed) {
		t.Errorf("call after the Close = %v, want ErrClosed", err)
	}
	released.Store(1)
	if err := <-result; err != nil {
		t.Errorf("the call Close gave up on = %v, want 7, nil", err)
	}
	if err := l.Close(ctx); err == nil || !errors.Is(err, loader.ErrDeadline) {
		t.Errorf("Loader.Close = %v, want the plugin's Close error again", err)
	}
}

// nativePointer is addr, an address in the plugin's mapping (not Go
// memory), as a pointer.
func nativePointer(addr uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&addr)) }

// symAddr is the address of p's data symbol name.
func symAddr(t *testing.T, p *loader.Plugin, name string) uintptr {
	t.Helper()
	s, err := p.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return s.Addr
}

// TestCloseBoundedByContextIsolated: isolated, a Close whose ctx is done
// while a call still runs kills the child, which ends the call with an
// error instead of a wait for ever; Close says ErrDeadline, and later
// calls are refused.
func TestCloseBoundedByContextIsolated(t *testing.T) {
	testenv.NeedNative(t, "isolated plugins (seccomp filters, user namespaces)")
	ctx := context.Background()
	l := loader.New(loader.Options{Isolation: isolate.New(isolate.Options{})})
	defer l.Close(ctx)
	p, err := l.Load(ctx, plugintest.Build(t, "close_wait"))
	if err != nil {
		t.Fatal(err)
	}
	wait := fnOf(t, p, "cw_wait")
	entered := symAddr(t, p, "cw_entered")
	result := make(chan error, 1)
	go func() {
		_, err := wait.Call(ctx, 0) // no deadline: only the child's end ends it
		result <- err
	}()
	flag := make([]byte, 8)
	for flag[0] == 0 { // the handshake: the call is in the plugin
		if err := p.ReadMemory(entered, flag); err != nil {
			t.Fatal(err)
		}
		runtime.Gosched()
	}
	closeCtx, cancel := context.WithCancel(ctx)
	cancel()
	if err := p.Close(closeCtx); !errors.Is(err, loader.ErrDeadline) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Close with a call in flight and a done ctx = %v, want ErrDeadline and context.Canceled", err)
	}
	if err := <-result; err == nil {
		t.Error("the call under a Close that killed its child returned no error")
	}
	if _, err := wait.Call(ctx, 0); !errors.Is(err, loader.ErrClosed) {
		t.Errorf("call after the Close = %v, want ErrClosed", err)
	}
}
