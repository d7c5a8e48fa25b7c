package loader

import (
	"bytes"
	"context"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/testenv"
)

// TestABIContractAfterPoison pins the contract between plugin code and the
// Go code after a call: plugins/abi_poison.c clobbers rbx, rbp, r12-r15
// (r14 is Go's g register, rbp its frame pointer), the x87 control word,
// MXCSR and the direction flag, then faults, or spins until its deadline
// stops it. On the same thread, afterwards, Go's floating point rounds to
// nearest and keeps subnormals, memmove copies forwards, the stack unwinds,
// the garbage collector and the scheduler run, and the next native call
// finds the ABI's control state (docs/ASSUMPTIONS.md).
func TestABIContractAfterPoison(t *testing.T) {
	testenv.NeedPort(t, runtime.GOARCH == "amd64", "abi_poison's x86-64 assembly (callee-saved registers, x87 and MXCSR state)")
	l := newLoader(t, Options{KeepAfterFault: true})
	p := load(t, l, "abi_poison")
	state := mustFunc(t, p, "control_state")
	for _, tt := range []struct {
		name string
		call func(f *Func) error
		want error
	}{
		{"fault", func(f *Func) error { _, err := f.Call(context.Background()); return err }, nil},
		{"deadline", func(f *Func) error {
			ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
			defer cancel()
			_, err := f.callArgs(ctx, nil)
			return err
		}, pcall.ErrDeadline},
	} {
		t.Run(tt.name, func(t *testing.T) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			fn := "poison_fault"
			if tt.want != nil {
				fn = "poison_spin"
			}
			err := tt.call(mustFunc(t, p, fn))
			var fe *pcall.FaultError
			switch {
			case tt.want == nil && !errors.As(err, &fe):
				t.Fatalf("%s: %v, want a fault", fn, err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("%s: %v, want %v", fn, err, tt.want)
			}
			checkGoAfterPoison(t)
			// The next native call on this thread finds the ABI's state.
			got, err := state.Call(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if fcw, mxcsr, df := got>>32, got&0xffff, got>>16&1; fcw != 0x37f || mxcsr != 0x1f80 || df != 0 {
				t.Errorf("after %s: x87 control word %#x, MXCSR %#x, direction flag %d; want 0x37f, 0x1f80, 0", fn, fcw, mxcsr, df)
			}
		})
	}
}

// checkGoAfterPoison checks the Go side of the contract on this thread.
func checkGoAfterPoison(t *testing.T) {
	t.Helper()
	// SSE arithmetic: round to nearest (1/10 rounds up, which truncation
	// would not), subnormals neither flushed (FTZ) nor read as zero (DAZ).
	if q := divide(1, 10); math.Float64bits(q) != 0x3fb999999999999a {
		t.Errorf("1/10 = %#x, want 0x3fb999999999999a (round to nearest)", math.Float64bits(q))
	}
	if q := divide(-1, 10); math.Float64bits(q) != 0xbfb999999999999a {
		t.Errorf("-1/10 = %#x, want 0xbfb999999999999a (round to nearest)", math.Float64bits(q))
	}
	tiny := math.SmallestNonzeroFloat64
	if h := divide(4*tiny, 2); h != 2*tiny {
		t.Errorf("subnormal 4*min/2 = %g, want %g (denormals are not zero)", h, 2*tiny)
	}
	if u := divide(math.SmallestNonzeroFloat64*3, 2); u == 0 {
		t.Errorf("subnormal 3*min/2 = 0 (flush to zero)")
	}
	// memmove forwards, overlapping and not, small and large (rep movs
	// obeys the direction flag).
	for _, n := range []int{100, 3000, 64 << 10, 1 << 20} {
		buf := make([]byte, 2*n+4096)
		for i := range buf {
			buf[i] = byte(i * 7)
		}
		want := bytes.Clone(buf[4096 : 4096+n])
		copy(buf[:n], buf[4096:4096+n]) // forwards, overlapping when n > 4096
		if !bytes.Equal(buf[:n], want) {
			t.Errorf("forward copy of %d bytes is wrong", n)
		}
		dst := make([]byte, n)
		copy(dst, want)
		if !bytes.Equal(dst, want) {
			t.Errorf("copy of %d bytes is wrong", n)
		}
	}
	// The frame pointers unwind to this test (rbp), the scheduler and the
	// collector run (g in r14).
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(1, pcs)])
	found := false
	for {
		f, more := frames.Next()
		found = found || strings.Contains(f.Function, ".Test")
		if !more {
			break
		}
	}
	if !found {
		t.Error("runtime.Callers does not reach the test")
	}
	done := make(chan int)
	go func() { done <- len(make([]byte, 1<<20)) }()
	runtime.GC()
	if <-done != 1<<20 {
		t.Error("goroutine result wrong")
	}
}

//go:noinline
func divide(a, b float64) float64 { return a / b }
