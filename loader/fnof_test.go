package loader

import (
	"context"
	"testing"

	"github.com/runplug/runplug/internal/pcall"
)

// fnOf returns the function name of s (a Plugin or a Live), failing the
// test when there is none.
func fnOf(t testing.TB, s interface{ Func(string) (*Func, error) }, name string) *Func {
	t.Helper()
	f, err := s.Func(name)
	if err != nil {
		t.Fatalf("Func(%q): %v", name, err)
	}
	return f
}

// callFloat calls f with integer and double arguments in registers and
// returns its double result.
func callFloat(f *Func, ints []uint64, floats []float64) (float64, error) {
	var a pcall.Args
	copy(a.Int[:], ints)
	copy(a.Float[:], floats)
	r, err := f.callArgs(context.Background(), &a)
	return r.Float, err
}
