//go:build linux && (amd64 || arm64) && cgo

package isolate_test

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/runplug/runplug/loader"
)

// memResult is what memoryHost saw: it must be the same in process and
// isolated.
type memResult struct {
	rc              uint64
	area, perimeter int64
	summary, kept   string
}

// memoryHost is one host's code for mem_both, written once for a plugin
// wherever it runs: allocate a struct in the plugin's address space,
// write it, let the plugin fill an out-parameter, read that back, read
// the C string the plugin allocated and free it, hand the plugin a C
// string it keeps (and frees with free), free the rest.
func memoryHost(ctx context.Context, t *testing.T, p *loader.Plugin) memResult {
	t.Helper()
	var res memResult
	rect, err := p.Alloc(ctx, 32) // struct rect
	if err != nil {
		t.Fatalf("Alloc(rect): %v", err)
	}
	defer p.Free(ctx, rect)
	in := make([]byte, 32)
	for i, v := range []int32{3, -4, 6, 7} {
		binary.LittleEndian.PutUint32(in[4*i:], uint32(v))
	}
	copy(in[16:], "window")
	if err := p.WriteMemory(rect, in); err != nil {
		t.Fatalf("WriteMemory(rect): %v", err)
	}
	stats, err := p.Alloc(ctx, 24) // struct stats
	if err != nil {
		t.Fatalf("Alloc(stats): %v", err)
	}
	defer p.Free(ctx, stats)

	res.rc = callOK(t, p, "rect_stats", uint64(rect), uint64(stats))
	out := make([]byte, 24)
	if err := p.ReadMemory(stats, out); err != nil {
		t.Fatalf("ReadMemory(stats): %v", err)
	}
	res.area = int64(binary.LittleEndian.Uint64(out))
	res.perimeter = int64(binary.LittleEndian.Uint64(out[8:]))
	summary := uintptr(binary.LittleEndian.Uint64(out[16:]))
	if res.summary, err = p.ReadString(summary, -1); err != nil {
		t.Fatalf("ReadString(summary): %v", err)
	}
	if err := p.Free(ctx, summary); err != nil { // the plugin's malloc, the host's Free
		t.Fatalf("Free(summary): %v", err)
	}

	name, err := p.CString(ctx, "kept by the plugin")
	if err != nil {
		t.Fatalf("CString: %v", err)
	}
	callOK(t, p, "keep_name", uint64(name)) // the plugin owns it now
	kept := callOK(t, p, "kept_name")
	if res.kept, err = p.ReadString(uintptr(kept), 64); err != nil {
		t.Fatalf("ReadString(kept): %v", err)
	}
	callOK(t, p, "drop_name") // the plugin frees the host's CString with free
	return res
}

func callOK(t *testing.T, p *loader.Plugin, name string, args ...uint64) uint64 {
	t.Helper()
	r, err := call(t, p, name, args...)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

// TestMemoryBothWays runs memoryHost against mem_both in process and
// isolated: the results are identical and right, and the edges of the
// memory API answer the same (a NUL in a CString, a size out of range,
// Free(0), a bounded read of a string with no NUL, memory after Close).
func TestMemoryBothWays(t *testing.T) {
	want := memResult{rc: 0, area: 42, perimeter: 26, summary: "window at (3,-4) 6x7", kept: "KEPT BY THE PLUGIN"}
	var got []memResult
	bothWays(t, func(t *testing.T, l *loader.Loader) {
		ctx := context.Background()
		p := load(t, l, "mem_both")
		r := memoryHost(ctx, t, p)
		if r != want {
			t.Errorf("memoryHost = %+v, want %+v", r, want)
		}
		got = append(got, r)

		if _, err := p.CString(ctx, "a\x00b"); err == nil || !strings.Contains(err.Error(), "NUL byte at 1") {
			t.Errorf("CString with a NUL = %v, want an error naming it", err)
		}
		for _, n := range []int{0, -1, 1 << 41} {
			if _, err := p.Alloc(ctx, n); err == nil || !strings.Contains(err.Error(), "out of range") {
				t.Errorf("Alloc(%d) = %v, want a size out of range", n, err)
			}
		}
		if err := p.Free(ctx, 0); err != nil {
			t.Errorf("Free(0) = %v", err)
		}
		big := callOK(t, p, "no_nul", 2<<20) // 2 MiB of 'A', no NUL
		if s, err := p.ReadString(uintptr(big), 10); err != nil || s != "AAAAAAAAAA" {
			t.Errorf("ReadString(no NUL, 10) = %q, %v", s, err)
		}
		if _, err := p.ReadString(uintptr(big), -1); err == nil || !strings.Contains(err.Error(), "longer than 1048576 bytes") {
			t.Errorf("ReadString(no NUL, unbounded) = %v, want an error at 1 MiB", err)
		}
		if _, err := p.ReadString(0x10, -1); !errors.Is(err, loader.ErrBadAddress) {
			t.Errorf("ReadString(0x10) = %v, want ErrBadAddress", err)
		}

		if err := p.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Alloc(ctx, 8); !errors.Is(err, loader.ErrClosed) {
			t.Errorf("Alloc after Close = %v, want ErrClosed", err)
		}
		if err := p.Free(ctx, uintptr(big)); !errors.Is(err, loader.ErrClosed) {
			t.Errorf("Free after Close = %v, want ErrClosed", err)
		}
		if _, err := p.ReadString(uintptr(big), 4); !errors.Is(err, loader.ErrClosed) {
			t.Errorf("ReadString after Close = %v, want ErrClosed", err)
		}
	})
	if len(got) == 2 && got[0] != got[1] {
		t.Errorf("in process %+v, isolated %+v: the same host code saw different memory", got[0], got[1])
	}
}
