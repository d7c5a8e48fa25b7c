//go:build linux && amd64 && cgo

package pcall

import (
	"errors"
	"runtime"
	"syscall"
	"testing"

	"github.com/runplug/runplug/internal/baseline"
)

func TestCallUnprotected2(t *testing.T) {
	add := fixtureAdd()
	for _, tc := range []struct{ a, b, want int64 }{{1, 2, 3}, {-5, 5, 0}, {1 << 40, 1, 1<<40 + 1}} {
		if got := baseline.CallUnprotected2(add, tc.a, tc.b); got != tc.want {
			t.Errorf("add(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestFaultLoop checks the kernel baseline of BenchmarkFault: it takes
// every fault it is asked for, and gives the process its SIGSEGV handler
// back (a Go nil dereference still panics, a plugin's fault is still
// contained).
func TestFaultLoop(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if n := baseline.FaultLoop(5); n != 5 {
		t.Fatalf("baseline.FaultLoop(5) = %d", n)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("a nil dereference after FaultLoop did not panic")
			}
		}()
		var p *int
		_ = *p
	}()
	m := newTestImage(t, "bench.so")
	var fe *FaultError
	if _, err := Call(m.fn("null_read"), nil); !errors.As(err, &fe) || fe.Signal != syscall.SIGSEGV {
		t.Errorf("a plugin fault after FaultLoop: %v, want a SIGSEGV *FaultError", err)
	}
}
