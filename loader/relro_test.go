package loader

import (
	"context"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/sysmaps"
)

// TestReuseKeepsRELRO reloads relro_keep (whose GOT, in PT_GNU_RELRO,
// holds dep_b's addresses) into its parked image and checks that the
// sealed RELRO is kept when it is still right, and written again when it
// is not: when dep_b comes back at another base (a stale GOT would then
// point into dep_b's old range, held PROT_NONE here) and when a byte of
// the sealed pages was changed while the plugin was loaded. Each time the
// plugin reads dep_b's current addresses and its RELRO pages end
// read-only.
func TestReuseKeepsRELRO(t *testing.T) {
	for _, tc := range []struct {
		name    string
		between func(t *testing.T, l *Loader, p *Plugin) // while loaded, before Close
		moved   bool                                     // dep_b's parked image is taken away
		rewrite bool                                     // the kept pages must be written again
	}{
		{name: "unchanged"},
		{name: "dependency at another base", moved: true, rewrite: true},
		{name: "sealed byte changed", rewrite: true, between: func(t *testing.T, l *Loader, p *Plugin) {
			o := p.obj
			r := o.p.file.RELRO
			ps := o.p.plan.PageSize
			lo := r.Vaddr &^ (ps - 1)
			if err := o.img.Protect(lo, ps, unix.PROT_READ|unix.PROT_WRITE); err != nil {
				t.Fatal(err)
			}
			o.mem[lo-o.p.plan.MinVaddr]++ // not a relocated place: the pristine byte must come back
			if err := o.img.Protect(lo, ps, unix.PROT_READ); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoader(t, Options{})
			first := load(t, l, "relro_keep")
			base := first.obj.base
			fileByte := checkRELROKeep(t, first)
			if tc.between != nil {
				tc.between(t, l, first)
			}
			if err := first.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if tc.moved {
				holdTomb(t, l, "dep_b.so")
			}
			tombFirst(t, l, "relro_keep.so") // the oldest is the one a load reuses
			l.opts.TombstoneBudget = 1       // every parked image is due: the next load reuses them
			kept, rewritten := l.relroKept, l.relroRewritten
			again := load(t, l, "relro_keep")
			if again.obj.base != base {
				t.Fatalf("relro_keep mapped afresh at %#x, not reused at %#x", again.obj.base, base)
			}
			if b := checkRELROKeep(t, again); b != fileByte {
				t.Errorf("first byte of the RELRO pages is %#x after the reload, the file's is %#x", b, fileByte)
			}
			wantKept, wantRewritten := 2, 0 // relro_keep and dep_b
			switch {
			case tc.moved:
				wantKept, wantRewritten = 0, 1 // dep_b is mapped afresh
			case tc.rewrite:
				wantKept, wantRewritten = 1, 1
			}
			if got, gotR := l.relroKept-kept, l.relroRewritten-rewritten; got != wantKept || gotR != wantRewritten {
				t.Errorf("reload kept %d RELROs and wrote %d again, want %d and %d", got, gotR, wantKept, wantRewritten)
			}
		})
	}
}

// checkRELROKeep checks that relro_keep, loaded as p, reaches dep_b where
// dep_b is now, and that its RELRO pages are read-only. It returns the
// first byte of those pages (not a relocated place).
func checkRELROKeep(t *testing.T, p *Plugin) byte {
	t.Helper()
	if got, want := uintptr(call(t, p, "relro_keep_counter")), lookup(t, p, "dep_b_counter"); got != want {
		t.Errorf("relro_keep_counter() = %#x, want dep_b_counter at %#x", got, want)
	}
	if got := call(t, p, "relro_keep_value", 4); got != 43 {
		t.Errorf("relro_keep_value(4) = %d, want 43", got)
	}
	o := p.obj
	ps := o.p.plan.PageSize
	lo := o.p.file.RELRO.Vaddr &^ (ps - 1)
	ms, err := sysmaps.Read()
	if err != nil {
		t.Fatal(err)
	}
	at := uintptr(o.base + lo)
	for _, m := range sysmaps.Overlapping(ms, at, at+uintptr(ps)) {
		if m.Perms != "r--p" {
			t.Errorf("RELRO page %#x: mapping %v, want r--p", at, m)
		}
	}
	return o.mem[lo-o.p.plan.MinVaddr]
}

// tombFirst makes the parked image of the object named name the oldest of
// l's tombstones.
func tombFirst(t *testing.T, l *Loader, name string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	i := tombIndex(t, l, name)
	o := l.tombs[i]
	copy(l.tombs[1:i+1], l.tombs[:i])
	l.tombs[0] = o
}

// holdTomb takes the parked image of the object named name off l's
// tombstones without releasing its range (until the test ends), so that
// the next load of it maps it afresh at another address.
func holdTomb(t *testing.T, l *Loader, name string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	i := tombIndex(t, l, name)
	o := l.tombs[i]
	l.tombs = append(l.tombs[:i], l.tombs[i+1:]...)
	l.tombSz -= o.p.plan.Size
	t.Cleanup(func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		o.unmap()
	})
}

// tombIndex returns the index in l.tombs of the parked image of the
// object named name. l.mu is held.
func tombIndex(t *testing.T, l *Loader, name string) int {
	t.Helper()
	for i, o := range l.tombs {
		if o.name == name {
			return i
		}
	}
	t.Fatalf("no parked image of %s among %d tombstones", name, len(l.tombs))
	return -1
}

// TestRELROKeptOnlyWhenSafe checks which links let a reuse keep RELRO:
// not one that ran an IFUNC resolver (it may read its GOT before the seal)
// nor one of an object with thread-local storage (linkTLS copies .tdata,
// inside RELRO, before the seal).
func TestRELROKeptOnlyWhenSafe(t *testing.T) {
	l := newLoader(t, Options{})
	for _, tc := range []struct {
		plugin string
		keep   bool
	}{
		{"relro_keep", true},
		{"ifunc", false},
		{"tls_basic", false},
	} {
		p := load(t, l, tc.plugin)
		if p.obj.relroKeepable != tc.keep {
			t.Errorf("%s: keepable %v, want %v", tc.plugin, p.obj.relroKeepable, tc.keep)
		}
	}
}
