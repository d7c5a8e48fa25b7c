package loader

import (
	"context"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// A reload's load runs behind the serving version, whose callers should
// not wait for it (docs/STATE.md, "The pause of an in-process reload"):
// its Go side (reading and parsing the file, mapping, relocating,
// registering with the dl services and debuggers) runs on an OS thread
// of its own at SCHED_IDLE, which the kernel gives only CPU time no
// normal thread wants and preempts at once when a caller's thread wakes.
// The thread is never given back: its goroutine ends locked to it, so
// the runtime ends the thread too and no other goroutine ever runs at
// its priority (a thread the runtime starts while a goroutine is locked
// comes from its template thread, not this one). Plugin code of the load
// (a migration, the constructors) runs on the reloading goroutine at
// normal priority, so that a thread it starts does not inherit the
// policy. Lowering a thread needs no privilege. Where the host may raise
// it (CAP_SYS_NICE), a load still idle after idleGrace is raised to
// normal priority, so that callers who leave no CPU time cannot starve a
// reload (as isolate's backgroundGrace does for a child); without it
// the load goes on at SCHED_IDLE's small weight.

// idleGrace bounds the time a reload's load runs idle.
var idleGrace = 100 * time.Millisecond

// idleLoadHook, when set (tests), runs on the idle thread before the
// load.
var idleLoadHook func()

// loadIdle is load, its Go side on an idle thread as above.
func (l *Loader) loadIdle(ctx context.Context, path string, st stateSource) (*Plugin, error) {
	type result struct {
		p   *Plugin
		err error
	}
	done := make(chan result, 1)
	work := make(chan func()) // plugin code, run at normal priority below
	goIdle(func(err error) {
		if err != nil {
			l.log.Debug("reload at normal priority", "error", err)
		}
		tid := unix.Gettid()
		grace := time.AfterFunc(idleGrace, func() {
			unix.SchedSetAttr(tid, &unix.SchedAttr{Policy: unix.SCHED_NORMAL}, 0) // EPERM: stays idle
		})
		defer grace.Stop()
		if idleLoadHook != nil {
			idleLoadHook()
		}
		p, err := l.loadAt(ctx, path, st, func(f func() error) error {
			res := make(chan error, 1)
			work <- func() { res <- f() }
			return <-res
		})
		done <- result{p, err}
	})
	for {
		select {
		case f := <-work:
			f()
		case r := <-done:
			return r.p, r.err
		}
	}
}

// goIdle runs f in a new goroutine locked to a thread that it lowers to
// SCHED_IDLE (f gets the error of that) and that ends with it. The
// runtime never ends its main thread (it parks a goroutine's locked
// main thread for good): a goroutine that finds itself there holds it
// while another one locks a thread, which then cannot be the main one.
func goIdle(f func(error)) {
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		if unix.Gettid() != unix.Getpid() {
			f(lowerThread())
			return
		}
		locked := make(chan struct{})
		go func() {
			runtime.LockOSThread() // as above
			close(locked)
			f(lowerThread())
		}()
		<-locked
		runtime.UnlockOSThread() // the main thread, at normal priority
	}()
}

// lowerThread moves the calling thread to SCHED_IDLE (no privilege
// needed to lower).
func lowerThread() error {
	return unix.SchedSetAttr(0, &unix.SchedAttr{Policy: unix.SCHED_IDLE}, 0)
}
