//go:build linux

package loader

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
	"github.com/runplug/runplug/internal/tlsrt"
)

// threadProbe is a goroutine locked to an OS thread of its own that runs
// the functions sent to it there, until stop.
type threadProbe struct {
	tid  int
	fns  chan func()
	done chan struct{}
}

func newThreadProbe() *threadProbe {
	p := &threadProbe{fns: make(chan func()), done: make(chan struct{})}
	started := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		p.tid = unix.Gettid()
		close(started)
		for fn := range p.fns {
			fn()
			p.done <- struct{}{}
		}
	}()
	<-started
	return p
}

func (p *threadProbe) run(fn func()) { p.fns <- fn; <-p.done }
func (p *threadProbe) stop()         { close(p.fns) }

// threadIDs returns the ids of the process's threads now.
func threadIDs(t *testing.T) map[int]bool {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[int]bool{}
	for _, e := range ents {
		if id, err := strconv.Atoi(e.Name()); err == nil {
			ids[id] = true
		}
	}
	return ids
}

// newThreadProbeAfter returns a probe on a thread not in old (created
// after old was taken): Go reuses idle threads, so probes are started and
// kept, each holding its thread, until one lands on a new one.
func newThreadProbeAfter(t *testing.T, old map[int]bool) (*threadProbe, func()) {
	t.Helper()
	var held []*threadProbe
	stop := func() {
		for _, h := range held {
			h.stop()
		}
	}
	for len(held) < 10000 {
		p := newThreadProbe()
		held = append(held, p)
		if !old[p.tid] {
			return p, stop
		}
	}
	stop()
	t.Fatal("no new thread after 10000 locked goroutines")
	return nil, nil
}

var ieHello = binary.LittleEndian.Uint64([]byte("static!\x00"))

// An initial-exec plugin works on every thread: one that existed before
// the load (a Go M), the loading one, a Go thread created after the load,
// a thread the plugin creates; each sees a fresh copy and keeps its own
// values from call to call.
func TestTLSInitialExec(t *testing.T) {
	before := newThreadProbe()
	defer before.stop()
	l := newLoader(t, Options{})
	p := load(t, l, "tls_ie")
	if _, ok := p.obj.tls.StaticOffset(); !ok {
		t.Fatal("tls_ie's module is not in static TLS")
	}
	fresh := func(who string, bumps int) {
		for _, s := range []struct {
			fn   string
			want uint64
		}{
			{"tls_ie_counter", 0},
			{"tls_ie_greeting", ieHello},
			{"tls_ie_pointer_ok", 1},
			{"tls_ie_models_agree", 1},
		} {
			if got := callErr(t, p, s.fn); got != s.want {
				t.Errorf("%s: %s = %#x, want %#x", who, s.fn, got, s.want)
			}
		}
		for k := 1; k <= bumps; k++ {
			if got := callErr(t, p, "tls_ie_bump"); got != uint64(k) {
				t.Errorf("%s: bump %d = %d, want %d (the value stays from call to call)", who, k, got, k)
			}
		}
		callErr(t, p, "tls_ie_greeting_set", uint64(who[0]))
	}
	before.run(func() { fresh("before", 3) })
	runtime.LockOSThread()
	fresh("loader", 5)
	runtime.UnlockOSThread()
	// Threads that exist now were all there after the load: one that
	// is not in this list was created later (and was not the one the
	// test goroutine used above).
	after, stopAfter := newThreadProbeAfter(t, threadIDs(t))
	defer stopAfter()
	after.run(func() { fresh("after", 7) })
	// Each thread kept its own values.
	for _, c := range []struct {
		probe *threadProbe
		who   string
		n     uint64
	}{{before, "before", 3}, {after, "after", 7}} {
		c.probe.run(func() {
			if got := callErr(t, p, "tls_ie_counter"); got != c.n {
				t.Errorf("%s: counter %d later, want its own %d", c.who, got, c.n)
			}
			if got := callErr(t, p, "tls_ie_greeting"); got != ieHello&^0xff|uint64(c.who[0]) {
				t.Errorf("%s: greeting %#x later, want its own write", c.who, got)
			}
		})
	}
	if got := call(t, p, "tls_ie_thread"); got != 1 {
		t.Errorf("tls_ie_thread = %d, want 1 (a plugin-made thread sees its own fresh copy)", got)
	}
}

// A dependency whose variable a plugin reaches in the initial-exec model
// is put in static TLS for it, and both objects see one variable.
func TestTLSInitialExecDependency(t *testing.T) {
	l := newLoader(t, Options{})
	p := load(t, l, "tls_ie_user")
	q := load(t, l, "tls_ie_user") // a second instance sharing tls_ie_dep
	if len(p.obj.deps) != 1 || p.obj.deps[0].tls == nil {
		t.Fatalf("tls_ie_user's dependency: %v", p.obj.deps)
	}
	if _, ok := p.obj.deps[0].tls.StaticOffset(); !ok {
		t.Fatal("tls_ie_dep's module is not in static TLS")
	}
	release := make(chan struct{})
	defer close(release)
	var got [4]uint64
	onThread(t, release, func() {
		got[0] = callErr(t, p, "tls_ie_user_get")
		got[1] = callErr(t, p, "tls_ie_user_bump")
		got[2] = callErr(t, p, "tls_ie_dep_get")
		got[3] = callErr(t, q, "tls_ie_user_get")
	})
	if want := [4]uint64{42, 43, 43, 43}; got != want {
		t.Errorf("user_get, user_bump, dep_get, second instance's user_get = %v, want %v", got, want)
	}
	var other uint64
	onThread(t, release, func() { other = callErr(t, p, "tls_ie_user_get") })
	if other != 42 {
		t.Errorf("another thread sees %d, want the template's 42", other)
	}
}

// TLS descriptors: the dynamic resolver (tls_desc) keeps every register
// but rax on its slow path (a thread's first access allocates) and its
// fast path; the static resolver serves an object in static TLS
// (tls_desc_ie).
func TestTLSDescriptors(t *testing.T) {
	// tls_desc checks x86-64's registers; AArch64's: tls_desc_a64
	// (TestTLSDescriptorsAArch64), and every -fPIC TLS access there
	// (TLSDESC is the default).
	testenv.NeedPort(t, runtime.GOARCH == "amd64", "tls_desc's x86-64 register check (-mtls-dialect=gnu2)")
	l := newLoader(t, Options{})
	p := load(t, l, "tls_desc")
	if _, ok := p.obj.tls.StaticOffset(); ok {
		t.Error("tls_desc's module is in static TLS; want dynamic (it has no initial-exec code)")
	}
	release := make(chan struct{})
	defer close(release)
	for i := 0; i < 2; i++ {
		onThread(t, release, func() {
			for k := 0; k < 2; k++ { // slow path, then fast path
				if got := callErr(t, p, "tls_desc_regs_ok"); got != 1 {
					t.Errorf("thread %d, access %d: tls_desc_regs_ok = %d, want 1", i, k, got)
				}
			}
			for k := 1; k <= 3; k++ {
				if got := callErr(t, p, "tls_desc_bump"); got != uint64(k) {
					t.Errorf("thread %d: bump %d = %d", i, k, got)
				}
			}
			if got, want := callErr(t, p, "tls_desc_greeting"), binary.LittleEndian.Uint64([]byte("desc\x00\x00\x00\x00")); got != want {
				t.Errorf("thread %d: greeting %#x, want %#x", i, got, want)
			}
		})
	}
	// The upper halves of ymm0-15, on a fresh thread's slow path.
	onThread(t, release, func() {
		switch got := callErr(t, p, "tls_desc_ymm_ok"); got {
		case 1:
		case 2:
			t.Log("the CPU has no AVX: ymm upper halves not checked")
		default:
			t.Errorf("tls_desc_ymm_ok = %d, want 1", got)
		}
	})
	s := load(t, l, "tls_desc_ie")
	if _, ok := s.obj.tls.StaticOffset(); !ok {
		t.Fatal("tls_desc_ie's module is not in static TLS")
	}
	onThread(t, release, func() {
		if got := callErr(t, s, "tls_desc_ie_static"); got != 1 {
			t.Errorf("tls_desc_ie_static = %d, want 1", got)
		}
		for k := 1; k <= 2; k++ {
			if got := callErr(t, s, "tls_desc_ie_bump"); got != uint64(5+k) {
				t.Errorf("bump %d = %d, want %d", k, got, 5+k)
			}
		}
	})
}

// Loading instances of an initial-exec plugin until glibc's surplus runs
// out gives an error naming the sizes and the tunable; closing them, in
// load order (not the order glibc reclaims in), gives the room back, so as
// many load again.
func TestTLSStaticExhausted(t *testing.T) {
	l := newLoader(t, Options{TombstoneBudget: 1})
	path := plugintest.Build(t, "tls_ie")
	held0, _ := tlsrt.StaticTLSHeld()
	var pls []*Plugin
	var err error
	for len(pls) < 1000 {
		var p *Plugin
		if p, err = l.Load(context.Background(), path); err != nil {
			break
		}
		pls = append(pls, p)
	}
	closeAll := func() {
		for i := len(pls) - 1; i >= 0; i-- { // last first: glibc reclaims from the end
			if err := pls[i].Close(context.Background()); err != nil {
				t.Error(err)
			}
		}
		pls = nil
	}
	defer closeAll()
	var se *tlsrt.StaticTLSError
	if !errors.Is(err, tlsrt.ErrStaticTLSFull) || !errors.As(err, &se) {
		t.Fatalf("after %d instances: %v, want a *sandbox.StaticTLSError", len(pls), err)
	}
	t.Logf("%d instances, then: %v", len(pls), err)
	for _, s := range []string{fmt.Sprintf("%d bytes aligned to %d", se.Size, se.Align), tlsrt.OptionalStaticTLSTunable, "tls_ie.so"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error does not mention %q", s)
		}
	}
	n := len(pls)
	for _, p := range pls { // first loaded first
		if err := p.Close(context.Background()); err != nil {
			t.Error(err)
		}
	}
	pls = nil
	if held, _ := tlsrt.StaticTLSHeld(); held != held0 {
		t.Errorf("static TLS held %d after closing every instance, want %d", held, held0)
	}
	for i := 0; i < n; i++ {
		p, err := l.Load(context.Background(), path)
		if err != nil {
			t.Fatalf("instance %d of %d after closing them all: %v", i+1, n, err)
		}
		pls = append(pls, p)
	}
}

// Close then reload, many times: the room is given back each time.
func TestTLSStaticReload(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	l := newLoader(t, Options{})
	path := plugintest.Build(t, "tls_ie")
	held0, n0 := tlsrt.StaticTLSHeld()
	for i := 0; i < 300; i++ {
		p, err := l.Load(context.Background(), path)
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		if got := call(t, p, "tls_ie_bump"); got != 1 {
			t.Fatalf("cycle %d: first bump %d, want 1 (a fresh copy)", i, got)
		}
		if err := p.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if held, n := tlsrt.StaticTLSHeld(); held != held0 || n != n0 {
		t.Errorf("static TLS held %d in %d blocks after the cycles, want %d in %d", held, n, held0, n0)
	}
}

// A system library (not glibc's) whose own TLS is initial-exec: libgomp.
func TestTLSInitialExecSystemLibrary(t *testing.T) {
	lib := testenv.SystemLib(t, "libgomp.so.1", "libgomp1")
	l := newLoader(t, Options{})
	p, err := l.Load(context.Background(), lib)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.obj.tls.StaticOffset(); !ok {
		t.Fatal("libgomp's module is not in static TLS")
	}
	// omp_get_thread_num reads libgomp's initial-exec TLS (0 outside a
	// parallel region); omp_get_level too.
	for _, fn := range []string{"omp_get_thread_num", "omp_get_level"} {
		if got := call(t, p, fn); got != 0 {
			t.Errorf("%s = %d, want 0", fn, got)
		}
	}
}

// A dependency already loaded with dynamic TLS cannot move to static TLS
// for a new plugin's initial-exec code; loaded first for such code, its
// static TLS serves the general-dynamic code of plugins loaded after.
func TestTLSInitialExecOrder(t *testing.T) {
	t.Run("dynamic first", func(t *testing.T) {
		l := newLoader(t, Options{})
		load(t, l, "tls_user")
		_, err := l.Load(context.Background(), plugintest.Build(t, "tls_ie_late"))
		if !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), "already loaded with dynamic TLS") || !strings.Contains(err.Error(), "tls_dep.so") {
			t.Fatalf("load: %v, want ErrTLS naming tls_dep.so, already loaded with dynamic TLS", err)
		}
	})
	t.Run("static first", func(t *testing.T) {
		l := newLoader(t, Options{})
		ie := load(t, l, "tls_ie_late")
		gd := load(t, l, "tls_user")
		release := make(chan struct{})
		defer close(release)
		var got [3]uint64
		onThread(t, release, func() {
			got[0] = callErr(t, gd, "tls_user_get")
			got[1] = callErr(t, ie, "tls_ie_late_bump")
			got[2] = callErr(t, gd, "tls_user_bump")
		})
		if want := [3]uint64{7, 8, 9}; got != want {
			t.Errorf("tls_user_get, tls_ie_late_bump, tls_user_bump = %v, want %v (one variable, two models)", got, want)
		}
	})
}
