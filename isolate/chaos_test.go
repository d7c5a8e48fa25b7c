//go:build linux && (amd64 || arm64) && cgo

package isolate_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// soakEnv sets the length of TestChaosSoak (a Go duration: "10m"); a few
// seconds without it.
const soakEnv = "RUNPLUG_SOAK"

// chaosOpBound bounds every operation of the soak (a load, call and
// close, with the fault or deadline it provokes), under -race on a busy
// machine.
const chaosOpBound = 60 * time.Second

// chaosPaths are the soak's plugins, by name (built by TestChaosSoak).
var chaosPaths = map[string]string{}

// chaosOp is one thing a soak worker does to a plugin, start to end.
type chaosOp struct {
	name     string
	isolated bool
	run      func(ctx context.Context, l *loader.Loader) error
}

// loadCallClose loads plugin, runs f on it and closes it; check judges
// the errors of f and of Close.
func loadCallClose(l *loader.Loader, plugin string, f func(p *loader.Plugin) error, check func(callErr, closeErr error) error) error {
	p, err := l.Load(context.Background(), chaosPaths[plugin])
	if err != nil {
		return fmt.Errorf("load %s: %w", plugin, err)
	}
	callErr := f(p)
	closeErr := p.Close(context.Background())
	return check(callErr, closeErr)
}

func callFn(ctx context.Context, p *loader.Plugin, fn string, args ...uint64) (uint64, error) {
	f, err := p.Func(fn)
	if err != nil {
		return 0, err
	}
	return f.Call(ctx, args...)
}

func wantOK(callErr, closeErr error) error { return errors.Join(callErr, closeErr) }

func wantFault(callErr, closeErr error) error {
	var fe *loader.FaultError
	if !errors.As(callErr, &fe) {
		return fmt.Errorf("call: %v, want a fault", callErr)
	}
	return closeErr
}

func wantDeadline(callErr, closeErr error) error {
	if !errors.Is(callErr, loader.ErrDeadline) {
		return fmt.Errorf("call: %v, want a deadline error", callErr)
	}
	return closeErr
}

func chaosOps() []chaosOp {
	basic := func(ctx context.Context, l *loader.Loader) error {
		return loadCallClose(l, "basic", func(p *loader.Plugin) error {
			if r, err := callFn(ctx, p, "add", 2, 3); err != nil || r != 5 {
				return fmt.Errorf("add(2, 3) = %d, %v", r, err)
			}
			return nil
		}, wantOK)
	}
	fault := func(ctx context.Context, l *loader.Loader) error {
		return loadCallClose(l, "faults", func(p *loader.Plugin) error {
			_, err := callFn(ctx, p, "fault_null_read")
			return err
		}, wantFault)
	}
	deadline := func(ctx context.Context, l *loader.Loader) error {
		return loadCallClose(l, "hang_dl", func(p *loader.Plugin) error {
			cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			defer cancel()
			_, err := callFn(cctx, p, "iter_spin_mine")
			return err
		}, wantDeadline)
	}
	return []chaosOp{
		{"basic", false, basic},
		{"fault", false, fault},
		{"deadline in a dl_iterate_phdr callback", false, deadline},
		{"fault in a dl_iterate_phdr callback", false, func(ctx context.Context, l *loader.Loader) error {
			return loadCallClose(l, "hang_dl", func(p *loader.Plugin) error {
				_, err := callFn(ctx, p, "iter_fault_host")
				return err
			}, wantFault)
		}},
		{"dl_iterate_phdr", false, func(ctx context.Context, l *loader.Loader) error {
			return loadCallClose(l, "hang_dl", func(p *loader.Plugin) error {
				if r, err := callFn(ctx, p, "objects"); err != nil || r < 1003 {
					return fmt.Errorf("objects() = %d, %v", r, err)
				}
				return nil
			}, wantOK)
		}},
		{"C++ static destructor faults", false, func(ctx context.Context, l *loader.Loader) error {
			return loadCallClose(l, "hang_dtor", func(p *loader.Plugin) error {
				_, err := callFn(ctx, p, "ping", 1)
				return err
			}, func(callErr, closeErr error) error {
				var fe *loader.FaultError
				if callErr != nil || !errors.As(closeErr, &fe) {
					return fmt.Errorf("call: %v; close: %v, want the destructor's fault", callErr, closeErr)
				}
				return nil
			})
		}},
		{"C++ throw and catch", false, func(ctx context.Context, l *loader.Loader) error {
			return loadCallClose(l, "cxx_exc", func(p *loader.Plugin) error {
				if r, err := callFn(ctx, p, "throw_catch", 1); err != nil || r != 46 {
					return fmt.Errorf("throw_catch(1) = %d, %v", r, err)
				}
				return nil
			}, wantOK)
		}},
		{"dlopen of a module on a plugin thread", false, func(ctx context.Context, l *loader.Loader) error {
			return loadCallClose(l, "dl_user", func(p *loader.Plugin) error {
				f, err := p.Func("dl_in_thread")
				if err != nil {
					return err
				}
				th, err := loader.Bind3[string, string, int64, int64](f)
				if err != nil {
					return err
				}
				if r, err := th(context.Background(), "dl_target.so", "target_add", 41); err != nil || r != 42 {
					return fmt.Errorf("dl_in_thread = %d, %v", r, err)
				}
				return nil
			}, wantOK)
		}},
		{"isolated basic", true, basic},
		{"isolated fault", true, fault},
		{"isolated deadline", true, deadline},
	}
}

// processCounts are what a soak must not leak.
type processCounts struct {
	goroutines, fds, threads, children int
	fileMaps                           int // mappings of files (plugin images, memfds): none may be left
	mappings                           int // all of them
}

func countLines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	return strings.Count(string(b), "\n")
}

func countDir(path string) int {
	e, err := os.ReadDir(path)
	if err != nil {
		return -1
	}
	return len(e)
}

func countChildren() int {
	n := 0
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, t := range tasks {
		b, _ := os.ReadFile("/proc/self/task/" + t.Name() + "/children")
		n += len(strings.Fields(string(b)))
	}
	return n
}

// newLines returns the lines of after that are not in before.
func newLines(before, after string) string {
	old := map[string]bool{}
	for _, l := range strings.Split(before, "\n") {
		old[l] = true
	}
	var b strings.Builder
	for _, l := range strings.Split(after, "\n") {
		if !old[l] {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// countFileMaps counts the mappings of /proc/self/maps that name a file.
func countFileMaps() int {
	b, _ := os.ReadFile("/proc/self/maps")
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 6 && strings.HasPrefix(f[5], "/") {
			n++
		}
	}
	return n
}

func counts() processCounts {
	return processCounts{goroutines: runtime.NumGoroutine(), fds: countDir("/proc/self/fd"), threads: countDir("/proc/self/task"),
		children: countChildren(), fileMaps: countFileMaps(), mappings: countLines("/proc/self/maps")}
}

// settled waits, bounded by ctx, until the counts are within slack of
// base (goroutines and children end asynchronously), and returns the last.
func settled(ctx context.Context, base, slack processCounts) (processCounts, bool) {
	for {
		c := counts()
		if c.goroutines <= base.goroutines+slack.goroutines && c.fds <= base.fds+slack.fds &&
			c.mappings <= base.mappings+slack.mappings && c.threads <= base.threads+slack.threads &&
			c.fileMaps <= base.fileMaps+slack.fileMaps &&
			c.children <= base.children+slack.children {
			return c, true
		}
		select {
		case <-ctx.Done():
			return c, false
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestChaosSoak: 8 goroutines load, call, fault, time out, close and
// reload plugins at random, in process and isolated (C, C++ with a
// faulting static destructor and exceptions, dl_iterate_phdr users, a
// plugin that dlopens a module on a thread of its own), for a few seconds
// or RUNPLUG_SOAK. No operation may take longer than chaosOpBound, and
// afterwards the process has no more goroutines, descriptors, mappings,
// threads or children than after a warm-up round of a quarter of that
// (issue 19, item 10).
func TestChaosSoak(t *testing.T) {
	needKernel(t)
	length := 3 * time.Second
	if s := os.Getenv(soakEnv); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("%s=%q: %v", soakEnv, s, err)
		}
		length = d
	}
	for _, name := range []string{"basic", "faults", "hang_dl", "hang_dtor", "cxx_exc", "dl_user", "dl_target"} {
		chaosPaths[name] = plugintest.Build(t, name)
	}
	inproc := loader.New(loader.Options{TombstoneBudget: 1})
	isolated := loader.New(loader.Options{TombstoneBudget: 1, Isolation: isolate.New(isolate.Options{})})
	defer inproc.Close(context.Background())
	defer isolated.Close(context.Background())
	ops := chaosOps()

	type stat struct {
		n   int
		max time.Duration
	}
	var mu sync.Mutex
	stats := map[string]*stat{}
	round := func(d time.Duration, seed int64) {
		ctx, cancel := context.WithTimeout(context.Background(), d+chaosOpBound)
		defer cancel()
		var wg sync.WaitGroup
		end := time.Now().Add(d)
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				rng := rand.New(rand.NewSource(seed + int64(w)))
				for time.Now().Before(end) {
					op := ops[rng.Intn(len(ops))]
					l := inproc
					if op.isolated {
						l = isolated
					}
					start := time.Now()
					err := op.run(ctx, l)
					took := time.Since(start)
					if err != nil {
						t.Errorf("%s: %v", op.name, err)
					}
					if took > chaosOpBound {
						t.Errorf("%s took %v, bound %v", op.name, took, chaosOpBound)
					}
					mu.Lock()
					s := stats[op.name]
					if s == nil {
						s = &stat{}
						stats[op.name] = s
					}
					s.n++
					s.max = max(s.max, took)
					mu.Unlock()
				}
			}(w)
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			t.Fatalf("an operation hung (no end %v after the soak's)", chaosOpBound)
		}
	}
	// Warm-up: plugins built, and the process's bounded caches filled
	// at the soak's concurrency (glibc's malloc arenas and cached thread
	// stacks, the callback thunk pages, the runtime's threads), so that
	// what grows after it is a leak.
	round(max(time.Second, length/4), 1)
	if t.Failed() {
		return
	}
	base := counts()
	baseMaps, _ := os.ReadFile("/proc/self/maps")
	stats = map[string]*stat{}
	round(length, 100)
	ctx, cancel := context.WithTimeout(context.Background(), chaosOpBound)
	defer cancel()
	// Slack: none for goroutines, descriptors, children and mappings of
	// files (a plugin image or a channel left mapped). Anonymous mappings
	// come from bounded caches that a peak of concurrency the warm-up did
	// not reach can still grow: glibc's malloc arenas (up to 8 per core,
	// two mappings each), the Go heap, cached thread stacks, callback
	// thunk pages; the runtime may start a thread or two.
	slack := processCounts{mappings: 48, threads: 4}
	after, ok := settled(ctx, base, slack)
	total := 0
	for name, s := range stats {
		total += s.n
		t.Logf("%-40s %6d runs, longest %v", name, s.n, s.max)
	}
	t.Logf("%d operations in %v; before %+v, after %+v", total, length, base, after)
	if !ok {
		afterMaps, _ := os.ReadFile("/proc/self/maps")
		t.Errorf("leak: before %+v, after %+v (slack %+v); new mappings:\n%s", base, after, slack, newLines(string(baseMaps), string(afterMaps)))
	}
	if n := pcall.LocksHeldAtRecovery(); n != 0 {
		t.Errorf("%d recoveries found a runplug lock held", n)
	}
}
