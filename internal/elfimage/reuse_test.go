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
			p, err := NewPlan(obj.file, PlanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			pr, err := ReadPristine(p, bytes.NewReader(obj.data))
			if err != nil {
				t.Fatal(err)
			}
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
