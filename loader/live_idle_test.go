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

// prioLive loads live_prio as a Live.
func prioLive(t *testing.T, ctx context.Context) *Live {
	t.Helper()
	path := filepath.Join(t.TempDir(), "live_prio.so")
	install(t, plugintest.Build(t, "live_prio"), path)
	l := New(Options{})
	t.Cleanup(func() { l.Close(context.Background()) })
	lv, err := l.LoadLive(ctx, path, LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return lv
}

// heldReload starts a reload of lv with idleGrace grace whose load is
// held on its idle thread: it returns the thread's id once held (or
// fails), release (close it to let the load go on) and the reload's
// result.
func heldReload(t *testing.T, ctx context.Context, lv *Live, grace time.Duration) (tid int, release chan struct{}, done chan error) {
	t.Helper()
	old := idleGrace
	idleGrace = grace
	held, release := make(chan int), make(chan struct{})
	idleLoadHook = func() {
		held <- unix.Gettid()
		<-release
	}
	t.Cleanup(func() { idleGrace, idleLoadHook = old, nil })
	done = make(chan error, 1)
	go func() { done <- lv.Reload(ctx) }()
	select {
	case tid = <-held:
	case err := <-done:
		t.Fatalf("the reload ended without loading on its own thread: %v", err)
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	return tid, release, done
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
	lv := prioLive(t, ctx)
	policy, err := Bind0[int32](fnOf(t, lv, "ctor_sched_policy"))
	if err != nil {
		t.Fatal(err)
	}
	tid, release, done := heldReload(t, ctx, lv, time.Hour) // idle until it has loaded
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

// A reload's load still idle after idleGrace is raised to normal
// priority where the host may (CAP_SYS_NICE), so that busy callers
// cannot starve it.
func TestReloadIdleGrace(t *testing.T) {
	testenv.NeedNative(t, "thread scheduling policies read through /proc/self/task")
	if !canRaise() {
		testenv.Skipf(t, "the host lacks CAP_SYS_NICE: a reload's load stays idle")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tid, release, done := heldReload(t, ctx, prioLive(t, ctx), 0) // raised at once
	for {
		a, err := unix.SchedGetAttr(tid, 0)
		if err == nil && a.Policy == unix.SCHED_NORMAL {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the reload's thread %d still at policy %d (%v) past its grace", tid, a.Policy, err)
		}
		runtime.Gosched()
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// canRaise says whether this process may move a thread from SCHED_IDLE
// back to SCHED_NORMAL: CAP_SYS_NICE in its effective set.
func canRaise() bool {
	h := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var d [2]unix.CapUserData
	return unix.Capget(&h, &d[0]) == nil && d[0].Effective&(1<<unix.CAP_SYS_NICE) != 0
}
