//go:build linux && amd64 && cgo

package pcall

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/baseline"
)

// TestCallbackCgoContext: with a cgo traceback context function installed
// (runtime.SetCgoTraceback with a Context), a callback's entry takes cgo's whole
// //export protocol, asking the function for a context before each call
// into Go and releasing it after, exactly as often as a cgo //export
// function does; without one it skips the protocol. Results, panics
// (whose stack trace reads the context) and protected calls are the same.
// In a child process: the runtime takes one set of cgo traceback
// functions per process.
func TestCallbackCgoContext(t *testing.T) {
	if os.Getenv("RUNPLUG_CBCTX_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestCallbackCgoContext$", "-test.v")
		cmd.Env = append(os.Environ(), "RUNPLUG_CBCTX_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestCallbackCgoContext") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	add, err := NewCallbackInts("add", func(a, b, _, _, _, _ uint64) uint64 { return a + b }, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer add.Free()
	const n = 100
	sum := func(n int64) int64 { return n*(n-1)/2 + n }
	// No context function yet: the entry does not call one.
	if got := fixtureCallbackLoop(add.Addr(), n); got != sum(n) {
		t.Fatalf("loop before = %d, want %d", got, sum(n))
	}
	runtime.SetCgoTraceback(0, nil, fixtureContextFunc(), nil)
	counts := func() (int64, int64) { return fixtureContextCounts() }
	made0, rel0 := counts()
	if got := baseline.LoopExport(n); got != sum(n) {
		t.Fatalf("export loop = %d, want %d", got, sum(n))
	}
	made1, rel1 := counts()
	exportMade, exportRel := made1-made0, rel1-rel0
	if exportMade < n || exportRel != exportMade {
		t.Fatalf("a cgo //export called %d times: %d contexts made, %d released", n, exportMade, exportRel)
	}
	if got := fixtureCallbackLoop(add.Addr(), n); got != sum(n) {
		t.Fatalf("loop = %d, want %d", got, sum(n))
	}
	made2, rel2 := counts()
	if made2-made1 != exportMade || rel2-rel1 != exportRel {
		t.Errorf("callback called %d times: %d contexts made, %d released; a cgo //export: %d, %d", n, made2-made1, rel2-rel1, exportMade, exportRel)
	}
	// Inside a protected call (rp_cb_c's path).
	r, err := Call(fixtureCallbackInt(), cbArgs(add.Addr(), [5]int64{40, 2}, [8]float64{}))
	if err != nil || r.Int != 42 {
		t.Fatalf("protected call = %d, %v; want 42", r.Int, err)
	}
	made3, rel3 := counts()
	if made3-made2 < 1 || rel3-rel2 != made3-made2 {
		t.Errorf("protected call: %d contexts made, %d released", made3-made2, rel3-rel2)
	}
	// A panic, whose stack trace (debug.Stack) walks the context.
	bad, err := NewCallbackInts("bad", func(a, _, _, _, _, _ uint64) uint64 {
		if a == 1 {
			panic(errors.New("boom"))
		}
		return 10
	}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Free()
	if got := fixtureCallbackLoop(bad.Addr(), 3); got != 20 {
		t.Fatalf("loop over a panicking callback = %d, want 20", got)
	}
	if err := bad.Err(); !errors.Is(err, ErrHostPanic) {
		t.Fatalf("Err = %v", err)
	}
	if _, err := Call(fixtureCallbackInt(), cbArgs(bad.Addr(), [5]int64{1}, [8]float64{})); !errors.Is(err, ErrHostPanic) {
		t.Fatalf("protected call of a panicking callback: %v", err)
	}
	if made, rel := counts(); made != rel {
		t.Errorf("%d contexts made, %d released", made, rel)
	}
}
