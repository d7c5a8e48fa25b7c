//go:build linux && (amd64 || arm64) && cgo

package isolate_test

import (
	"errors"
	"syscall"
	"testing"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// A Rust plugin in an isolated child: the child's loader serves the
// unwinder (its libgcc_s asks the child's _dl_find_object), so panics are
// caught and unwind through Drop as in process, thread-locals of the Rust
// std work, and an uncaught panic comes back as the child's SIGABRT fault
// with the plugin quarantined. A test of the boundary, so the arm64 job
// runs it under qemu-user too.
func TestIsolatedRustPanics(t *testing.T) {
	l, _ := newBoundaryLoader(t, loader.Options{}, isolate.Options{})
	p := load(t, l, "rs_panic")
	for _, c := range plugintest.RsPanicCalls {
		if got, err := call(t, p, c.Fn, c.Arg); err != nil || got != c.Want {
			t.Errorf("%s(%d) = %d, %v; want %d", c.Fn, c.Arg, got, err, c.Want)
		}
	}
	_, err := call(t, p, "rs_uncaught", 1)
	var fe *loader.FaultError
	if !errors.As(err, &fe) || fe.Signal != syscall.SIGABRT {
		t.Fatalf("uncaught panic: err = %v, want a SIGABRT fault", err)
	}
	if !p.Quarantined() {
		t.Error("plugin not quarantined after an uncaught panic")
	}
}
