package loader

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
)

// TestLiveHandover reloads a live plugin to builds with another state
// layout while two goroutines call it: a migration that succeeds serves
// the new build with the state migrated; one that fails serves the
// previous build again, on the state as it was. No call fails, and the
// state counts every call. Its isolated half is TestLiveHandoverIsolated.
func TestLiveHandover(t *testing.T) { LiveHandover(t, Options{}, true) }

// LiveHandover is TestLiveHandover with a Loader of opts (isolated, for
// the external test), the state in a file or (stateFile false) in the
// Live's memfd.
func LiveHandover(t *testing.T, opts Options, stateFile bool) {
	dir := t.TempDir()
	path := filepath.Join(dir, "counter.so")
	install(t, plugintest.Build(t, "state_counter"), path)
	l := New(opts)
	defer l.Close(context.Background())
	var lo LiveOptions
	if stateFile {
		lo.StateFile = filepath.Join(dir, "counter.state")
	}
	lv, err := l.LoadLive(context.Background(), path, lo)
	if err != nil {
		t.Fatal(err)
	}
	defer lv.Close(context.Background())
	bump, err := Bind0[int64](fnOf(t, lv, "counter_bump"))
	if err != nil {
		t.Fatal(err)
	}
	version, err := Bind0[int64](fnOf(t, lv, "counter_version"))
	if err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var calls, failed atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if _, err := bump(context.Background()); err != nil {
					failed.Add(1)
					t.Error(err)
					return
				}
				calls.Add(1)
			}
		}()
	}
	install(t, plugintest.Build(t, "state_counter_v2"), path)
	if err := lv.Reload(context.Background()); err != nil {
		t.Fatalf("reload to layout 2: %v", err)
	}
	if v, err := version(context.Background()); v != 2 || err != nil {
		t.Errorf("after the handover: layout %d, %v", v, err)
	}
	install(t, plugintest.Build(t, "state_counter_v4_fails"), path)
	err = lv.Reload(context.Background())
	if !errors.Is(err, ErrReload) || !errors.Is(err, ErrMigration) {
		t.Errorf("reload to a failing migration: %v", err)
	}
	if v, err := version(context.Background()); v != 2 || err != nil {
		t.Errorf("after the failed handover: layout %d, %v; want the previous build (2)", v, err)
	}
	if g := lv.Generation(); g != 2 {
		t.Errorf("generation %d, want 2", g)
	}
	stop.Store(true)
	wg.Wait()
	get, err := lv.Func("counter_get")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := get.Call(context.Background()); int64(n) != calls.Load() || failed.Load() != 0 {
		t.Errorf("state counted %d calls, callers made %d (%d failed)", n, calls.Load(), failed.Load())
	}
	from, err := lv.Func("counter_migrated_from")
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := from.Call(context.Background()); f != 1 {
		t.Errorf("migrated from layout %d, want 1", f)
	}
}

// TestLiveBindPaths calls through Live bindings of each kind (a string
// argument, float registers, a struct by value on the general path)
// before and after a reload.
func TestLiveBindPaths(t *testing.T) {
	testenv.NeedPort(t, pcall.FramesSupported, "general calls (the AAPCS64 frame thunk)")
	dir := t.TempDir()
	path := filepath.Join(dir, "demo.so")
	install(t, plugintest.Build(t, "demo"), path)
	l := New(Options{})
	defer l.Close(context.Background())
	lv, err := l.LoadLive(context.Background(), path, LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer lv.Close(context.Background())
	vowels, err := Bind1[string, int64](fnOf(t, lv, "vowels"))
	if err != nil {
		t.Fatal(err)
	}
	norm2, err := Bind2[float64, float64, float64](fnOf(t, lv, "norm2"))
	if err != nil {
		t.Fatal(err)
	}
	type vec struct{ X, Y float64 } // passed in xmm0, xmm1 as the two doubles are
	norm2v, err := Bind1[vec, float64](fnOf(t, lv, "norm2"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if n, err := vowels(context.Background(), "runplug loads plugins"); n != 6 || err != nil {
			t.Errorf("round %d: vowels = %d, %v", i, n, err)
		}
		if r, err := norm2(context.Background(), 3, 4); r != 25 || err != nil {
			t.Errorf("round %d: norm2 = %v, %v", i, r, err)
		}
		if r, err := norm2v(context.Background(), vec{6, 8}); r != 100 || err != nil {
			t.Errorf("round %d: norm2 by struct = %v, %v", i, r, err)
		}
		if err := lv.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}
