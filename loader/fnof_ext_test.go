package loader_test

import (
	"testing"

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
