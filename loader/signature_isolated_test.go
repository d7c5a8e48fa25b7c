package loader_test

import (
	"errors"
	"testing"

	"github.com/runplug/runplug/abi"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
	"github.com/runplug/runplug/sandbox"
)

// TestGeneralCallIsolatedRefused: an isolated plugin's calls pass registers
// only, so a signature past them is refused when it is bound (wrapping
// errors.ErrUnsupported), never sent; register bindings still work.
func TestGeneralCallIsolatedRefused(t *testing.T) {
	if !sandbox.Supported {
		t.Skip("no native calls in this build")
	}
	l := loader.New(loader.Options{Isolation: isolate.New(isolate.Options{})})
	defer l.Close()
	p, err := l.Load(plugintest.Build(t, "ffi_call"))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Isolated() {
		t.Fatal("plugin not isolated")
	}
	t24 := abi.MustStructOf(abi.Int64, abi.Int64, abi.Int64)
	sig, err := loader.NewSignature(t24, t24)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.FuncSig("s24_fn", sig); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("FuncSig on an isolated plugin: %v, want ErrUnsupported", err)
	}
	if _, err := loader.Bind1[sandbox.S24, sandbox.S24](p, "s24_fn"); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("a struct binding on an isolated plugin: %v, want ErrUnsupported", err)
	}
	sc, err := loader.Bind1[int8, int8](p, "return_sc")
	if err != nil {
		t.Fatal(err)
	}
	if r, err := sc(-5); err != nil || r != -6 {
		t.Errorf("return_sc(-5) = %d, %v; want -6", r, err)
	}
}
