package elfimage

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/sysmaps"
)

// TestParkReuse scribbles over every writable page of an image, parks it,
// checks that the range is all PROT_NONE and still owned, reuses it and
// checks that it has the layout, protections and bytes of a fresh mapping,
// at the same address, without a single mmap.
func TestParkReuse(t *testing.T) {
	for _, obj := range mapObjects(t) {
		t.Run(obj.name, func(t *testing.T) {
			p, pr := planPristine(t, obj)
			im := mapFileT(t, p, obj.path)
			defer im.Unmap()
			fresh := readableBytes(im)
			base := im.Base()
			start, end := reservedSpan(im)
			for round := 0; round < 2; round++ {
				mem := im.Mem()
				for _, r := range p.Regions {
					if r.Kind != RegionGuard && r.Prot&unix.PROT_WRITE != 0 {
						clear(mem[r.Start-int64(p.MinVaddr) : r.End-int64(p.MinVaddr)])
						mem[r.Start-int64(p.MinVaddr)] = 0xa5
					}
				}
				if err := im.Park(); err != nil {
					t.Fatal(err)
				}
				if !im.Tombstoned() || !im.Parked() || im.Mem() != nil {
					t.Errorf("after Park: Tombstoned %v, Parked %v, Mem nil %v", im.Tombstoned(), im.Parked(), im.Mem() == nil)
				}
				if err := im.Protect(p.MinVaddr, PageSize(), unix.PROT_READ); !errors.Is(err, ErrTombstoned) {
					t.Errorf("Protect of a parked image: %v, want ErrTombstoned", err)
				}
				ms, err := sysmaps.Read()
				if err != nil {
					t.Fatal(err)
				}
				at := start
				for _, m := range sysmaps.Overlapping(ms, start, end) {
					if m.Start > at || m.Perms != "---p" {
						t.Errorf("parked range: mapping %v (covered up to %#x)", m, at)
					}
					at = m.End
				}
				if at < end {
					t.Errorf("parked range not reserved from %#x to %#x", at, end)
				}
				// Each page is raised once, from PROT_NONE: raising a
				// page that is already accessible flushes the TLB of
				// every CPU that ran the process.
				var ops []string
				raised := map[uintptr]bool{}
				sysHook = func(op string, addr, n uintptr, prot int) error {
					ops = append(ops, op)
					for pg := addr; op == "mprotect" && pg < addr+n; pg += uintptr(PageSize()) {
						if raised[pg] {
							t.Errorf("Reuse changed the protection of page %#x twice", pg)
						}
						raised[pg] = true
					}
					return nil
				}
				err = im.Reuse(pr)
				sysHook = nil
				if err != nil {
					t.Fatal(err)
				}
				for _, op := range ops {
					if op != "mprotect" && op != "madvise" {
						t.Errorf("Reuse made a %s call", op)
					}
				}
				if im.Base() != base || im.Parked() || im.Tombstoned() {
					t.Errorf("after Reuse: base %#x (was %#x), Parked %v, Tombstoned %v", im.Base(), base, im.Parked(), im.Tombstoned())
				}
				checkLayout(t, im, obj.path)
				checkSegmentBytes(t, im, obj)
				if !bytes.Equal(readableBytes(im), fresh) {
					t.Errorf("round %d: bytes after Reuse differ from a fresh mapping's", round)
				}
			}
		})
	}
}

func TestReuseRefuses(t *testing.T) {
	objs := mapObjects(t)
	a, b := objs[0], objs[1]
	pa, err := NewPlan(a.file, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := NewPlan(b.file, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	prb, err := ReadPristine(pb, bytes.NewReader(b.data))
	if err != nil {
		t.Fatal(err)
	}
	pra, err := ReadPristine(pa, bytes.NewReader(a.data))
	if err != nil {
		t.Fatal(err)
	}
	im := mapFileT(t, pa, a.path)
	defer im.Unmap()
	tests := []struct {
		name  string
		setup func() error
		pr    *Pristine
	}{
		{"not parked", func() error { return nil }, pra},
		{"other plan", im.Park, prb},
		{"nil pristine", func() error { return nil }, nil},
		{"tombstoned", im.Tombstone, pra},
	}
	for _, tc := range tests {
		if err := tc.setup(); err != nil {
			t.Fatalf("%s: setup: %v", tc.name, err)
		}
		if err := im.Reuse(tc.pr); err == nil {
			t.Errorf("%s: Reuse succeeded", tc.name)
		}
	}
	if err := im.Park(); !errors.Is(err, ErrTombstoned) {
		t.Errorf("Park of a tombstoned image: %v, want ErrTombstoned", err)
	}
	if err := im.Unmap(); err != nil {
		t.Fatal(err)
	}
	if err := im.Park(); !errors.Is(err, ErrUnmapped) {
		t.Errorf("Park of an unmapped image: %v, want ErrUnmapped", err)
	}
}

func TestMapFD(t *testing.T) {
	obj := loadMapObject(t, mapObjects(t)[0].path)
	p, err := NewPlan(obj.file, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(obj.path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	im, err := MapFD(p, fd, int64(len(obj.data)))
	if err != nil {
		t.Fatal(err)
	}
	checkLayout(t, im, obj.path)
	checkSegmentBytes(t, im, obj)
	if err := im.Unmap(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		fd   int
		size int64
	}{{"negative fd", -1, int64(len(obj.data))}, {"short file", fd, 16}, {"negative size", fd, -1}} {
		if im, err := MapFD(p, tc.fd, tc.size); err == nil {
			im.Unmap()
			t.Errorf("%s: MapFD succeeded", tc.name)
		}
	}
}

// TestReuseKeeping seals each object's PT_GNU_RELRO, scribbles on the
// sealed pages and on the rest of the writable regions, parks the image
// and reuses it keeping the RELRO pages: they must come back read-only in
// one protection change from PROT_NONE, with the bytes they held, and
// everything else as Reuse gives it.
func TestReuseKeeping(t *testing.T) {
	for _, obj := range mapObjects(t) {
		r := obj.file.RELRO
		if r == nil {
			continue
		}
		t.Run(obj.name, func(t *testing.T) {
			p, pr := planPristine(t, obj)
			lo, hi, ok := keepablePages(p, r.Vaddr, r.Memsz)
			if !ok {
				t.Skipf("RELRO [%#x,+%#x) holds no whole page of a writable file region", r.Vaddr, r.Memsz)
			}
			im := mapFileT(t, p, obj.path)
			defer im.Unmap()
			mem := im.Mem()
			fresh := make([]byte, len(mem)) // readable regions only: gaps fault
			for _, rg := range p.Regions {
				if rg.Kind != RegionGuard && rg.Prot&unix.PROT_READ != 0 {
					copy(fresh[rg.Start-int64(p.MinVaddr):rg.End-int64(p.MinVaddr)], mem[rg.Start-int64(p.MinVaddr):])
				}
			}
			kept := mem[lo-int64(p.MinVaddr) : hi-int64(p.MinVaddr)]
			for i := range kept {
				kept[i] ^= 0x5a
			}
			want := append([]byte(nil), kept...)
			if err := im.Protect(r.Vaddr, r.Memsz, unix.PROT_READ); err != nil {
				t.Fatal(err)
			}
			for _, rg := range p.Regions {
				if rg.Kind == RegionFile && rg.Prot&unix.PROT_WRITE != 0 && (rg.End <= lo || rg.Start >= hi) {
					mem[rg.Start-int64(p.MinVaddr)] ^= 0xff
				}
			}
			if err := im.Park(); err != nil {
				t.Fatal(err)
			}
			raised := map[uintptr]bool{}
			sysHook = func(op string, addr, n uintptr, prot int) error {
				for pg := addr; op == "mprotect" && pg < addr+n; pg += uintptr(PageSize()) {
					if raised[pg] {
						t.Errorf("ReuseKeeping changed the protection of page %#x twice", pg)
					}
					raised[pg] = true
				}
				return nil
			}
			gotLo, gotHi, err := im.ReuseKeeping(pr, r.Vaddr, r.Memsz)
			sysHook = nil
			if err != nil {
				t.Fatal(err)
			}
			if gotLo != uint64(lo) || gotHi != uint64(hi) {
				t.Errorf("kept [%#x,%#x), want [%#x,%#x)", gotLo, gotHi, lo, hi)
			}
			mem = im.Mem()
			k0, k1 := lo-int64(p.MinVaddr), hi-int64(p.MinVaddr)
			if !bytes.Equal(mem[k0:k1], want) {
				t.Errorf("kept pages lost their bytes")
			}
			for _, rg := range p.Regions {
				a, b := rg.Start-int64(p.MinVaddr), rg.End-int64(p.MinVaddr)
				if rg.Kind == RegionGuard || rg.Prot&unix.PROT_READ == 0 || (a >= k0 && b <= k1) {
					continue
				}
				got, exp := append([]byte(nil), mem[a:b]...), append([]byte(nil), fresh[a:b]...)
				if a < k1 && b > k0 { // the kept part is checked above
					clear(got[max(a, k0)-a : min(b, k1)-a])
					clear(exp[max(a, k0)-a : min(b, k1)-a])
				}
				if !bytes.Equal(got, exp) {
					t.Errorf("region %v differs from a fresh mapping's", rg)
				}
			}
			ms, err := sysmaps.Read()
			if err != nil {
				t.Fatal(err)
			}
			at := im.Base() + uintptr(lo)
			for _, m := range sysmaps.Overlapping(ms, at, im.Base()+uintptr(hi)) {
				if m.Perms != "r--p" {
					t.Errorf("kept pages: mapping %v, want r--p", m)
				}
			}
			if rg, ok := im.RegionAt(at); !ok || rg.Prot != unix.PROT_READ {
				t.Errorf("RegionAt(kept page) = %v, %v, want a read-only region", rg, ok)
			}
		})
	}
}

// TestKeepablePages checks which ranges ReuseKeeping may keep: whole pages
// inside writable file regions only.
func TestKeepablePages(t *testing.T) {
	ps := int64(PageSize())
	p := &Plan{PageSize: uint64(ps), MinVaddr: 0, MaxVaddr: uint64(6 * ps), Regions: []Region{
		{Start: -ps, End: 0, Kind: RegionGuard, Segment: -1, Before: true},
		{Start: 0, End: ps, Kind: RegionFile, Prot: unix.PROT_READ},
		{Start: ps, End: 3 * ps, Kind: RegionFile, Prot: unix.PROT_READ | unix.PROT_WRITE, Segment: 1, ZeroFrom: 3 * ps},
		{Start: 3 * ps, End: 4 * ps, Kind: RegionFile, Prot: unix.PROT_READ | unix.PROT_WRITE, Segment: 1, ZeroFrom: 4 * ps},
		{Start: 4 * ps, End: 5 * ps, Kind: RegionZero, Prot: unix.PROT_READ | unix.PROT_WRITE, Segment: 1},
		{Start: 5 * ps, End: 6 * ps, Kind: RegionGuard, Segment: -1},
	}}
	u := uint64(ps)
	for _, tc := range []struct {
		vaddr, size uint64
		lo, hi      int64
		ok          bool
	}{
		{u + 0x10, 2*u - 0x10, ps, 3 * ps, true}, // start rounded down, end rounded down
		{u, 3 * u, ps, 4 * ps, true},             // across two writable file regions
		{u + 0x10, 0x20, 0, 0, false},            // no whole page
		{0, 2 * u, 0, 0, false},                  // a read-only region
		{3 * u, 2 * u, 0, 0, false},              // a zero region
		{u, ^uint64(0), 0, 0, false},             // overflows
		{5 * u, 2 * u, 0, 0, false},              // past the image
	} {
		lo, hi, ok := keepablePages(p, tc.vaddr, tc.size)
		if ok != tc.ok || (ok && (lo != tc.lo || hi != tc.hi)) {
			t.Errorf("keepablePages(%#x, %#x) = [%#x,%#x) %v, want [%#x,%#x) %v", tc.vaddr, tc.size, lo, hi, ok, tc.lo, tc.hi, tc.ok)
		}
	}
}

// planPristine returns obj's plan and the pristine copy of its writable
// regions.
func planPristine(t *testing.T, obj mapObject) (*Plan, *Pristine) {
	t.Helper()
	p, err := NewPlan(obj.file, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pr, err := ReadPristine(p, bytes.NewReader(obj.data))
	if err != nil {
		t.Fatal(err)
	}
	return p, pr
}
