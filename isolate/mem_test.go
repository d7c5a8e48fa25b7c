//go:build linux && (amd64 || arm64) && cgo

package isolate_test

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// TestPluginMemory: the host reads and writes what the plugin points to
// with the same code in process and isolated (where the pointers are the
// child's): the plugin's data, a callback's string argument and
// out-buffer, a qsort comparator's elements; a bad address is an error
// and the plugin goes on.
func TestPluginMemory(t *testing.T) {
	needKernel(t)
	bothWays(t, func(t *testing.T, l *loader.Loader) {
		p := load(t, l, "isolate_mem")
		ga, err := call(t, p, "greeting_addr")
		if err != nil {
			t.Fatal(err)
		}
		if s, err := p.ReadString(uintptr(ga), -1); err != nil || s != "hello from the plugin" {
			t.Fatalf("ReadString = %q, %v", s, err)
		}
		if s, err := p.ReadString(uintptr(ga), 5); err != nil || s != "hello" {
			t.Fatalf("ReadString(max 5) = %q, %v", s, err)
		}
		ta, err := call(t, p, "table_addr")
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 40)
		if err := p.ReadMemory(uintptr(ta), buf); err != nil || binary.LittleEndian.Uint64(buf[16:]) != 50 {
			t.Fatalf("ReadMemory = %v, %v", buf, err)
		}
		binary.LittleEndian.PutUint64(buf[:8], 7)
		if err := p.WriteMemory(uintptr(ta), buf[:8]); err != nil {
			t.Fatal(err)
		}
		if v, err := call(t, p, "table_at", 0); err != nil || v != 7 {
			t.Fatalf("table[0] after WriteMemory = %d, %v", v, err)
		}
		binary.LittleEndian.PutUint64(buf[:8], 40)
		if err := p.WriteMemory(uintptr(ta), buf[:8]); err != nil {
			t.Fatal(err)
		}
		for _, bad := range []uintptr{0x10, 1 << 46} {
			if err := p.ReadMemory(bad, buf[:8]); !errors.Is(err, loader.ErrBadAddress) {
				t.Errorf("ReadMemory(%#x) = %v, want ErrBadAddress", bad, err)
			}
			if err := p.WriteMemory(bad, buf[:8]); !errors.Is(err, loader.ErrBadAddress) {
				t.Errorf("WriteMemory(%#x) = %v, want ErrBadAddress", bad, err)
			}
		}
		// A callback given the plugin's string and an out-buffer.
		upper, err := loader.NewCallback(func(s, out uintptr, n int64) int64 {
			str, err := p.ReadString(s, -1)
			if err != nil {
				panic(err)
			}
			res := strings.ToUpper(str)
			if int64(len(res)) >= n {
				panic("out-buffer too small")
			}
			if err := p.WriteMemory(out, append([]byte(res), 0)); err != nil {
				panic(err)
			}
			return int64(len(res))
		})
		if err != nil {
			t.Fatal(err)
		}
		defer upper.Release()
		if r, err := call(t, p, "with_buffer", uint64(upper.Ptr())); err != nil || r != 21 {
			t.Errorf("with_buffer = %d, %v; want 21", int64(r), err)
		}
		// A qsort comparator reading the elements it is given.
		cmp, err := loader.NewCallback(func(a, b uintptr) int32 {
			var x, y [8]byte
			if err := p.ReadMemory(a, x[:]); err != nil {
				panic(err)
			}
			if err := p.ReadMemory(b, y[:]); err != nil {
				panic(err)
			}
			u, v := int64(binary.LittleEndian.Uint64(x[:])), int64(binary.LittleEndian.Uint64(y[:]))
			switch {
			case u < v:
				return -1
			case u > v:
				return 1
			}
			return 0
		})
		if err != nil {
			t.Fatal(err)
		}
		defer cmp.Release()
		if r, err := call(t, p, "sort_table", uint64(cmp.Ptr())); err != nil || r != 1020304050 {
			t.Errorf("sort_table = %d, %v; want 1020304050", r, err)
		}
	})
}

// TestPluginMemoryOneChannel: with one channel, a callback's memory
// access (nested in the call that holds the one channel) takes a channel
// beyond the pool: qsort's comparator reads the elements and sorts them.
func TestPluginMemoryOneChannel(t *testing.T) {
	l, _ := newLoader(t, loader.Options{}, isolate.Options{Channels: 1})
	p := load(t, l, "isolate_mem")
	cmp, err := loader.NewCallback(func(a, b uintptr) int32 {
		var x, y [8]byte
		if err := p.ReadMemory(a, x[:]); err != nil {
			panic(err)
		}
		if err := p.ReadMemory(b, y[:]); err != nil {
			panic(err)
		}
		return int32(cmpInt(int64(binary.LittleEndian.Uint64(x[:])), int64(binary.LittleEndian.Uint64(y[:]))))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cmp.Release()
	if r, err := call(t, p, "sort_table", uint64(cmp.Ptr())); err != nil || r != 1020304050 {
		t.Errorf("sort_table with one channel = %d, %v; want 1020304050", r, err)
	}
}

func cmpInt(u, v int64) int {
	switch {
	case u < v:
		return -1
	case u > v:
		return 1
	}
	return 0
}

// TestHostCallsFromThreadsWaitingForEachOther: a host function called
// from a plugin thread calls the plugin, which joins a thread that calls
// another host function: the second must be served while the first waits
// (isolated, the relays that carry such calls in the child are several).
func TestHostCallsFromThreadsWaitingForEachOther(t *testing.T) {
	needKernel(t)
	bothWays(t, func(t *testing.T, l *loader.Loader) {
		var join *loader.Func
		if _, err := l.RegisterHostFunc("host_h1", func(x int64) int64 {
			r, err := join.Call(context.Background(), uint64(x))
			if err != nil {
				panic(err)
			}
			return int64(r) * 100
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.RegisterHostFunc("host_h2", func(x int64) int64 { return x * 10 }); err != nil {
			t.Fatal(err)
		}
		p := load(t, l, "isolate_join")
		join = fn(t, p, "f_join")
		// run_t1(7) = host_h1(7) = f_join(7) * 100 = (7 + host_h2(5)) * 100.
		// The deadline only turns a deadlock into a failure.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		r, err := fn(t, p, "run_t1").Call(ctx, 7)
		if err != nil || r != 5700 {
			t.Fatalf("run_t1(7) = %d, %v; want 5700", int64(r), err)
		}
	})
}
