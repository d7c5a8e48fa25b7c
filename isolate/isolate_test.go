//go:build linux && amd64 && cgo

package isolate_test

import (
	"errors"
	"testing"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
	"github.com/runplug/runplug/sandbox"
)

// newLoader returns a Loader that isolates its plugins, closed with the test.
func newLoader(t testing.TB, opts isolate.Options) (*loader.Loader, *isolate.Isolator) {
	t.Helper()
	iso := isolate.New(opts)
	l := loader.New(loader.Options{Isolation: iso})
	t.Cleanup(func() { l.Close() })
	return l, iso
}

func load(t testing.TB, l *loader.Loader, name string) *loader.Plugin {
	t.Helper()
	p, err := l.Load(plugintest.Build(t, name))
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return p
}

func TestSmoke(t *testing.T) {
	l, iso := newLoader(t, isolate.Options{})
	p := load(t, l, "isolate_faults")
	if !p.Isolated() {
		t.Fatal("not isolated")
	}
	t.Logf("report %+v", iso.Report())
	f, err := p.Func("add")
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.Call(2, 40)
	if err != nil || r != 42 {
		t.Fatalf("add = %d, %v", r, err)
	}
	nr, err := p.Func("null_read")
	if err != nil {
		t.Fatal(err)
	}
	_, err = nr.Call()
	var fe *sandbox.FaultError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v", err)
	}
	t.Log(err)
	if _, err := f.Call(1, 2); !errors.Is(err, loader.ErrQuarantined) {
		t.Fatalf("after fault: %v", err)
	}
	if err := p.Restart(); err != nil {
		t.Fatal(err)
	}
	if r, err := f.Call(2, 3); err != nil || r != 5 {
		t.Fatalf("after restart: %d %v", r, err)
	}
	ex, _ := p.Func("do_exec")
	_, err = ex.Call()
	t.Log(err)
	if !errors.Is(err, isolate.ErrForbiddenSyscall) {
		t.Fatalf("exec: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}
