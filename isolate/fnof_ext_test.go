package isolate_test

import (
	"context"
	"testing"

	"github.com/runplug/runplug/abi"
	"github.com/runplug/runplug/loader"
)

// fnOf returns the function name of s (a Plugin or a Live), failing the
// test when there is none.
func fnOf(t testing.TB, s interface {
	Func(string) (*loader.Func, error)
}, name string) *loader.Func {
	t.Helper()
	f, err := s.Func(name)
	if err != nil {
		t.Fatalf("Func(%q): %v", name, err)
	}
	return f
}

// callBufs calls name in p with six integer arguments ints, those at the
// indexes of bufs replaced by those buffers (copied into the plugin's
// memory, and back after the call), and returns its integer result.
func callBufs(ctx context.Context, p *loader.Plugin, name string, ints [6]uint64, bufs map[int][]byte) (uint64, error) {
	args := make([]*abi.Type, len(ints))
	vals := make([]any, len(ints))
	for i := range args {
		if b, ok := bufs[i]; ok {
			args[i], vals[i] = abi.Pointer, b
		} else {
			args[i], vals[i] = abi.Uint64, ints[i]
		}
	}
	sig, err := loader.NewSignature(abi.Uint64, args...)
	if err != nil {
		return 0, err
	}
	f, err := p.FuncSig(name, sig)
	if err != nil {
		return 0, err
	}
	var r uint64
	err = f.CallSig(ctx, &r, vals...)
	return r, err
}
