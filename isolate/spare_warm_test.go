//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"os"
	"os/exec"
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

// A spare leaves its runtime idle threads (warmSpare) on the Go
// runtime's word that it keeps a thread it made and reuses it: holding
// the same number of threads again makes none. If the runtime ended idle
// threads, a spare's load would make threads again, each a clone3 sent
// to the listener (docs/ASSUMPTIONS.md).
//
// It runs in a fresh copy of the test binary running this test alone:
// in the whole suite, other tests' goroutines blocking in system calls
// make threads of their own while it counts.
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
	n := threadCount(t) + spareThreads // more than this process has
	idleThreads(n)
	before := threadCount(t)
	if before < n+1 {
		t.Fatalf("%d threads after holding %d at once", before, n)
	}
	for range 3 {
		idleThreads(n)
	}
	if after := threadCount(t); after > before {
		t.Fatalf("holding %d threads again made %d more (%d to %d): the runtime did not keep its idle threads", n, after-before, before, after)
	}
}
