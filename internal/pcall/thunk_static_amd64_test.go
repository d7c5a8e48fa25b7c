//go:build linux && cgo

package pcall

import (
	"os"
	"testing"

	"github.com/runplug/runplug/internal/sysmaps"
)

// TestStaticThunkPage checks the first thunk page built into the binary
// (callback_amd64.S): it is the process's page 0 (the first 128
// callbacks cost no mmap and no mprotect), it lies in the executable's
// own text, read-and-execute and never writable, and its slots call their
// functions (a callback is made until one takes a slot of page 0, unless
// the earlier tests took them all: every callback test then ran through
// it).
func TestStaticThunkPage(t *testing.T) {
	base, cells := staticThunkPage()
	if base == 0 || len(cells) != thunksPerPage() {
		t.Fatalf("staticThunkPage() = %#x, %d cells; want the page of callback_amd64.S", base, len(cells))
	}
	c, err := NewCallbackInts("static_probe", func(i0, i1, _, _, _, _ uint64) uint64 { return 10*i0 + i1 }, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Free()
	if pg := cbPages[0].Load(); pg == nil || pg.base != base {
		t.Fatalf("thunk page 0 = %+v, want the static page at %#x", pg, base)
	}
	if c.id < uint32(thunksPerPage()) {
		if c.Addr() != base+uintptr(c.id)*thunkSize {
			t.Fatalf("callback %d at %#x, want %#x", c.id, c.Addr(), base+uintptr(c.id)*thunkSize)
		}
		// f(i, 1) for i in 0..3: 1 + 11 + 21 + 31.
		if got := fixtureCallbackLoop(c.Addr(), 4); got != 64 {
			t.Fatalf("calls through static slot %d summed %d, want 64", c.id, got)
		}
	}
	maps, err := sysmaps.Read()
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range maps {
		if m.Contains(base) {
			if m.Perms != "r-xp" || m.Path != exe {
				t.Fatalf("static thunk page in %v, want the executable's read-and-execute text (%s)", m, exe)
			}
			return
		}
	}
	t.Fatalf("static thunk page %#x is in no mapping", base)
}
