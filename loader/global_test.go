package loader

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
)

// TestLoadGlobal: LoadOptions.Global gives a plugin RTLD_GLOBAL's
// semantics. global_mod imports glib_add with no DT_NEEDED entry for
// global_lib, as a Lua C module imports liblua's functions: it loads only
// while global_lib is loaded Global, binds to that very instance (its
// state is shared), keeps it mapped when the host closes it first, and
// fails again once it is gone.
func TestLoadGlobal(t *testing.T) {
	ctx := context.Background()
	libPath, modPath := plugintest.Build(t, "global_lib"), plugintest.Build(t, "global_mod")
	undefined := func(t *testing.T, l *Loader, why string) {
		t.Helper()
		_, err := l.Load(context.Background(), modPath)
		var ue *UndefinedSymbolError
		if !errors.As(err, &ue) || ue.Symbol != "glib_add" {
			t.Fatalf("load global_mod %s: %v, want an UndefinedSymbolError for glib_add", why, err)
		}
	}

	l := newLoader(t, Options{})
	undefined(t, l, "with nothing defining glib_add")
	plain, err := l.Load(context.Background(), libPath)
	if err != nil {
		t.Fatal(err)
	}
	undefined(t, l, "with global_lib loaded without Global")
	if err := plain.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	lib, err := l.LoadWith(ctx, libPath, LoadOptions{Global: true})
	if err != nil {
		t.Fatal(err)
	}
	mod, err := l.Load(context.Background(), modPath)
	if err != nil {
		t.Fatalf("load global_mod with global_lib Global: %v", err)
	}
	if got := call(t, mod, "mod_add_twice", 5); got != 10 {
		t.Errorf("mod_add_twice(5) = %d, want 10", got)
	}
	if got := call(t, lib, "glib_total"); got != 10 {
		t.Errorf("global_lib's total = %d, want 10: the module bound to another instance", got)
	}

	// Closed while global_mod is bound to it: the plugin is closed, its
	// image stays for the module, and no later load sees it.
	if err := lib.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f, err := lib.Func("glib_total"); err == nil {
		_, err = f.Call(context.Background())
		if !errors.Is(err, ErrClosed) {
			t.Errorf("call into the closed global plugin: %v, want ErrClosed", err)
		}
	}
	if got := call(t, mod, "mod_add_twice", 1); got != 12 {
		t.Errorf("mod_add_twice(1) after global_lib's Close = %d, want 12 (its state kept)", got)
	}
	undefined(t, l, "after the global plugin was closed")
	if err := mod.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Closed with nothing bound to it: gone at once.
	lib2, err := l.LoadWith(ctx, libPath, LoadOptions{Global: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := lib2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	kept := len(l.heldGlobal)
	l.mu.Unlock()
	if kept != 1 {
		t.Errorf("%d global plugins kept for their users, want 1 (the first)", kept)
	}
	undefined(t, l, "after a global plugin nothing used was closed")
	if err := l.Close(context.Background()); err != nil {
		t.Fatalf("Loader.Close with a kept global plugin: %v", err)
	}
}

// TestAddHostSymbols: symbols added after New bind the imports of later
// loads (global_mod's glib_add, to libc's labs); a name already supplied
// is refused with ErrHostFuncExists and a bad batch adds nothing; adding
// races no load or dlsym (run with -race).
func TestAddHostSymbols(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	modPath := plugintest.Build(t, "global_mod")
	l := newLoader(t, Options{HostSymbols: map[string]uintptr{"from_options": 1}})
	libc, err := l.Load(context.Background(), "libc.so.6")
	if err != nil {
		t.Fatal(err)
	}
	labs, err := libc.Lookup("labs")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Load(context.Background(), modPath); err == nil {
		t.Fatal("global_mod loaded before glib_add was supplied")
	}
	if err := l.AddHostSymbols(map[string]uintptr{"glib_add": labs.Addr}); err != nil {
		t.Fatal(err)
	}
	mod, err := l.Load(context.Background(), modPath)
	if err != nil {
		t.Fatalf("load global_mod after AddHostSymbols: %v", err)
	}
	neg5 := int64(-5)
	if got := int64(call(t, mod, "mod_add_twice", uint64(neg5))); got != 5 {
		t.Errorf("mod_add_twice(-5) through labs = %d, want 5", got)
	}

	if _, err := l.RegisterHostFunc("host_fn", func(x int64) int64 { return x }); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		syms map[string]uintptr
		want error  // errors.Is
		msg  string // else in the message
	}{
		{"again", map[string]uintptr{"glib_add": labs.Addr}, ErrHostFuncExists, ""},
		{"from Options", map[string]uintptr{"from_options": 2}, ErrHostFuncExists, ""},
		{"a host function", map[string]uintptr{"host_fn": 2}, ErrHostFuncExists, ""},
		{"one bad of two", map[string]uintptr{"fresh": 3, "glib_add": 3}, ErrHostFuncExists, ""},
		{"empty name", map[string]uintptr{"": 3}, nil, "empty name"},
		{"zero address", map[string]uintptr{"zero": 0}, nil, "zero address"},
	} {
		err := l.AddHostSymbols(tc.syms)
		if err == nil || tc.want != nil && !errors.Is(err, tc.want) || tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want %v %q", tc.name, err, tc.want, tc.msg)
		}
	}
	if _, ok := l.hostSymbol("fresh"); ok {
		t.Error("a refused batch added some of its symbols")
	}

	// Additions while plugins load and resolve.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 50 {
			if err := l.AddHostSymbols(map[string]uintptr{fmt.Sprint("sym", i): uintptr(i + 1)}); err != nil {
				t.Error(err)
			}
		}
	}()
	for range 5 {
		p, err := l.Load(context.Background(), modPath)
		if err != nil {
			t.Fatal(err)
		}
		if got := int64(call(t, p, "mod_add_twice", 7)); got != 7 {
			t.Errorf("mod_add_twice(7) = %d", got)
		}
		p.Close(context.Background())
	}
	wg.Wait()
	if a, ok := l.hostSymbol("sym49"); !ok || a != 50 {
		t.Errorf("sym49 = %#x, %v", a, ok)
	}
}
