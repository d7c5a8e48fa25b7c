package runplug_test

// End-to-end tests of the public API, written the way a host program uses
// it: build a plugin, load it, call it, close it.

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"hash/crc32"
	"io"
	"math/rand"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/sysmaps"
	"github.com/runplug/runplug/internal/testenv"
	"github.com/runplug/runplug/loader"
)

var libz = testenv.SystemLibPath("libz.so.1")

// newLoader returns a Loader closed at the end of the test.
func newLoader(t *testing.T, opts loader.Options) *loader.Loader {
	t.Helper()
	l := loader.New(opts)
	t.Cleanup(func() {
		if err := l.Close(context.Background()); err != nil {
			t.Errorf("Loader.Close: %v", err)
		}
	})
	return l
}

// load loads a plugin of plugins/ with l.
func load(t *testing.T, l *loader.Loader, name string) *loader.Plugin {
	t.Helper()
	p, err := l.Load(context.Background(), plugintest.Build(t, name))
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return p
}

// fn looks a function up.
func fn(t *testing.T, p *loader.Plugin, name string) *loader.Func {
	t.Helper()
	f, err := p.Func(name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestBasicCalls(t *testing.T) {
	l := newLoader(t, loader.Options{})
	p := load(t, l, "basic")
	add, sub, mul := fn(t, p, "add"), fn(t, p, "sub"), fn(t, p, "mul")
	apply, add3 := fn(t, p, "apply"), fn(t, p, "add3")
	scale, err := loader.Bind2[float64, float64, float64](fn(t, p, "scale"))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(3))
	for i := 0; i < 200; i++ {
		a, b, c := r.Int63()-r.Int63(), r.Int63()-r.Int63(), r.Int63n(1000)
		want := []int64{a + b, a - b, a * b}
		for op, f := range []*loader.Func{add, sub, mul} {
			got, err := f.Call(context.Background(), uint64(a), uint64(b))
			if err != nil || int64(got) != want[op] {
				t.Fatalf("%s(%d, %d) = %d, %v; want %d", f.Name(), a, b, int64(got), err, want[op])
			}
			// apply goes through the relocated function-pointer table.
			got, err = apply.Call(context.Background(), uint64(op), uint64(a), uint64(b))
			if err != nil || int64(got) != want[op] {
				t.Fatalf("apply(%d, %d, %d) = %d, %v; want %d", op, a, b, int64(got), err, want[op])
			}
		}
		if got, err := add3.Call(context.Background(), uint64(a), uint64(b), uint64(c)); err != nil || int64(got) != a+b+c {
			t.Fatalf("add3 = %d, %v; want %d", int64(got), err, a+b+c)
		}
		x, y := r.NormFloat64()*1e3, r.NormFloat64()
		if got, err := scale(context.Background(), x, y); err != nil || got != x*y {
			t.Fatalf("scale(%g, %g) = %g, %v; want %g", x, y, got, err, x*y)
		}
	}
	if got, err := apply.Call(context.Background(), 7, 1, 1); err != nil || int64(got) != -1 {
		t.Errorf("apply with a bad op = %d, %v; want -1", int64(got), err)
	}
	// The 1 MiB .bss is zero.
	if got, err := fn(t, p, "zero_sum").Call(context.Background()); err != nil || got != 0 {
		t.Errorf("zero_sum = %d, %v; want 0", got, err)
	}
	// Data symbols are found, and are not callable.
	if s, err := p.Lookup("basic_zeroes"); err != nil || s.Func || s.Size != 1<<20 {
		t.Errorf("Lookup(basic_zeroes) = %+v, %v; want a 1 MiB data symbol", s, err)
	}
	if _, err := p.Func("basic_counter"); err == nil {
		t.Error("Func(basic_counter), a data symbol, succeeded")
	}
	if _, err := p.Func("no_such_function"); !errors.Is(err, loader.ErrSymbolNotFound) {
		t.Errorf("Func(no_such_function) = %v, want ErrSymbolNotFound", err)
	}
}

// TestInstancesKeepSeparateState loads basic twice: each instance has its
// own counter.
func TestInstancesKeepSeparateState(t *testing.T) {
	l := newLoader(t, loader.Options{})
	p1, p2 := load(t, l, "basic"), load(t, l, "basic")
	if p1.Base() == p2.Base() {
		t.Fatalf("both instances at %#x", p1.Base())
	}
	b1, b2 := fn(t, p1, "bump"), fn(t, p2, "bump")
	first, err := b1.Call(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 5; i++ {
		if got, err := b1.Call(context.Background()); err != nil || got != first+i {
			t.Fatalf("instance 1, bump %d = %d, %v; want %d", i+1, got, err, first+i)
		}
	}
	// The second instance starts where the first one started.
	if got, err := b2.Call(context.Background()); err != nil || got != first {
		t.Errorf("instance 2, first bump = %d, %v; want %d", got, err, first)
	}
	// Closing one leaves the other working.
	if err := p1.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, err := b2.Call(context.Background()); err != nil || got != first+1 {
		t.Errorf("instance 2 after closing instance 1: bump = %d, %v; want %d", got, err, first+1)
	}
	if _, err := b1.Call(context.Background()); !errors.Is(err, loader.ErrClosed) {
		t.Errorf("call into a closed plugin: %v, want ErrClosed", err)
	}
}

func needLibz(t *testing.T) {
	t.Helper()
	testenv.NeedFile(t, libz, "apt-get install zlib1g")
}

// TestLibzCRC32 loads the system's zlib (which needs libc) and checks its
// crc32 against hash/crc32 on random inputs, in one go and in pieces.
func TestLibzCRC32(t *testing.T) {
	needLibz(t)
	l := newLoader(t, loader.Options{})
	p, err := l.Load(context.Background(), libz)
	if err != nil {
		t.Fatal(err)
	}
	crc := fn(t, p, "crc32")
	r := rand.New(rand.NewSource(4))
	for i := 0; i < 100; i++ {
		buf := make([]byte, 1+r.Intn(5000))
		r.Read(buf)
		var pin pinned
		addr := pin.bytesAddr(buf)
		got, err := crc.Call(context.Background(), 0, addr, uint64(len(buf)))
		if err != nil {
			t.Fatal(err)
		}
		// Chained: crc32(crc32(0, a), b) == crc32(0, a+b).
		cut := uint64(r.Intn(len(buf)))
		part, err := crc.Call(context.Background(), 0, addr, cut)
		if err == nil {
			part, err = crc.Call(context.Background(), part, addr+cut, uint64(len(buf))-cut)
		}
		pin.unpin()
		if err != nil {
			t.Fatal(err)
		}
		want := uint64(crc32.ChecksumIEEE(buf))
		if got != want || part != want {
			t.Fatalf("crc32 of %d bytes = %#x (in two parts %#x), hash/crc32 says %#x", len(buf), got, part, want)
		}
	}
}

// TestLibzCompress2 compresses with zlib's compress2 and inflates the
// result with Go's compress/zlib.
func TestLibzCompress2(t *testing.T) {
	needLibz(t)
	l := newLoader(t, loader.Options{})
	p, err := l.Load(context.Background(), libz)
	if err != nil {
		t.Fatal(err)
	}
	bound, compress2 := fn(t, p, "compressBound"), fn(t, p, "compress2")
	r := rand.New(rand.NewSource(5))
	words := strings.Fields("plugin loader relocation symbol version guard page fault tombstone")
	for i, level := range []int{-1, 0, 1, 6, 9} {
		var src bytes.Buffer
		for src.Len() < 1000*(i+1) {
			src.WriteString(words[r.Intn(len(words))] + " ")
		}
		n, err := bound.Call(context.Background(), uint64(src.Len()))
		if err != nil {
			t.Fatal(err)
		}
		dst := make([]byte, n)
		dstLen := n
		var pin pinned
		ret, err := compress2.Call(context.Background(), pin.bytesAddr(dst), pin.wordAddr(&dstLen), pin.bytesAddr(src.Bytes()), uint64(src.Len()), uint64(int64(level)))
		pin.unpin()
		if err != nil || ret != 0 {
			t.Fatalf("compress2 level %d: ret %d, %v", level, int32(ret), err)
		}
		if dstLen == 0 || dstLen > n {
			t.Fatalf("compress2 wrote %d bytes into %d", dstLen, n)
		}
		zr, err := zlib.NewReader(bytes.NewReader(dst[:dstLen]))
		if err != nil {
			t.Fatalf("level %d: compress/zlib: %v", level, err)
		}
		out, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("level %d: inflate: %v", level, err)
		}
		if !bytes.Equal(out, src.Bytes()) {
			t.Fatalf("level %d: inflated %d bytes differ from the %d compressed", level, len(out), src.Len())
		}
		if level == 9 && dstLen >= uint64(src.Len())/2 {
			t.Errorf("level 9 compressed %d bytes of repetitive text to %d", src.Len(), dstLen)
		}
	}
}

// usage is what the load/close cycle test watches.
type usage struct {
	maps, fds, goroutines int
	rss                   int64 // bytes
}

func measure(t *testing.T) usage {
	t.Helper()
	ms, err := sysmaps.Read()
	if err != nil {
		t.Fatal(err)
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	statm, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(statm))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return usage{maps: len(ms), fds: len(fds), goroutines: runtime.NumGoroutine(), rss: pages * int64(os.Getpagesize())}
}

// TestLoadCloseCycles loads, calls and closes basic 1,000 times: the
// mappings, file descriptors, goroutines and RSS must not grow.
func TestLoadCloseCycles(t *testing.T) {
	path := plugintest.Build(t, "basic")
	// TombstoneBudget 1 releases each image at Close, so that nothing is
	// meant to stay.
	l := newLoader(t, loader.Options{TombstoneBudget: 1})
	cycle := func(i int) {
		p, err := l.Load(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		add, err := p.Func("add")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := add.Call(context.Background(), uint64(i), 1); err != nil || got != uint64(i)+1 {
			t.Fatalf("cycle %d: add = %d, %v", i, got, err)
		}
		if err := p.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 50; i++ { // warm up caches and the heap
		cycle(i)
	}
	runtime.GC()
	before := measure(t)
	for i := 0; i < 1000; i++ {
		cycle(i)
	}
	runtime.GC()
	after := measure(t)
	t.Logf("before %+v, after %+v", before, after)
	// A leaked image would leave at least one mapping per cycle (1,000);
	// the Go runtime may map a few arenas meanwhile.
	if after.maps > before.maps+10 {
		t.Errorf("mappings grew from %d to %d", before.maps, after.maps)
	}
	ms, err := sysmaps.Read()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Path == path {
			t.Errorf("a mapping of %s outlived every instance: %v", path, m)
		}
	}
	if after.fds > before.fds {
		t.Errorf("file descriptors grew from %d to %d", before.fds, after.fds)
	}
	if after.goroutines > before.goroutines {
		t.Errorf("goroutines grew from %d to %d", before.goroutines, after.goroutines)
	}
	// Each load maps more than 1 MiB (basic's .bss): a leak of the image
	// would show as 1 GiB here. 16 MiB of slack covers the Go heap. (Under
	// qemu-user the RSS also holds the translations of each new image.)
	if grow := after.rss - before.rss; grow > 16<<20 && !testenv.Emulated() {
		t.Errorf("RSS grew by %d bytes over 1,000 cycles", grow)
	}
}

// TestFaultContainment makes the demo plugin crash: the call returns a
// *loader.FaultError, the plugin is quarantined, another instance keeps
// working, and Go's own nil dereferences still panic as usual.
func TestFaultContainment(t *testing.T) {
	l := newLoader(t, loader.Options{})
	p1, p2 := load(t, l, "demo"), load(t, l, "demo")
	_, err := fn(t, p1, "crash").Call(context.Background())
	var fe *loader.FaultError
	if !errors.As(err, &fe) {
		t.Fatalf("crash() = %v, want a *loader.FaultError", err)
	}
	if fe.Signal != syscall.SIGSEGV || fe.Addr != 0 || fe.Where != "not mapped" ||
		fe.Plugin != "demo.so" || !strings.HasPrefix(fe.Symbol, "crash+") {
		t.Errorf("fault = %+v; want SIGSEGV at 0 (not mapped) in crash+... of demo.so", fe)
	}
	if !p1.Quarantined() {
		t.Error("the crashed plugin is not quarantined")
	}
	if _, err := fn(t, p1, "fib").Call(context.Background(), 10); !errors.Is(err, loader.ErrQuarantined) {
		t.Errorf("call after the fault: %v, want ErrQuarantined", err)
	}
	want := uint64(0)
	for a, b, i := uint64(0), uint64(1), 0; i <= 20; a, b, i = b, a+b, i+1 {
		want = a
	}
	got, err := fn(t, p2, "fib").Call(context.Background(), 20)
	if err != nil || got != want {
		t.Errorf("the other instance: fib(20) = %d, %v; want %d", got, err, want)
	}
	if err := p1.Close(context.Background()); err != nil {
		t.Errorf("Close of a quarantined plugin: %v", err)
	}
	// A nil dereference in Go is still Go's to handle.
	func() {
		defer func() {
			if r := recover(); r == nil {
				t.Error("a Go nil dereference did not panic after a plugin fault")
			}
		}()
		var p *int
		_ = *p
	}()
}

// A plugin's __thread variables, as a host uses them: per OS thread, so a
// goroutine that keeps state in them stays on its thread.
func TestThreadLocalPlugin(t *testing.T) {
	l := newLoader(t, loader.Options{})
	p := load(t, l, "tls_user") // and its dependency tls_dep, which defines the variable
	bump, err := loader.Bind0[int64](fnOf(t, p, "tls_user_bump"))
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan [3]int64, 2)
	release := make(chan struct{})
	for range 2 {
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var r [3]int64
			for i := range r {
				v, err := bump(context.Background())
				if err != nil {
					t.Error(err)
				}
				r[i] = v
			}
			results <- r
			<-release // hold the thread until both goroutines have run
		}()
	}
	r1, r2 := <-results, <-results
	close(release)
	want := [3]int64{8, 9, 10} // tls_shared starts at 7 on every thread
	if r1 != want || r2 != want {
		t.Errorf("bumps on two threads = %v and %v, want %v each", r1, r2, want)
	}
	if _, err := p.Lookup("tls_shared"); !errors.Is(err, loader.ErrTLS) {
		t.Errorf("Lookup of a thread-local variable: %v, want ErrTLS", err)
	}
}
