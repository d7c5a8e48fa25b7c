//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"os"
	"os/exec"
	"runtime"
	"testing"
)

// threadCount is the number of threads of this process.
func threadCount(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// A child reserves idle threads for its runtime (reserveThreads) on the
// Go runtime's word that it never ends a thread it made (it parks an
// idle one for reuse): after holding n threads at once, the process
// keeps them through more holds and a garbage collection. If the runtime
// ended idle threads, a child whose plugin took its thread limit could
// not run its runtime, and a spare's load would make threads again, each
// a clone3 sent to the listener (docs/ASSUMPTIONS.md). That no hold makes a new
// thread is not asserted: the runtime may still make one of its own (a
// thread for a goroutine blocked in a system call), which costs a spare
// one round trip, not its threads.
//
// It runs in a fresh copy of the test binary running this test alone,
// so that no other test's goroutine locks and ends a thread meanwhile.
func TestSpareIdleThreadsKept(t *testing.T) {
	const alone = "RUNPLUG_IDLE_THREADS_ALONE"
	if os.Getenv(alone) == "" {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe, "-test.run", "^TestSpareIdleThreadsKept$", "-test.count", "1", "-test.v")
		cmd.Env = append(os.Environ(), alone+"=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return
	}
	n := threadCount(t) + threadReserve() // more than this process has
	idleThreads(n)
	before := threadCount(t)
	if before < n+1 {
		t.Fatalf("%d threads after holding %d at once", before, n)
	}
	for range 3 {
		idleThreads(n)
	}
	runtime.GC()
	if after := threadCount(t); after < before {
		t.Fatalf("%d threads after holding %d at once, %d after more holds and a GC: the runtime ended idle threads", before, n, after)
	}
}
