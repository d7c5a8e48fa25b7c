package loader

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/plugintest"
)

// hangBound bounds each step of the hang tests: a step that takes longer
// hung (it waits for a lock a fault or deadline left held), and the test
// fails instead of the suite timing out.
const hangBound = 60 * time.Second

// bounded runs f on a goroutine of its own, locked to an OS thread of its
// own, and fails the test if f does not return within the context's
// deadline.
func bounded(ctx context.Context, t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("%s: hung (%v)", what, ctx.Err())
	}
}

// afterwards checks that the process still loads, calls and closes
// plugins, and walks its objects with dl_iterate_phdr (runplug's and
// glibc's locks), on a thread other than the one that faulted.
func afterwards(ctx context.Context, t *testing.T, l *Loader) {
	t.Helper()
	bounded(ctx, t, "load, call and close basic", func() {
		p, err := l.Load(context.Background(), plugintest.Build(t, "basic"))
		if err != nil {
			t.Errorf("load basic: %v", err)
			return
		}
		if got := callErr(t, p, "add", 2, 3); got != 5 {
			t.Errorf("add(2, 3) = %d", got)
		}
		if err := p.Close(context.Background()); err != nil {
			t.Errorf("close basic: %v", err)
		}
	})
	bounded(ctx, t, "dl_iterate_phdr from another plugin", func() {
		p, err := l.Load(context.Background(), plugintest.Build(t, "hang_dl"))
		if err != nil {
			t.Errorf("load hang_dl: %v", err)
			return
		}
		if got := callErr(t, p, "objects"); got < 1003 {
			t.Errorf("objects() = %d, want glibc's objects and its own (> 1002)", got)
		}
		if err := p.Close(context.Background()); err != nil {
			t.Errorf("close hang_dl: %v", err)
		}
	})
	if n := pcall.LocksHeldAtRecovery(); n != 0 {
		t.Errorf("%d recoveries found a runplug lock held", n)
	}
}

// A fault or a deadline inside plugin code that runplug's dynamic-linker
// services run (a static destructor, an atexit handler, a dl_iterate_phdr
// callback) or inside those services on the plugin's behalf (dladdr and
// dlinfo writing to a bad pointer) leaves no lock held: the same process
// loads, calls and closes plugins afterwards (issue 19, must-hold 1).
func TestNoLockHeldAcrossPluginCode(t *testing.T) {
	tests := []struct {
		name, plugin, fn string
		deadline         bool // call with a deadline (the function spins)
		atClose          bool // the fault comes at Close
	}{
		{name: "static destructor faults", plugin: "hang_dtor", fn: "ping", atClose: true},
		{name: "atexit handler faults", plugin: "hang_atexit", fn: "ping", atClose: true},
		{name: "dl_iterate_phdr callback faults on a glibc object", plugin: "hang_dl", fn: "iter_fault_host"},
		{name: "dl_iterate_phdr callback faults on its own entry", plugin: "hang_dl", fn: "iter_fault_mine"},
		{name: "dl_iterate_phdr callback spins on a glibc object", plugin: "hang_dl", fn: "iter_spin_host", deadline: true},
		{name: "dl_iterate_phdr callback spins on its own entry", plugin: "hang_dl", fn: "iter_spin_mine", deadline: true},
		{name: "dladdr writes to a bad pointer", plugin: "hang_dl", fn: "dladdr_bad"},
		{name: "dlinfo writes to a bad pointer", plugin: "hang_dl", fn: "dlinfo_bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), hangBound)
			defer cancel()
			l := New(Options{}) // closed below, bounded (newLoader's cleanup is not)
			path := plugintest.Build(t, tt.plugin)
			var callErr, closeErr error
			// The faulting thread stays locked to its goroutine until the
			// checks ran on others: glibc's lock is recursive, so only
			// another thread would wait for one left held.
			hold := make(chan struct{})
			defer close(hold)
			faulted := make(chan struct{})
			go func() {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				defer func() { close(faulted); <-hold }()
				p, err := l.Load(context.Background(), path)
				if err != nil {
					callErr = err
					return
				}
				f, err := p.Func(tt.fn)
				if err != nil {
					callErr = err
					return
				}
				cctx := context.Background()
				if tt.deadline {
					var c context.CancelFunc
					cctx, c = context.WithTimeout(ctx, 50*time.Millisecond)
					defer c()
				}
				_, callErr = f.CallArgs(cctx, &pcall.Args{Int: [6]uint64{1}})
				closeErr = p.Close(context.Background())
			}()
			select {
			case <-faulted:
			case <-ctx.Done():
				t.Fatalf("load, call and close of %s hung", tt.plugin)
			}
			var fe *pcall.FaultError
			switch {
			case tt.atClose:
				if callErr != nil {
					t.Fatalf("%s: %v", tt.fn, callErr)
				}
				if !errors.As(closeErr, &fe) {
					t.Fatalf("Close = %v, want the destructor's fault", closeErr)
				}
			case tt.deadline:
				if !errors.Is(callErr, pcall.ErrDeadline) {
					t.Fatalf("%s = %v, want a deadline error", tt.fn, callErr)
				}
			default:
				if !errors.As(callErr, &fe) {
					t.Fatalf("%s = %v, want a fault", tt.fn, callErr)
				}
			}
			afterwards(ctx, t, l)
			bounded(ctx, t, "close the loader", func() {
				if err := l.Close(context.Background()); err != nil {
					t.Errorf("Loader.Close: %v", err)
				}
			})
		})
	}
}

// A constructor or destructor that never returns is interrupted at the
// deadline of Load or Close; the Loader is not left held:
// the same process loads, calls and closes plugins afterwards.
func TestConstructorsAndDestructorsUnderContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), hangBound)
	defer cancel()
	l := New(Options{})
	bounded(ctx, t, "Load of a spinning constructor", func() {
		lctx, c := context.WithTimeout(ctx, 50*time.Millisecond)
		defer c()
		p, err := l.Load(lctx, plugintest.Build(t, "spin_ctor"))
		if !errors.Is(err, pcall.ErrDeadline) || p != nil {
			t.Errorf("Load(spin_ctor) = %v, %v; want a deadline error", p, err)
		}
	})
	bounded(ctx, t, "Close of a spinning destructor", func() {
		p, err := l.Load(context.Background(), plugintest.Build(t, "spin_dtor"))
		if err != nil {
			t.Errorf("load spin_dtor: %v", err)
			return
		}
		if got := callErr(t, p, "ping", 1); got != 2 {
			t.Errorf("ping(1) = %d", got)
		}
		cctx, c := context.WithTimeout(ctx, 50*time.Millisecond)
		defer c()
		if err := p.Close(cctx); !errors.Is(err, pcall.ErrDeadline) {
			t.Errorf("Close(spin_dtor) = %v, want a deadline error", err)
		}
		if _, err := p.Func("ping"); err == nil {
			if _, err := callFunc(p, "ping"); err == nil {
				t.Error("call after Close succeeded")
			}
		}
	})
	afterwards(ctx, t, l)
	bounded(ctx, t, "close the loader", func() {
		if err := l.Close(context.Background()); err != nil {
			t.Errorf("Loader.Close: %v", err)
		}
	})
}
