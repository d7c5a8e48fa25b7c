package runplug_test

// This file imports unsafe to write into a plugin's .bss through the
// address Lookup returns, the way a host writes an exported variable.

import (
	"context"
	"testing"
	"unsafe"

	"github.com/runplug/runplug/loader"
)

// TestReusedImageIsFresh loads, dirties and closes the basic plugin more
// times than the Loader keeps tombstones, so that later loads reuse the
// address ranges of the oldest closed instances (parked images), and
// checks that every instance, reused or not, starts fresh: initialised
// data back to its file value, .bss zero, relocated pointers right.
func TestReusedImageIsFresh(t *testing.T) {
	const loads = 100 // more than the 64 tombstones a Loader keeps
	l := newLoader(t, loader.Options{})
	seen := map[uintptr]bool{}
	reused := 0
	for i := 0; i < loads; i++ {
		p := load(t, l, "basic")
		if seen[p.Base()] {
			reused++
		}
		seen[p.Base()] = true
		checks := []struct {
			fn   string
			args []uint64
			want uint64
		}{
			{"bump", nil, 43},                // basic_counter is 42 in the file
			{"zero_sum", nil, 0},             // .bss is zero
			{"apply", []uint64{2, 6, 7}, 42}, // basic_ops[2] = mul, a relocated pointer
		}
		for _, c := range checks {
			got, err := fn(t, p, c.fn).Call(c.args...)
			if err != nil || got != c.want {
				t.Fatalf("load %d (base %#x): %s = %d, %v; want %d", i, p.Base(), c.fn, got, err, c.want)
			}
		}
		// Dirty the instance: the counter, the first and last bytes of
		// the 1 MiB .bss.
		fn(t, p, "bump").Call()
		s, err := p.Lookup("basic_zeroes")
		if err != nil {
			t.Fatal(err)
		}
		bss := rawBytes(s.Addr, s.Size)
		bss[0], bss[len(bss)-1] = 1, 2
		if got, _ := fn(t, p, "zero_sum").Call(); got != 3 {
			t.Fatalf("load %d: zero_sum after writing the .bss = %d, want 3", i, got)
		}
		if err := p.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d loads, %d of them at the address of a closed instance", loads, reused)
	if reused == 0 {
		t.Errorf("no load reused a parked image")
	}
}

// rawBytes returns the n bytes of plugin memory at addr (outside the Go
// heap: the collector never moves or frees it). The double conversion
// keeps vet's unsafeptr check quiet about a uintptr that is not a Go
// pointer.
func rawBytes(addr uintptr, n uint64) []byte {
	p := *(*unsafe.Pointer)(unsafe.Pointer(&addr))
	return unsafe.Slice((*byte)(p), n)
}
