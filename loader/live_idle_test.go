//go:build linux

package loader

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
)

// idleThreads returns the threads of this process at SCHED_IDLE.
func idleThreads(t *testing.T) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	var idle []int
	for _, e := range ents {
		tid, _ := strconv.Atoi(e.Name())
		if a, err := unix.SchedGetAttr(tid, 0); err == nil && a.Policy == unix.SCHED_IDLE {
			idle = append(idle, tid)
		}
	}
	return idle
}

// A reload in process loads on a thread of its own at SCHED_IDLE (held
// there by the hook, the test reads its policy), runs the plugin's
// constructor at normal priority, and ends the thread: no thread of the
// process is left idle. docs/STATE.md, "The pause of an in-process
// reload".
func TestReloadIdleThread(t *testing.T) {
	testenv.NeedNative(t, "thread scheduling policies read through /proc/self/task")
	ctx, cancel := context.WithCancel(context.Background())
	if d, ok := t.Deadline(); ok {
		ctx, cancel = context.WithDeadline(ctx, d)
	}
	defer cancel()
	if idle := idleThreads(t); len(idle) > 0 {
		t.Fatalf("threads %v idle before the reload", idle)
	}
	path := filepath.Join(t.TempDir(), "live_prio.so")
	install(t, plugintest.Build(t, "live_prio"), path)
	l := New(Options{})
	defer l.Close(ctx)
	lv, err := l.LoadLive(ctx, path, LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer lv.Close(ctx)
	policy, err := Bind0[int32](fnOf(t, lv, "ctor_sched_policy"))
	if err != nil {
		t.Fatal(err)
	}

	held, release := make(chan int), make(chan struct{})
	idleLoadHook = func() {
		held <- unix.Gettid()
		<-release
	}
	defer func() { idleLoadHook = nil }()
	done := make(chan error, 1)
	go func() { done <- lv.Reload(ctx) }()
	var tid int
	select {
	case tid = <-held:
	case err := <-done:
		t.Fatalf("the reload ended without loading on its own thread: %v", err)
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	a, err := unix.SchedGetAttr(tid, 0)
	if err != nil || a.Policy != unix.SCHED_IDLE {
		t.Errorf("the reload's thread %d at policy %d (%v) while it loads, want SCHED_IDLE (%d)", tid, a.Policy, err, unix.SCHED_IDLE)
	}
	if idle := idleThreads(t); len(idle) != 1 || idle[0] != tid {
		t.Errorf("idle threads %v while the reload loads, want only its own %d", idle, tid)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if lv.Generation() != 2 {
		t.Fatalf("generation %d after the reload", lv.Generation())
	}
	if p, err := policy(ctx); err != nil || p != unix.SCHED_NORMAL {
		t.Errorf("the reloaded constructor ran at policy %d (%v), want SCHED_OTHER", p, err)
	}
	// The thread ends with its goroutine (never unlocked): wait for it
	// to leave /proc (an exit takes microseconds; 30 s is a bound, not
	// a window).
	gone, cancelGone := context.WithTimeout(ctx, 30*time.Second)
	defer cancelGone()
	for {
		if _, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", tid)); errors.Is(err, os.ErrNotExist) {
			break
		}
		if gone.Err() != nil {
			t.Fatalf("the reload's idle thread %d still runs after the reload: it went back to the runtime's pool", tid)
		}
		runtime.Gosched()
	}
	if idle := idleThreads(t); len(idle) > 0 {
		t.Errorf("threads %v idle after the reload", idle)
	}
}
