package loader

import (
	"context"
	"testing"

	"github.com/runplug/runplug/internal/plugintest"
)

// DF_1_NODELETE is honoured as glibc does (issue 19, item 7): the
// object's state survives Close and a re-Load in the same Loader (one
// constructor run), and a new Loader starts afresh.
func TestNodeleteStaysResident(t *testing.T) {
	path := plugintest.Build(t, "nodelete")
	l := New(Options{})
	p := load(t, l, "nodelete")
	base := p.Base()
	for i := uint64(1); i <= 3; i++ {
		if got := call(t, p, "bump"); got != i {
			t.Fatalf("bump #%d = %d", i, got)
		}
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	q, err := l.Load(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if got := call(t, q, "bump"); got != 4 {
		t.Errorf("bump after Close and Load = %d, want 4 (the state survived)", got)
	}
	if got := call(t, q, "ctor_runs"); got != 1 {
		t.Errorf("constructor ran %d times, want once", got)
	}
	if q.Base() != base {
		t.Errorf("reloaded at %#x, want the resident image at %#x", q.Base(), base)
	}
	// Two open Plugins of the file share the one instance, as two dlopens do.
	r, err := l.Load(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if got := call(t, r, "bump"); got != 5 {
		t.Errorf("bump through a second Plugin = %d, want 5", got)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := callFunc(q, "bump"); err == nil {
		t.Error("call after Loader.Close succeeded")
	}
	// A new Loader has a fresh instance.
	l2 := newLoader(t, Options{})
	p2 := load(t, l2, "nodelete")
	if got := call(t, p2, "bump"); got != 1 {
		t.Errorf("bump in a new Loader = %d, want 1", got)
	}
}

// callFunc calls fn of p without failing the test.
func callFunc(p *Plugin, fn string) (uint64, error) {
	f, err := p.Func(fn)
	if err != nil {
		return 0, err
	}
	return f.Call()
}

// A DF_1_NODELETE dependency keeps what it needs: its destructor, run when
// the Loader closes, calls a library that nothing else holds (libLLVM's
// destructors call libstdc++ so: crocus_dri.so faulted in Loader.Close
// when the library had been unloaded with the plugin).
func TestNodeleteKeepsItsDependencies(t *testing.T) {
	l := New(Options{})
	p := load(t, l, "nodelete_root")
	if got := call(t, p, "ping"); got != 7 {
		t.Fatalf("ping() = %d, want 7", got)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatalf("Loader.Close: %v (nodelete_mid's destructor calls nodelete_dep, which must still be loaded)", err)
	}
}
