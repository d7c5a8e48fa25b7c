package loader

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/sysmaps"
)

// install puts a copy of src at dst the way a build system installs a
// file: written beside it, then renamed over it.
func install(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

// liveTag checks r, a result of live_call(x), and returns the tag of the
// build that made it (0 when r mixes builds or lost x).
func liveTag(r, x int64) int64 {
	tag, ctorTag := r>>32, (r>>16)&0xffff
	if tag != ctorTag || r&0xffff != x&0xffff {
		return 0
	}
	return tag
}

func TestLiveReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "live.so")
	install(t, plugintest.Build(t, "live_a"), path)
	l := New(Options{})
	defer l.Close(context.Background())
	events := make(chan ReloadEvent, 4)
	lv, err := l.LoadLive(context.Background(), path, LiveOptions{OnReload: func(e ReloadEvent) { events <- e }})
	if err != nil {
		t.Fatal(err)
	}
	defer lv.Close(context.Background())
	liveCall, err := Bind1[int64, int64](fnOf(t, lv, "live_call"))
	if err != nil {
		t.Fatal(err)
	}
	calls, err := lv.Func("live_calls")
	if err != nil {
		t.Fatal(err)
	}
	if r, err := liveCall(context.Background(), 7); err != nil || liveTag(r, 7) != 0xa {
		t.Fatalf("build A: %#x, %v", r, err)
	}
	old := lv.Plugin()
	install(t, plugintest.Build(t, "live_b"), path)
	if err := lv.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e := <-events; e.Err != nil || e.Generation != 2 || e.Watch {
		t.Errorf("event %+v", e)
	}
	if r, err := liveCall(context.Background(), 8); err != nil || liveTag(r, 8) != 0xb {
		t.Errorf("build B: %#x, %v", r, err)
	}
	if n, err := calls.Call(context.Background()); n != 2 || err != nil {
		t.Errorf("state counted %d calls (%v), want 2: the state did not survive the reload", n, err)
	}
	if _, err := old.Func("live_call"); !errors.Is(err, ErrClosed) {
		t.Errorf("old version after the reload: %v, want ErrClosed", err)
	}
	if g := lv.Generation(); g != 2 {
		t.Errorf("Generation() = %d", g)
	}
	// A binding made now must exist in later builds too.
	onlyB, err := Bind0[int64](fnOf(t, lv, "live_only_b"))
	if err != nil {
		t.Fatal(err)
	}
	install(t, plugintest.Build(t, "live_a"), path)
	if err := lv.Reload(context.Background()); !errors.Is(err, ErrReload) || !errors.Is(err, ErrSymbolNotFound) {
		t.Errorf("reload to a build without live_only_b: %v", err)
	}
	if v, err := onlyB(context.Background()); v != 2 || err != nil {
		t.Errorf("live_only_b after the failed reload: %d, %v", v, err)
	}
	if err := lv.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := liveCall(context.Background(), 1); !errors.Is(err, ErrClosed) {
		t.Errorf("call after Close: %v, want ErrClosed", err)
	}
	if err := lv.Reload(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Reload after Close: %v, want ErrClosed", err)
	}
	if err := lv.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestLiveReloadFailureKeepsServing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "live.so")
	state := filepath.Join(dir, "live.state")
	garbage := filepath.Join(dir, "garbage")
	os.WriteFile(garbage, []byte("not an ELF file at all"), 0o644)
	var logs bytes.Buffer
	var logMu sync.Mutex
	l := New(Options{Logger: hclog.New(&hclog.LoggerOptions{Output: &lockedWriter{w: &logs, mu: &logMu}, Level: hclog.Info})})
	defer l.Close(context.Background())
	install(t, plugintest.Build(t, "live_a"), path)
	var last atomic.Pointer[ReloadEvent]
	lv, err := l.LoadLive(context.Background(), path, LiveOptions{StateFile: state, OnReload: func(e ReloadEvent) { last.Store(&e) }})
	if err != nil {
		t.Fatal(err)
	}
	defer lv.Close(context.Background())
	liveCall, err := Bind1[int64, int64](fnOf(t, lv, "live_call"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		build string // a plugin to build, or a file path
		check func(error) bool
	}{
		{"not ELF", garbage, func(err error) bool { return err != nil }},
		{"constructor faults", "live_ctor_fault", func(err error) bool {
			var fe *pcall.FaultError
			return errors.As(err, &fe)
		}},
		{"missing symbol", "live_nosym", func(err error) bool { return errors.Is(err, ErrSymbolNotFound) }},
		{"other layout without migration", "state_counter_v2", func(err error) bool { return errors.Is(err, ErrMigration) }},
	}
	for i, tt := range tests {
		src := tt.build
		if !filepath.IsAbs(src) {
			src = plugintest.Build(t, src)
		}
		install(t, src, path)
		err := lv.Reload(context.Background())
		if !errors.Is(err, ErrReload) || !tt.check(err) {
			t.Errorf("%s: reload: %v", tt.name, err)
		}
		if e := last.Load(); e == nil || e.Err == nil || e.Generation != 1 {
			t.Errorf("%s: event %+v", tt.name, e)
		}
		if r, err := liveCall(context.Background(), int64(i)); err != nil || liveTag(r, int64(i)) != 0xa {
			t.Errorf("%s: after the failed reload: %#x, %v", tt.name, r, err)
		}
	}
	os.Remove(path)
	if err := lv.Reload(context.Background()); !errors.Is(err, os.ErrNotExist) && !errors.Is(err, ErrNotFound) {
		t.Errorf("reload of a removed file: %v", err)
	}
	logMu.Lock()
	n := strings.Count(logs.String(), "reload failed")
	logMu.Unlock()
	if n != len(tests)+1 {
		t.Errorf("%d \"reload failed\" log lines, want %d:\n%s", n, len(tests)+1, logs.String())
	}
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (lw *lockedWriter) Write(b []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.w.Write(b)
}

func TestLiveWatch(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "live.so")
	install(t, plugintest.Build(t, "live_a"), path)
	l := New(Options{})
	defer l.Close(context.Background())
	events := make(chan ReloadEvent, 8)
	lv, err := l.LoadLive(context.Background(), path, LiveOptions{Watch: true, Debounce: 1, OnReload: func(e ReloadEvent) { events <- e }})
	if err != nil {
		t.Fatal(err)
	}
	defer lv.Close(context.Background())
	liveCall, err := Bind1[int64, int64](fnOf(t, lv, "live_call"))
	if err != nil {
		t.Fatal(err)
	}
	// A file beside it changing is not a reason to reload.
	os.WriteFile(filepath.Join(dir, "other"), []byte("x"), 0o644)
	install(t, plugintest.Build(t, "live_b"), path)
	var e ReloadEvent
	select {
	case e = <-events:
	case <-ctxDone(t):
		t.Fatal("no reload after the file changed")
	}
	if e.Err != nil || !e.Watch {
		t.Fatalf("event %+v", e)
	}
	if r, err := liveCall(context.Background(), 3); err != nil || liveTag(r, 3) != 0xb {
		t.Errorf("after the watched reload: %#x, %v", r, err)
	}
}

// ctxDone returns a channel closed shortly before the test's deadline
// (never, without one).
func ctxDone(t *testing.T) <-chan struct{} {
	d, ok := t.Deadline()
	if !ok {
		return nil
	}
	ctx, cancel := context.WithDeadline(context.Background(), d.Add(-5*time.Second))
	t.Cleanup(cancel)
	return ctx.Done()
}

// TestLiveUnderLoad reloads a plugin 200 times, alternating two builds
// and some broken ones, while 8 goroutines call it: no call fails, every
// result is one complete build's, the state counts every call, and
// nothing (descriptors, mappings) is left behind. Its isolated half is
// TestLiveUnderLoadIsolated.
func TestLiveUnderLoad(t *testing.T) {
	LiveUnderLoad(t, Options{TombstoneBudget: 1}, 200) // every closed image released: growth shows
}

// LiveUnderLoad is TestLiveUnderLoad with a Loader of opts (isolated, for
// the external test) and the number of reloads: it also checks that the
// process has as many children after as before.
func LiveUnderLoad(t *testing.T, opts Options, reloads int) {
	const callers = 8
	dir := t.TempDir()
	path := filepath.Join(dir, "live.so")
	state := filepath.Join(dir, "live.state")
	builds := map[string]string{}
	for _, b := range []string{"live_a", "live_b", "live_ctor_fault", "live_nosym"} {
		builds[b] = plugintest.Build(t, b)
	}
	garbage := filepath.Join(dir, "garbage")
	os.WriteFile(garbage, []byte("\x7fELF but not really"), 0o644)
	builds["garbage"] = garbage
	install(t, builds["live_a"], path)

	l := New(opts)
	defer l.Close(context.Background())
	lv, err := l.LoadLive(context.Background(), path, LiveOptions{StateFile: state})
	if err != nil {
		t.Fatal(err)
	}
	defer lv.Close(context.Background())
	liveCall, err := Bind1[int64, int64](fnOf(t, lv, "live_call"))
	if err != nil {
		t.Fatal(err)
	}
	ours := func() int {
		maps, err := sysmaps.Read()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range maps {
			if strings.HasPrefix(m.Path, dir) {
				n++
			}
		}
		return n
	}
	fds0, maps0, kids0 := countFDs(t), ours(), countChildren(t)
	var stop atomic.Bool
	var total, failed, mixed atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	for g := 0; g < callers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for x := int64(g); !stop.Load(); x += callers {
				r, err := liveCall(context.Background(), x)
				total.Add(1)
				switch {
				case err != nil:
					failed.Add(1)
					firstErr.CompareAndSwap(nil, &err)
				case liveTag(r, x) != 0xa && liveTag(r, x) != 0xb:
					mixed.Add(1)
				}
			}
		}(g)
	}
	broken := []string{"live_ctor_fault", "live_nosym", "garbage"}
	ok, bad := 0, 0
	for i := 0; i < reloads; i++ {
		next := "live_b"
		if i%2 == 1 {
			next = "live_a"
		}
		if i%10 == 9 {
			next = broken[(i/10)%len(broken)]
		}
		install(t, builds[next], path)
		err := lv.Reload(context.Background())
		if (err == nil) != (next == "live_a" || next == "live_b") {
			t.Errorf("reload %d to %s: %v", i, next, err)
		}
		if err == nil {
			ok++
		} else {
			bad++
		}
	}
	stop.Store(true)
	wg.Wait()
	if p := firstErr.Load(); p != nil {
		t.Errorf("first failed call: %v", *p)
	}
	if failed.Load() != 0 || mixed.Load() != 0 {
		t.Errorf("%d failed calls, %d mixed results of %d", failed.Load(), mixed.Load(), total.Load())
	}
	n, err := lv.Plugin().Func("live_calls")
	if err != nil {
		t.Fatal(err)
	}
	if counted, _ := n.Call(context.Background()); int64(counted) != total.Load() {
		t.Errorf("state counted %d calls, callers made %d", counted, total.Load())
	}
	if fds, maps, kids := countFDs(t), ours(), countChildren(t); fds != fds0 || maps != maps0 || kids != kids0 {
		t.Errorf("after %d reloads (%d failed): %d descriptors, %d mappings of the test's files and %d children, were %d, %d and %d",
			reloads, bad, fds, maps, kids, fds0, maps0, kids0)
	}
	t.Logf("%d calls during %d reloads (%d refused)", total.Load(), ok+bad, bad)
}

// countChildren counts the processes this one has started and not
// reaped (isolated plugins' children).
func countChildren(t testing.TB) int {
	t.Helper()
	tasks, err := filepath.Glob("/proc/self/task/*/children")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		n += len(strings.Fields(string(b)))
	}
	return n
}
