package loader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/sysmaps"
	"github.com/runplug/runplug/internal/testenv"
)

func TestCloseTwiceAndAfterClose(t *testing.T) {
	l := New(Options{})
	p := load(t, l, "basic")
	f, err := p.Func("add")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := f.Call(context.Background(), 1, 2); !errors.Is(err, ErrClosed) {
		t.Errorf("call after Close: %v, want ErrClosed", err)
	}
	if _, err := p.Lookup("add"); !errors.Is(err, ErrClosed) {
		t.Errorf("Lookup after Close: %v, want ErrClosed", err)
	}
	q := load(t, l, "basic")
	g, err := q.Func("add")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Call(context.Background(), 1, 2); !errors.Is(err, ErrClosed) {
		t.Errorf("call after Loader.Close: %v, want ErrClosed", err)
	}
	if _, err := l.Load(context.Background(), plugintest.Build(t, "basic")); !errors.Is(err, ErrClosed) {
		t.Errorf("Load after Loader.Close: %v, want ErrClosed", err)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Errorf("second Loader.Close: %v", err)
	}
}

func TestFaultQuarantinesAndDescribes(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("KeepAfterFault=%v", keep), func(t *testing.T) {
			l := newLoader(t, Options{KeepAfterFault: keep})
			p := load(t, l, "life_calls")
			crash, err := p.Func("life_write_text")
			if err != nil {
				t.Fatal(err)
			}
			_, err = crash.Call(context.Background())
			var fe *pcall.FaultError
			if !errors.As(err, &fe) {
				t.Fatalf("call: %v, want a *pcall.FaultError", err)
			}
			if fe.Plugin != "life_calls.so" || !strings.HasPrefix(fe.Symbol, "life_write_text+") ||
				!strings.HasPrefix(fe.Where, "segment ") || !strings.HasSuffix(fe.Where, " (R-X) of life_calls.so") {
				t.Errorf("fault: plugin %q symbol %q where %q", fe.Plugin, fe.Symbol, fe.Where)
			}
			if p.Quarantined() == keep {
				t.Errorf("Quarantined() = %v with KeepAfterFault %v", p.Quarantined(), keep)
			}
			_, err = p.Func("life_slow")
			if err != nil {
				t.Fatal(err)
			}
			slow, _ := p.Func("life_slow")
			r, err := slow.Call(context.Background(), 10)
			if keep && (err != nil || r != 10) {
				t.Errorf("call after a fault with KeepAfterFault: %d, %v", r, err)
			}
			if !keep && !errors.Is(err, ErrQuarantined) {
				t.Errorf("call after a fault: %v, want ErrQuarantined", err)
			}
			if err := p.Close(context.Background()); err != nil {
				t.Errorf("Close of a faulted plugin: %v", err)
			}
		})
	}
}

func TestDeadlineQuarantines(t *testing.T) {
	l := newLoader(t, Options{})
	p := load(t, l, "life_calls")
	f := mustFunc(t, p, "life_forever")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := f.callArgs(ctx, nil)
	if !errors.Is(err, pcall.ErrDeadline) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("CallArgs: %v, want a deadline error", err)
	}
	if !p.Quarantined() {
		t.Errorf("plugin not quarantined after an interrupted call")
	}
}

func TestDescriberAndTombstone(t *testing.T) {
	l := newLoader(t, Options{})
	p := load(t, l, "basic")
	desc := &describer{o: p.obj}
	plan := p.obj.p.plan
	base := p.Base()
	guardBefore := uintptr(int64(base) + plan.Start)
	guardAfter := uintptr(int64(base)+plan.Start) + uintptr(plan.Size) - 1
	add := lookup(t, p, "add")
	for _, tc := range []struct {
		addr uintptr
		want string
	}{
		{guardBefore, "guard page before basic.so"},
		{guardAfter, "guard page after basic.so"},
		{add, "(R-X) of basic.so"},
		{lookup(t, p, "basic_counter"), "(RW-) of basic.so"},
	} {
		if got := desc.DescribeAddr(tc.addr); !strings.HasSuffix(got, tc.want) {
			t.Errorf("DescribeAddr(%#x) = %q, want ...%q", tc.addr, got, tc.want)
		}
	}
	if name, off, ok := desc.SymbolAt(add + 3); !ok || name != "add" || off != 3 {
		t.Errorf("SymbolAt(add+3) = %q+%d, %v", name, off, ok)
	}
	// Jumping into the guard page: the fault names it.
	_, err := pcall.Call(guardBefore, nil)
	var fe *pcall.FaultError
	if !errors.As(err, &fe) || fe.Where != "guard page before basic.so" {
		t.Errorf("call into the guard page: %v", err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A stale function pointer into the closed plugin faults cleanly, and
	// the report says what the address was.
	_, err = pcall.Call(add, &pcall.Args{Int: [6]uint64{1, 2}})
	if !errors.As(err, &fe) || fe.Where != "unloaded plugin basic.so" {
		t.Errorf("call into the closed plugin: %v, want a fault in \"unloaded plugin basic.so\"", err)
	}
}

func TestTombstoneBudget(t *testing.T) {
	l := newLoader(t, Options{TombstoneBudget: 1})
	p := load(t, l, "basic")
	add := lookup(t, p, "add")
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(l.tombs) != 0 {
		t.Errorf("%d tombstones kept with a budget of 1 byte", len(l.tombs))
	}
	_, err := pcall.Call(add, nil)
	var fe *pcall.FaultError
	if !errors.As(err, &fe) || strings.Contains(fe.Where, "basic.so") {
		t.Errorf("call into released range: %v (the range should be unregistered)", err)
	}
	l2 := newLoader(t, Options{})
	for i := 0; i < 3; i++ {
		if err := load(t, l2, "basic").Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if len(l2.tombs) != 3 || l2.tombSz != 3*l2.tombs[0].p.plan.Size {
		t.Errorf("default budget: %d tombstones of %d bytes, want 3", len(l2.tombs), l2.tombSz)
	}
}

func TestConcurrentCallsAndClose(t *testing.T) {
	l := newLoader(t, Options{TombstoneBudget: 1})
	for round := 0; round < 5; round++ {
		p := load(t, l, "life_calls")
		f := mustFunc(t, p, "life_slow")
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, closed := 0, 0
		start := make(chan struct{})
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for {
					r, err := f.Call(context.Background(), 20000)
					mu.Lock()
					switch {
					case err == nil && r == 20000:
						ok++
					case errors.Is(err, ErrClosed):
						closed++
					default:
						t.Errorf("call: %d, %v", r, err)
					}
					mu.Unlock()
					if err != nil {
						return
					}
				}
			}()
		}
		close(start)
		// Close once calls are under way (a handshake, not a pause).
		for {
			mu.Lock()
			n := ok
			mu.Unlock()
			if n >= 8 {
				break
			}
			runtime.Gosched()
		}
		if err := p.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if closed != 8 {
			t.Errorf("round %d: %d goroutines saw ErrClosed, want 8 (%d calls succeeded)", round, closed, ok)
		}
	}
}

func TestCallAllocations(t *testing.T) {
	l := newLoader(t, Options{})
	p := load(t, l, "basic")
	add := mustFunc(t, p, "add3")
	a := &pcall.Args{Int: [6]uint64{1, 2, 3}}
	// What the sandbox itself allocates per call with an argument block
	// on the stack (its business, not the loader's): the loader must add
	// nothing on top.
	base := testing.AllocsPerRun(200, func() {
		var a pcall.Args
		a.Int[0] = 1
		pcall.Call(add.addr, &a)
	})
	if base != 0 {
		t.Logf("pcall.Call with a stack Args allocates %v per call", base)
	}
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"Call", func() { add.Call(context.Background(), 1, 2, 3) }},

		{"callArgs", func() { add.callArgs(nil, a) }},
		{"Lookup", func() { p.Lookup("basic_counter") }},
	} {
		want := base
		if tc.name == "Lookup" || tc.name == "CallArgs" {
			want = 0 // no sandbox call, or an Args the caller owns
		}
		if n := testing.AllocsPerRun(200, tc.f); n > want {
			t.Errorf("%s: %v allocations per call, want %v (the sandbox's own)", tc.name, n, want)
		}
	}
}

func TestLoadUnloadDoesNotLeak(t *testing.T) {
	path := plugintest.Build(t, "basic")
	l := newLoader(t, Options{TombstoneBudget: 1})
	cycle := func() {
		p, err := l.Load(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := p.Func("bump")
		if err != nil {
			t.Fatal(err)
		}
		if r, err := f.Call(context.Background()); err != nil || r != 43 {
			t.Fatalf("bump() = %d, %v; want 43 in a fresh instance", r, err)
		}
		if err := p.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 20; i++ { // warm up caches and the runtime
		cycle()
	}
	maps0, fds0, rss0 := countMappings(t), countFDs(t), rssKB(t)
	const n = 1000
	for i := 0; i < n; i++ {
		cycle()
	}
	maps1, fds1, rss1 := countMappings(t), countFDs(t), rssKB(t)
	t.Logf("%d cycles: mappings %d -> %d, fds %d -> %d, rss %d -> %d KiB", n, maps0, maps1, fds0, fds1, rss0, rss1)
	// A leak would add at least one mapping per cycle; the Go runtime
	// (and the race detector's shadow memory) may map a few meanwhile.
	if maps1 > maps0+8 {
		t.Errorf("mappings grew from %d to %d over %d load/close cycles", maps0, maps1, n)
	}
	ms, err := sysmaps.Read()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Path == path {
			t.Errorf("mapping of %s left after every instance closed: %v", path, m)
		}
	}
	if fds1 > fds0 {
		t.Errorf("file descriptors grew from %d to %d over %d cycles", fds0, fds1, n)
	}
	// Under the race detector RSS follows its shadow memory, which grows
	// with heap churn (16 MiB over these cycles on a loaded machine):
	// mappings and descriptors above still catch a leaked image. Under
	// qemu-user it also holds the translations of every new image's code.
	if !hostRaceEnabled && !testenv.Emulated() && rss1 > rss0+16<<10 {
		t.Errorf("RSS grew from %d to %d KiB over %d cycles", rss0, rss1, n)
	}
}

func TestLogging(t *testing.T) {
	var buf bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Debug, Name: "runplug"})
	l := newLoader(t, Options{Logger: log})
	p := load(t, l, "basic")
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"runplug.basic.so: loaded plugin", "plugin=basic.so", "path=", "addr=0x", "closed plugin"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestHostCPolicy(t *testing.T) {
	libz := systemLib(t, "libz.so.1")
	for _, tc := range []struct {
		name string
		opts Options
		ok   bool
	}{
		{"default", Options{}, true},
		{"NoHostC", Options{NoHostC: true}, false},
		{"empty AllowC", Options{AllowC: []string{}}, false},
		{"AllowC without memcpy", Options{AllowC: []string{"malloc", "free"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoader(t, tc.opts)
			_, err := l.Load(context.Background(), libz)
			var ue *UndefinedSymbolError
			if tc.ok && err != nil {
				t.Fatalf("load: %v", err)
			}
			if !tc.ok && !errors.As(err, &ue) {
				t.Fatalf("load: %v, want an undefined symbol", err)
			}
		})
	}
}

func TestHostSymbolsFirst(t *testing.T) {
	donor := newLoader(t, Options{})
	plt := load(t, donor, "reloc_plt")
	twice := lookup(t, plt, "plt_twice")
	l := newLoader(t, Options{HostSymbols: map[string]uintptr{"dep_b_value": twice}})
	p := load(t, l, "dep_a")
	if got := call(t, p, "dep_a_value", 4); got != 9 {
		t.Errorf("dep_a_value(4) = %d, want plt_twice(4)+1 = 9 (host symbol first)", got)
	}
}

// countFDs returns the number of open file descriptors.
func countFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// rssKB returns the resident set size in KiB.
func rssKB(t testing.TB) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			var kb int
			fmt.Sscanf(strings.TrimPrefix(line, "VmRSS:"), "%d", &kb)
			return kb
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

func TestConcurrentLoadsShareDependencies(t *testing.T) {
	path := plugintest.Build(t, "dep_a")
	l := newLoader(t, Options{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 30; i++ {
				p, err := l.Load(context.Background(), path)
				if err != nil {
					t.Error(err)
					return
				}
				f, err := p.Func("dep_a_value")
				if err != nil {
					t.Error(err)
					return
				}
				if r, err := f.Call(context.Background(), uint64(i)); err != nil || r != uint64(i)*10+4 {
					t.Errorf("dep_a_value(%d) = %d, %v", i, r, err)
				}
				if err := p.Close(context.Background()); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.byKey) != 0 || len(l.byName) != 0 || len(l.plugins) != 0 {
		t.Errorf("after every plugin closed: %d shared objects, %d names, %d plugins", len(l.byKey), len(l.byName), len(l.plugins))
	}
}
