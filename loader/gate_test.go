package loader

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/testenv"
)

// TestCloseWaitsForNestedCall: a call into one plugin (outer) runs a host
// function that calls into another plugin and then blocks. Close of outer
// from a third goroutine must wait until the outer call has returned, and
// a Close of outer from inside that host function is refused.
func TestCloseWaitsForNestedCall(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	l := newLoader(t, Options{})
	var h hostCalls
	h.register(t, l, func(x int64) int64 { return x })
	outer := load(t, l, "host_calls")
	inner, err := l.Load(context.Background(), outer.Path()) // a second instance: another plugin
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close(context.Background())
	leaf, err := Bind1[int64, int64](fnOf(t, inner, "leaf"))
	if err != nil {
		t.Fatal(err)
	}
	leafOuter, err := Bind1[int64, int64](fnOf(t, outer, "leaf"))
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	closed := make(chan error, 1)
	var closeInCall, closedInside error
	var returned atomic.Bool // Close gives the race detector no happens-before edge
	h.reenter = func(_ context.Context, x int64) (int64, error) {
		r, err := leaf(context.Background(), x)
		closeInCall = outer.Close(context.Background())
		close(entered)
		// A handshake: once the other goroutine's Close has begun, calls
		// into outer are refused; it must then wait for this call.
		for {
			if _, err := leafOuter(context.Background(), 1); errors.Is(err, ErrClosed) {
				break
			}
			runtime.Gosched()
		}
		<-release
		select {
		case err := <-closed:
			closedInside = fmt.Errorf("Close returned (%v) while a call into the plugin was in progress", err)
		default:
		}
		returned.Store(true)
		return r, err
	}
	reenter, err := Bind1[int64, int64](fnOf(t, outer, "call_reenter"))
	if err != nil {
		t.Fatal(err)
	}
	result := make(chan int64, 1)
	go func() {
		r, err := reenter(context.Background(), 5)
		if err != nil {
			t.Errorf("call_reenter: %v", err)
		}
		result <- r
	}()
	<-entered
	if !errors.Is(closeInCall, pcall.ErrCloseInCall) {
		t.Errorf("Close from the plugin's own host function: %v, want ErrCloseInCall", closeInCall)
	}
	go func() { closed <- outer.Close(context.Background()) }()
	close(release) // the host function returns once Close has begun
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not return after the call did")
	}
	if closedInside != nil {
		t.Error(closedInside)
	}
	if !returned.Load() {
		t.Error("Close returned before the host function did")
	}
	if r := <-result; r != 16 { // leaf(5) = 15, +1 in call_reenter
		t.Errorf("call_reenter(5) = %d, want 16", r)
	}
	if _, err := reenter(context.Background(), 1); !errors.Is(err, ErrClosed) {
		t.Errorf("call after Close: %v, want ErrClosed", err)
	}
	if got, err := leaf(context.Background(), 2); err != nil || got != 6 {
		t.Errorf("inner plugin after outer Close: %d, %v", got, err)
	}
}

// gateFallbackTests are the lifecycle tests rerun with gated calls forced
// onto the fallback used where membarrier is unavailable.
const gateFallbackTests = "^(TestGateFallbackActive|TestCloseTwiceAndAfterClose|TestFaultQuarantinesAndDescribes|" +
	"TestDeadlineQuarantines|TestConcurrentCallsAndClose|TestCallAllocations|TestCloseWaitsForNestedCall|" +
	"TestHostFuncCalls|TestHostFuncPanic|TestHostFuncConcurrent|TestHostFuncDeadline|TestHostFuncPanicAfterDeadline)$"

// TestLifecycleGateFallback reruns the lifecycle tests in a child process
// with sandbox.GateFallbackEnv set.
func TestLifecycleGateFallback(t *testing.T) {
	if os.Getenv(pcall.GateFallbackEnv) != "" {
		t.Skip("already the child")
	}
	if testing.Short() {
		t.Skip("short")
	}
	cmd := exec.Command(os.Args[0], "-test.run", gateFallbackTests, "-test.v")
	cmd.Env = append(os.Environ(), pcall.GateFallbackEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("lifecycle tests with the gate fallback: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestGateFallbackActive") ||
		!strings.Contains(string(out), "--- PASS: TestConcurrentCallsAndClose") {
		t.Fatalf("child did not run the tests:\n%s", out)
	}
}

// TestGateFallbackActive checks that gated calls use the scheme the
// environment asks for: the fallback in TestLifecycleGateFallback's child
// (sandbox.GateFallbackEnv=1), membarrier otherwise.
func TestGateFallbackActive(t *testing.T) {
	forced := os.Getenv(pcall.GateFallbackEnv) == "1"
	if !forced && pcall.GateFallback() {
		testenv.Skipf(t, "membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) unavailable (Linux 4.14+): gated calls use the fallback")
	}
	if pcall.GateFallback() != forced {
		t.Fatalf("GateFallback() = %v with %s=%q", pcall.GateFallback(), pcall.GateFallbackEnv, os.Getenv(pcall.GateFallbackEnv))
	}
}
