//go:build linux

package loader

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/dlsvc"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/plugintest"
)

// cmem is a page of memory outside the Go heap that plugin code may keep
// pointers to and write at any time (counters, string buffers).
type cmem struct{ b []byte }

func newCmem(t *testing.T) *cmem {
	t.Helper()
	b, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(b) })
	return &cmem{b}
}

// addr returns the address of byte off.
func (m *cmem) addr(off int) uint64 { return uint64(uintptr(unsafe.Pointer(&m.b[off]))) }

// word reads the 8-byte word at off atomically.
func (m *cmem) word(off int) int64 { return atomic.LoadInt64((*int64)(unsafe.Pointer(&m.b[off]))) }

// str reads the NUL-terminated string at off.
func (m *cmem) str(off int) string {
	s := m.b[off:]
	if i := strings.IndexByte(string(s), 0); i >= 0 {
		s = s[:i]
	}
	return string(s)
}

func TestCXXExceptions(t *testing.T) {
	l := newLoader(t, Options{})
	p := load(t, l, "cxx_exc")
	for _, c := range []struct {
		fn   string
		arg  uint64
		want uint64
	}{
		{"throw_catch", 1, 46}, // 42 + len("boom")
		{"throw_catch", 0, 0},
		{"catch_from_dep", 17, 17},
		{"typeinfo_same", 0, 3},
		{"exception_ptr_rethrow", 0, 7},
		{"dtors_during_unwind", 5, 5},
		{"throw_many", 100, 100},
		{"throw_once", 41, 42},
	} {
		if got := call(t, p, c.fn, c.arg); got != c.want {
			t.Errorf("%s(%d) = %d, want %d", c.fn, c.arg, got, c.want)
		}
	}
	if p.Quarantined() {
		t.Fatal("plugin quarantined after caught exceptions")
	}
	// The table lists the plugin's direct dependencies (libcxx_dep,
	// libstdc++, libgcc_s...: what the loader loaded for it).
	deps := p.obj.dl.Deps()
	if len(deps) != len(p.obj.deps) || len(deps) < 2 {
		t.Fatalf("table lists %d dependencies, the loader %d", len(deps), len(p.obj.deps))
	}
	for i, d := range p.obj.deps {
		if deps[i] != d.dl.Handle() {
			t.Errorf("dependency %d: table %#x, loader's %s %#x", i, deps[i], d.name, d.dl.Handle())
		}
	}
}

// An exception that escapes an extern "C" function finds no handler up
// to runplug's trampoline: std::terminate, abort(), the call's error, and
// the plugin is quarantined. The host goes on.
func TestCXXEscapingException(t *testing.T) {
	l := newLoader(t, Options{})
	p := load(t, l, "cxx_exc")
	f, err := p.Func("throw_escape")
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Call(context.Background(), 1)
	var fe *pcall.FaultError
	if !errors.As(err, &fe) || fe.Signal != unix.SIGABRT {
		t.Fatalf("escaping exception: err = %v, want a SIGABRT fault", err)
	}
	if !p.Quarantined() {
		t.Error("plugin not quarantined after std::terminate")
	}
	// Another instance is unaffected.
	q := load(t, l, "cxx_exc")
	if got := call(t, q, "throw_catch", 1); got != 46 {
		t.Errorf("second instance: throw_catch = %d, want 46", got)
	}
}

// Two instances of the plugin (sharing libstdc++, libgcc_s and cxx_dep)
// throw and catch on several threads at once.
func TestCXXConcurrentThrow(t *testing.T) {
	l := newLoader(t, Options{})
	ps := []*Plugin{load(t, l, "cxx_exc"), load(t, l, "cxx_exc")}
	const threads, n = 4, 2000
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < threads; i++ {
		wg.Add(1)
		go func(p *Plugin) {
			defer wg.Done()
			<-start
			if got := callErr(t, p, "throw_many", n); got != n {
				t.Errorf("throw_many(%d) = %d", n, got)
			}
		}(ps[i%2])
	}
	close(start)
	wg.Wait()
}

// _Unwind_Backtrace and backtrace() from a plugin frame called by the
// dependency, called by the plugin: every frame is named through dladdr,
// and the walk stops cleanly at runplug's trampoline, not in Go's stack.
func TestCXXBacktrace(t *testing.T) {
	l := newLoader(t, Options{})
	p := load(t, l, "cxx_exc")
	m := newCmem(t)
	r := call(t, p, "backtrace_walk", m.addr(0))
	bits, frames := r&0xff, r>>8
	for bit, what := range map[uint64]string{1: "bt_leaf (plugin)", 2: "dep_call (libcxx_dep.so)", 4: "backtrace_walk (plugin)", 8: "_URC_END_OF_STACK at the end"} {
		if bits&bit == 0 {
			t.Errorf("_Unwind_Backtrace: %s not seen (bits %#x, %d frames)", what, bits, frames)
		}
	}
	// bt_leaf, dep_call, backtrace_walk, rp_call: the walk ends at the
	// trampoline (give or take the frame of the walker itself).
	if frames < 4 || frames > 6 {
		t.Errorf("_Unwind_Backtrace walked %d frames, want 4 to 6 (plugin, dependency, plugin, trampoline)", frames)
	}
	if n := m.word(0); n < 4 || n > 7 {
		t.Errorf("backtrace() returned %d frames, want 4 to 7", n)
	}
	if n := call(t, p, "bt_symbols", m.addr(64), 1024); n < 2 || n > 4 {
		t.Errorf("backtrace from bt_symbols: %d frames, want 2 to 4 (itself, the trampoline)", n)
	}
	if s, want := m.str(64), p.Path()+"(bt_symbols+0x"; !strings.HasPrefix(s, want) {
		t.Errorf("backtrace_symbols()[0] = %q, want it to start with %q", s, want)
	}
}

func TestCXXDladdr(t *testing.T) {
	l := newLoader(t, Options{})
	p := load(t, l, "cxx_exc")
	m := newCmem(t)
	r := call(t, p, "dladdr_self", m.addr(64), 1024, m.addr(0))
	if r != 15 {
		t.Errorf("dladdr_self = %#x, want 0xf (found, symbol, link_map, symbol entry)", r)
	}
	if got := m.str(64); got != p.Path() {
		t.Errorf("dli_fname = %q, want %q", got, p.Path())
	}
	if got := uintptr(m.word(0)); got != p.Base() {
		t.Errorf("dli_fbase = %#x, want the base %#x", got, p.Base())
	}
	if call(t, p, "dladdr_libc", m.addr(64), 1024) != 1 || !strings.Contains(m.str(64), "libc.so.6") {
		t.Errorf("dladdr(strlen) = %q, want glibc's answer (libc.so.6)", m.str(64))
	}
}

// atexit handlers and static destructors registered with the plugin's
// __dso_handle run at Close; a quarantined plugin's are dropped, never
// run (not at Close, not at exit).
func TestCXXAtexitAtClose(t *testing.T) {
	l := newLoader(t, Options{})
	m := newCmem(t)
	p := load(t, l, "cxx_exc")
	call(t, p, "atexit_register", m.addr(0))
	call(t, p, "static_dtor_counter", m.addr(0))
	if n := p.obj.dl.AtexitPending(); n < 2 {
		t.Errorf("%d atexit handlers pending, want at least 2", n)
	}
	if m.word(0) != 0 {
		t.Fatal("handlers ran before Close")
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := m.word(0); got != 101 {
		t.Errorf("after Close: counter %d, want 101 (atexit handler 1 + static destructor 100)", got)
	}

	q := load(t, l, "cxx_exc")
	call(t, q, "atexit_register", m.addr(8))
	if _, err := mustFunc(t, q, "crash").Call(context.Background()); err == nil {
		t.Fatal("crash did not fault")
	}
	h := q.obj.dl
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := m.word(8); got != 0 {
		t.Errorf("a quarantined plugin's atexit handler ran (%d)", got)
	}
	if dlsvc.DLIsHandle(h.Handle()) {
		t.Error("closed plugin still in the object table")
	}
}

// exitThread runs fn on a locked OS thread that exits when fn returns
// (the goroutine ends still locked), and waits for the goroutine. The
// process's main thread never exits (the runtime parks it instead), so a
// goroutine that finds itself there keeps it, locked, until the test ends
// and fn runs on another.
func exitThread(t *testing.T, fn func()) {
	for {
		onMain := make(chan bool)
		go func() {
			runtime.LockOSThread()
			if unix.Gettid() == unix.Getpid() {
				onMain <- true
				<-t.Context().Done()
				runtime.UnlockOSThread()
				return
			}
			onMain <- false
			fn()
			close(onMain)
			// No UnlockOSThread: the thread exits with the goroutine.
		}()
		if !<-onMain {
			<-onMain
			return
		}
	}
}

// waitWord waits until word off of m is want: a thread's exit (which runs
// the destructors) follows its goroutine's end, and there is nothing to
// join. The bound is generous (a loaded machine delays the exit); the
// test fails if it passes.
func waitWord(t *testing.T, m *cmem, off int, want int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for m.word(off) != want {
		if time.Now().After(deadline) {
			t.Fatalf("word %d = %d, want %d (thread exit did not run the destructors)", off, m.word(off), want)
		}
		runtime.Gosched()
		unix.Nanosleep(&unix.Timespec{Nsec: 100000}, nil)
	}
}

// C++ thread_local destructors run when the thread exits, while the
// plugin is open; after Close they never run (the thread's exit skips
// them), and a thread's list only ever holds live objects' entries.
func TestCXXThreadLocalDtors(t *testing.T) {
	l := newLoader(t, Options{})
	m := newCmem(t)
	live := load(t, l, "cxx_exc")
	exitThread(t, func() { callErr(t, live, "tl_touch", m.addr(0)) })
	waitWord(t, m, 0, 1)

	closed := load(t, l, "cxx_exc")
	exitThread(t, func() {
		// live's destructor registered first, so it runs last: once
		// it ran, the thread's exit is past closed's entry.
		callErr(t, live, "tl_touch", m.addr(8))
		callErr(t, closed, "tl_touch", m.addr(16))
		if n := dlsvc.DLThreadDtors(); n != 2 {
			t.Errorf("%d thread_local destructors registered, want 2", n)
		}
		if err := closed.Close(context.Background()); err != nil {
			t.Error(err)
		}
		// A registration drops the entries of closed objects.
		again := load(t, l, "cxx_exc")
		callErr(t, again, "tl_touch", m.addr(24))
		if n := dlsvc.DLThreadDtors(); n != 2 {
			t.Errorf("%d thread_local destructors after a close and a new registration, want 2", n)
		}
		if err := again.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	waitWord(t, m, 8, 1)
	if m.word(16) != 0 || m.word(24) != 0 {
		t.Errorf("destructors of closed plugins ran: %d, %d", m.word(16), m.word(24))
	}
}

var _ = plugintest.Dir

// A Rust cdylib: catch_unwind catches, Drop runs while a panic unwinds,
// and an uncaught panic ends the call with an error (abort), quarantined.
func TestRustPanics(t *testing.T) {
	l := newLoader(t, Options{})
	p := load(t, l, "rs_panic")
	for _, c := range plugintest.RsPanicCalls {
		if got := call(t, p, c.Fn, c.Arg); got != c.Want {
			t.Errorf("%s(%d) = %d, want %d", c.Fn, c.Arg, got, c.Want)
		}
	}
	_, err := mustFunc(t, p, "rs_uncaught").Call(context.Background(), 1)
	var fe *pcall.FaultError
	if !errors.As(err, &fe) || fe.Signal != unix.SIGABRT {
		t.Fatalf("uncaught panic: err = %v, want a SIGABRT fault", err)
	}
	if !p.Quarantined() {
		t.Error("plugin not quarantined after an uncaught panic")
	}
}

// Exceptions keep being caught while other goroutines load and close
// plugins (the object table changes under the unwinder's lock-free
// _dl_find_object, and its sorted copies grow past their first capacity).
func TestCXXThrowWhileTableChanges(t *testing.T) {
	l := newLoader(t, Options{})
	p := load(t, l, "cxx_exc")
	tiny := plugintest.Build(t, "bench_tiny")
	stop := make(chan struct{})
	var churn sync.WaitGroup
	for g := 0; g < 2; g++ {
		churn.Add(1)
		go func() {
			defer churn.Done()
			var held []*Plugin
			for {
				select {
				case <-stop:
					for _, q := range held {
						q.Close(context.Background())
					}
					return
				default:
				}
				q, err := l.Load(context.Background(), tiny)
				if err != nil {
					t.Error(err)
					return
				}
				held = append(held, q)
				if len(held) > 20 { // up to 40 objects at once: the copies grow
					held[0].Close(context.Background())
					held = held[1:]
				}
			}
		}()
	}
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 20; k++ {
				if got := callErr(t, p, "throw_many", 200); got != 200 {
					t.Errorf("throw_many(200) = %d while the table changes", got)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	churn.Wait()
	adds, subs := dlsvc.DLCounts()
	if adds == 0 || subs == 0 {
		t.Errorf("object table counts: %d adds, %d removes", adds, subs)
	}
}
