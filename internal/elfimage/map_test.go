package elfimage

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"syscall"
	"testing"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/sysmaps"
	"github.com/runplug/runplug/internal/testenv"
	"golang.org/x/sys/unix"
)

// Real distribution libraries the mapping tests load when present
// (.ci/run installs them).
var mapRealLibs = []string{
	testenv.SystemLibPath("libz.so.1"),
	testenv.SystemLibPath("libsqlite3.so.0"),
}

// mapObject is an object to map in tests: its path, contents and File.
type mapObject struct {
	name string
	path string
	data []byte
	file *File
}

// objects returns the test plugins and the real libraries present.
func mapObjects(t testing.TB) []mapObject {
	t.Helper()
	var paths []string
	for _, name := range []string{"basic", "map_layout"} {
		p, err := plugintest.BuildErr(name)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	for _, p := range mapRealLibs {
		if _, err := os.Stat(p); err == nil {
			paths = append(paths, p)
		} else {
			t.Logf("skipping %s: %v", p, err)
		}
	}
	var objs []mapObject
	for _, p := range paths {
		objs = append(objs, loadMapObject(t, p))
	}
	return objs
}

func loadMapObject(t testing.TB, path string) mapObject {
	t.Helper()
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(real)
	if err != nil {
		t.Fatal(err)
	}
	f, err := fileFromDebugELF(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return mapObject{name: filepath.Base(path), path: real, data: data, file: f}
}

// fileFromDebugELF builds the File the planner needs from well-formed objects
// with debug/elf, independently of this package's parser, so that the
// mapping tests check the mapper and not the parser.
func fileFromDebugELF(data []byte) (*File, error) {
	ef, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	f := &File{Machine: ef.Machine, Type: ef.Type, Entry: ef.Entry, Size: int64(len(data))}
	for _, ph := range ef.Progs {
		p := Prog{Type: ph.Type, Flags: ph.Flags, Off: ph.Off, Vaddr: ph.Vaddr, Filesz: ph.Filesz, Memsz: ph.Memsz, Align: ph.Align}
		f.Progs = append(f.Progs, p)
		switch p.Type {
		case elf.PT_LOAD:
			f.Loads = append(f.Loads, p)
		case elf.PT_GNU_RELRO:
			f.RELRO = &f.Progs[len(f.Progs)-1]
		}
	}
	if f.RELRO != nil { // f.Progs may have moved while growing
		for i := range f.Progs {
			if f.Progs[i].Type == elf.PT_GNU_RELRO {
				f.RELRO = &f.Progs[i]
			}
		}
	}
	sort.Slice(f.Loads, func(i, j int) bool { return f.Loads[i].Vaddr < f.Loads[j].Vaddr })
	if len(f.Loads) == 0 {
		return nil, fmt.Errorf("no PT_LOAD")
	}
	ps := PageSize()
	last := f.Loads[len(f.Loads)-1]
	f.MinVaddr = pageFloor(f.Loads[0].Vaddr, ps)
	f.MaxVaddr, _ = pageCeil(last.Vaddr+last.Memsz, ps)
	return f, nil
}

// span returns the reservation's address range.
func reservedSpan(im *Image) (start, end uintptr) {
	p := im.Plan()
	start = im.Base() + uintptr(p.Start)
	return start, start + uintptr(p.Size)
}

// addrAt returns the address of offset off relative to the load base.
func addrAt(im *Image, off int64) uintptr { return im.Base() + uintptr(off) }

func fileInode(t testing.TB, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// checkLayout compares /proc/self/maps with im's current regions: each
// region is covered by mappings with its permissions; file regions, when
// path is not "", by that file (path, inode and offset); everything else
// by anonymous memory. The kernel may merge a region with a neighbour of
// identical properties, so a mapping may extend past a region, but every
// byte of the region must be covered by mappings that match it.
func checkLayout(t *testing.T, im *Image, path string) {
	t.Helper()
	var ino uint64
	if path != "" {
		ino = fileInode(t, path)
	}
	ms, err := sysmaps.Read()
	if err != nil {
		t.Fatal(err)
	}
	regions := im.Regions()
	if len(regions) == 0 {
		t.Fatal("image has no regions")
	}
	for _, r := range regions {
		lo, hi := addrAt(im, r.Start), addrAt(im, r.End)
		wantPerms := ProtString(r.Prot) + "p"
		at := lo
		for _, m := range sysmaps.Overlapping(ms, lo, hi) {
			if m.Start > at {
				t.Errorf("%v: [%#x,%#x) not mapped", r, at, m.Start)
			}
			if m.Perms != wantPerms {
				t.Errorf("%v: mapping %v has perms %s, want %s", r, m, m.Perms, wantPerms)
			}
			if r.Kind == RegionFile && path != "" {
				if m.Inode != ino || m.Path != path {
					t.Errorf("%v: mapping %v is not of %s (inode %d)", r, m, path, ino)
				}
				// The file offset at the region's start (or at the
				// mapping's start when it starts inside the region).
				s := max(m.Start, lo)
				if got, want := m.Offset+uint64(s-m.Start), r.Offset+uint64(s-lo); got != want {
					t.Errorf("%v: mapping %v maps offset %#x at %#x, want %#x", r, m, got, s, want)
				}
			} else if !m.Anonymous() || m.Path != "" {
				t.Errorf("%v: mapping %v is backed by a file, want anonymous memory", r, m)
			}
			at = m.End
		}
		if at < hi {
			t.Errorf("%v: [%#x,%#x) not mapped", r, at, hi)
		}
	}
}

// checkSegmentBytes checks each segment's bytes against the file: [vaddr,
// vaddr+filesz) equals the file's bytes, [vaddr+filesz, vaddr+memsz) is
// zero.
func checkSegmentBytes(t *testing.T, im *Image, obj mapObject) {
	t.Helper()
	mem := im.Mem()
	p := im.Plan()
	if uint64(len(mem)) != p.MaxVaddr-p.MinVaddr {
		t.Fatalf("Mem() has %#x bytes, want %#x", len(mem), p.MaxVaddr-p.MinVaddr)
	}
	for i, ld := range obj.file.Loads {
		if ld.Flags&elf.PF_R == 0 || ld.Memsz == 0 {
			continue
		}
		seg := mem[ld.Vaddr-p.MinVaddr : ld.Vaddr-p.MinVaddr+ld.Memsz]
		if !bytes.Equal(seg[:ld.Filesz], obj.data[ld.Off:ld.Off+ld.Filesz]) {
			t.Errorf("segment %d: loaded bytes differ from the file's", i)
		}
		if j := bytes.IndexFunc(seg[ld.Filesz:], func(r rune) bool { return r != 0 }); j >= 0 {
			t.Errorf("segment %d: .bss byte at vaddr %#x is not zero", i, ld.Vaddr+ld.Filesz+uint64(j))
		}
	}
}

// releaseWatch looks at /proc/self/maps at the moment each reservation
// is released (from the "released" hook, right after munmap) and records
// what is still mapped there. Another thread (the Go runtime's) may map
// something new into the freed range at any moment, and under go1.27.3 it
// did, so only a mapping that lies wholly inside the range counts as a
// remnant: the reservation holds every piece of the image, so a remnant
// cannot reach outside it, while a new mapping of the runtime's (arenas,
// stacks, its metadata chunks) usually does.
type releaseWatch struct {
	snap     *sysmaps.Snapshotter
	fn       func(op string, addr, n uintptr, prot int) error // the test's own hook, or nil
	releases int
	problems []string
}

// watchReleases installs the hook for the rest of the test.
func watchReleases(t *testing.T) *releaseWatch {
	t.Helper()
	snap, err := sysmaps.NewSnapshotter("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	w := &releaseWatch{snap: snap}
	sysHook = func(op string, addr, n uintptr, prot int) error {
		if op != "released" {
			if w.fn != nil {
				return w.fn(op, addr, n, prot)
			}
			return nil
		}
		w.releases++
		if err := snap.Take(); err != nil { // no allocation before this
			w.problems = append(w.problems, err.Error())
			return nil
		}
		ms, err := snap.Mappings()
		if err != nil {
			w.problems = append(w.problems, err.Error())
			return nil
		}
		for _, m := range sysmaps.Overlapping(ms, addr, addr+n) {
			if m.Start < addr || m.End > addr+n {
				continue // not ours: see releaseWatch
			}
			w.problems = append(w.problems, fmt.Sprintf("still mapped in the released range [%#x,%#x): %v", addr, addr+n, m))
		}
		return nil
	}
	t.Cleanup(func() {
		sysHook = nil
		snap.Close()
	})
	return w
}

// check reports what the watch saw since the last check and that it saw
// exactly want releases.
func (w *releaseWatch) check(t *testing.T, what string, want int) {
	t.Helper()
	for _, p := range w.problems {
		t.Errorf("%s: %s", what, p)
	}
	if w.releases != want {
		t.Errorf("%s: %d releases, want %d", what, w.releases, want)
	}
	w.problems, w.releases = nil, 0
}

func mapFileT(t *testing.T, p *Plan, path string) *Image {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	im, err := MapFile(p, fh)
	if err != nil {
		t.Fatal(err)
	}
	return im
}

func TestMapFile(t *testing.T) {
	P := PageSize()
	for _, obj := range mapObjects(t) {
		for _, guard := range []uint64{0, 3 * P} {
			t.Run(fmt.Sprintf("%s/guard=%#x", obj.name, guard), func(t *testing.T) {
				p, err := NewPlan(obj.file, PlanOptions{GuardSize: guard})
				if err != nil {
					t.Fatal(err)
				}
				w := watchReleases(t)
				im := mapFileT(t, p, obj.path)
				defer im.Unmap()
				// The file may be closed: the mapping keeps it.
				checkLayout(t, im, obj.path)
				checkSegmentBytes(t, im, obj)
				checkRegionAt(t, im)

				start, _ := reservedSpan(im)
				if err := im.Unmap(); err != nil {
					t.Fatal(err)
				}
				w.check(t, "Unmap", 1)
				if err := im.Unmap(); err != nil {
					t.Errorf("second Unmap: %v", err)
				}
				w.check(t, "second Unmap", 0)
				if im.Contains(start) || im.Mem() != nil {
					t.Errorf("unmapped image still claims its range")
				}
				if _, ok := im.RegionAt(start); ok {
					t.Errorf("RegionAt answers after Unmap")
				}
				if err := im.Protect(p.MinVaddr, P, unix.PROT_READ); !errors.Is(err, ErrUnmapped) {
					t.Errorf("Protect after Unmap: %v, want ErrUnmapped", err)
				}
				if err := im.Tombstone(); !errors.Is(err, ErrUnmapped) {
					t.Errorf("Tombstone after Unmap: %v, want ErrUnmapped", err)
				}
			})
		}
	}
}

// checkRegionAt checks Contains and RegionAt at the edges of every region
// and just outside the reservation.
func checkRegionAt(t *testing.T, im *Image) {
	t.Helper()
	p := im.Plan()
	for _, r := range p.Regions {
		for _, a := range []uintptr{addrAt(im, r.Start), addrAt(im, r.End) - 1} {
			if !im.Contains(a) {
				t.Errorf("Contains(%#x) false inside %v", a, r)
			}
			if got, ok := im.RegionAt(a); !ok || got != r {
				t.Errorf("RegionAt(%#x) = %v, %v; want %v", a, got, ok, r)
			}
		}
	}
	start, end := reservedSpan(im)
	for _, a := range []uintptr{start - 1, end} {
		if im.Contains(a) {
			t.Errorf("Contains(%#x) true outside [%#x,%#x)", a, start, end)
		}
		if r, ok := im.RegionAt(a); ok {
			t.Errorf("RegionAt(%#x) = %v outside the reservation", a, r)
		}
	}
}

func TestMapBytes(t *testing.T) {
	for _, obj := range mapObjects(t) {
		t.Run(obj.name, func(t *testing.T) {
			p, err := NewPlan(obj.file, PlanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			w := watchReleases(t)
			im, err := MapBytes(p, obj.data)
			if err != nil {
				t.Fatal(err)
			}
			defer im.Unmap()
			checkLayout(t, im, "")
			checkSegmentBytes(t, im, obj)
			checkRegionAt(t, im)

			// Every readable page holds what MapFile puts there,
			// including the file bytes after p_filesz in the last page
			// of a segment without .bss.
			fim := mapFileT(t, p, obj.path)
			defer fim.Unmap()
			a, b := im.Mem(), fim.Mem()
			for _, r := range p.Regions {
				if r.Kind == RegionGuard || r.Prot&unix.PROT_READ == 0 {
					continue
				}
				lo, hi := r.Start-int64(p.MinVaddr), r.End-int64(p.MinVaddr)
				if !bytes.Equal(a[lo:hi], b[lo:hi]) {
					t.Errorf("%v: MapBytes and MapFile bytes differ", r)
				}
			}
			if err := im.Unmap(); err != nil {
				t.Fatal(err)
			}
			w.check(t, "Unmap", 1)
		})
	}
}

// TestMapZeroTail maps hand-made segments whose last file page must be
// cleared although the segment is not writable (read-only and
// read-execute): the mapper must clear it without leaving the pages
// writable or ever making them writable and executable.
func TestMapZeroTail(t *testing.T) {
	P := PageSize()
	data := bytes.Repeat([]byte{0xAA}, int(4*P))
	path := filepath.Join(t.TempDir(), "tail.bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	obj := mapObject{name: "tail", path: path, data: data, file: handFile(
		ptLoad(elf.PF_R, 0, 0, P+100, 2*P+50),
		ptLoad(elf.PF_R|elf.PF_X, 2*P, 4*P, 200, 300),
		ptLoad(elf.PF_R|elf.PF_W, 3*P, 5*P, P, P),
	)}
	obj.file.Size = int64(len(data))
	p, err := NewPlan(obj.file, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w := watchReleases(t)
	w.fn = func(op string, addr, n uintptr, prot int) error {
		if prot&unix.PROT_WRITE != 0 && prot&unix.PROT_EXEC != 0 {
			t.Errorf("%s [%#x,+%#x) with %s", op, addr, n, ProtString(prot))
		}
		return nil
	}
	for _, how := range []string{"file", "bytes"} {
		t.Run(how, func(t *testing.T) {
			var im *Image
			if how == "file" {
				im = mapFileT(t, p, path)
			} else {
				im, err = MapBytes(p, data)
				if err != nil {
					t.Fatal(err)
				}
			}
			defer im.Unmap()
			if how == "file" {
				checkLayout(t, im, path)
			} else {
				checkLayout(t, im, "")
			}
			checkSegmentBytes(t, im, obj)
			// The page after filesz of the read-only segment.
			mem := im.Mem()
			if mem[P+99] != 0xAA || mem[P+100] != 0 || mem[2*P-1] != 0 {
				t.Errorf("read-only tail: bytes %#x %#x %#x", mem[P+99], mem[P+100], mem[2*P-1])
			}
		})
	}
}

func TestTombstone(t *testing.T) {
	obj := loadMapObject(t, plugintest.Build(t, "map_layout"))
	p, err := NewPlan(obj.file, PlanOptions{GuardSize: 2 * PageSize()})
	if err != nil {
		t.Fatal(err)
	}
	w := watchReleases(t)
	im := mapFileT(t, p, obj.path)
	defer im.Unmap()
	start, end := reservedSpan(im)
	if err := im.Tombstone(); err != nil {
		t.Fatal(err)
	}
	if !im.Tombstoned() {
		t.Errorf("Tombstoned() false after Tombstone")
	}
	// The whole range is still reserved, PROT_NONE, with no file behind it.
	ms, err := sysmaps.Read()
	if err != nil {
		t.Fatal(err)
	}
	at := start
	for _, m := range sysmaps.Overlapping(ms, start, end) {
		if m.Start > at || m.Perms != "---p" || !m.Anonymous() {
			t.Errorf("tombstoned range [%#x,%#x): mapping %v (covered up to %#x)", start, end, m, at)
		}
		at = m.End
	}
	if at < end {
		t.Errorf("tombstoned range not reserved from %#x to %#x", at, end)
	}
	if !im.Contains(start) || !im.Contains(end-1) {
		t.Errorf("Contains false for a tombstoned image")
	}
	for _, r := range p.Regions {
		got, ok := im.RegionAt(addrAt(im, r.Start))
		want := r
		want.Prot = unix.PROT_NONE
		if !ok || got != want {
			t.Errorf("RegionAt after Tombstone = %v, %v; want %v", got, ok, want)
		}
	}
	if im.Mem() != nil {
		t.Errorf("Mem() after Tombstone is not nil")
	}
	if err := im.Protect(p.MinVaddr, PageSize(), unix.PROT_READ); !errors.Is(err, ErrTombstoned) {
		t.Errorf("Protect after Tombstone: %v, want ErrTombstoned", err)
	}
	if err := im.Tombstone(); err != nil {
		t.Errorf("second Tombstone: %v", err)
	}
	if err := im.Unmap(); err != nil {
		t.Fatal(err)
	}
	w.check(t, "Unmap after Tombstone", 1)
	if im.Tombstoned() {
		t.Errorf("Tombstoned() true after Unmap")
	}
}

// TestProtectRELRO applies PT_GNU_RELRO the way the loader will and checks
// the kernel's view, RegionAt and the bytes.
func TestProtectRELRO(t *testing.T) {
	P := PageSize()
	for _, name := range []string{"map_layout", "basic"} {
		t.Run(name, func(t *testing.T) {
			obj := loadMapObject(t, plugintest.Build(t, name))
			if obj.file.RELRO == nil {
				t.Fatal("no PT_GNU_RELRO: the test plugins are linked with -z relro (ld's default)")
			}
			rel := *obj.file.RELRO
			p, err := NewPlan(obj.file, PlanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			im := mapFileT(t, p, obj.path)
			defer im.Unmap()
			before := readableBytes(im)
			if err := im.Protect(rel.Vaddr, rel.Memsz, unix.PROT_READ); err != nil {
				t.Fatal(err)
			}
			lo := pageFloor(rel.Vaddr, P)
			hi := pageFloor(rel.Vaddr+rel.Memsz, P)
			checkLayout(t, im, obj.path)
			if hi > lo {
				r, ok := im.RegionAt(addrAt(im, int64(lo)))
				if !ok || r.Prot != unix.PROT_READ || r.Start != int64(lo) || r.End != int64(hi) {
					t.Errorf("RegionAt(RELRO) = %v, %v; want r-- [%#x,%#x)", r, ok, lo, hi)
				}
				seg, _ := p.Lookup(int64(lo))
				if r.Kind != seg.Kind || r.Segment != seg.Segment || r.Offset != seg.Offset+(lo-uint64(seg.Start)) {
					t.Errorf("RELRO region %v does not continue %v", r, seg)
				}
			}
			if after := regionAtOff(im, hi); hi < p.MaxVaddr && after.Prot == unix.PROT_READ && after.Kind != RegionGuard {
				t.Errorf("region after RELRO end %#x became read-only: %v", hi, after)
			}
			if !bytes.Equal(before, readableBytes(im)) {
				t.Errorf("Protect changed the image's bytes")
			}
		})
	}
}

// regionAtOff returns the current region at offset off.
func regionAtOff(im *Image, off uint64) Region {
	r, _ := im.RegionAt(addrAt(im, int64(off)))
	return r
}

// readable returns a copy of the bytes of every readable region of the
// plan, concatenated (reading gaps or guards would fault).
func readableBytes(im *Image) []byte {
	p := im.Plan()
	mem := im.Mem()
	var out []byte
	for _, r := range p.Regions {
		if r.Kind == RegionGuard || r.Prot&unix.PROT_READ == 0 {
			continue
		}
		out = append(out, mem[r.Start-int64(p.MinVaddr):r.End-int64(p.MinVaddr)]...)
	}
	return out
}

func TestProtectRefuses(t *testing.T) {
	P := PageSize()
	obj := loadMapObject(t, plugintest.Build(t, "map_layout"))
	p, err := NewPlan(obj.file, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var gap Region
	for _, r := range p.Regions {
		if p.IsGap(r) {
			gap = r
			break
		}
	}
	if gap.End == 0 {
		t.Fatalf("map_layout has no gap:\n%s", regionsText(p.Regions))
	}
	im := mapFileT(t, p, obj.path)
	defer im.Unmap()
	tests := []struct {
		name        string
		vaddr, size uint64
		prot        int
		sentinel    error
	}{
		{"before the image", p.MinVaddr - 1, P, unix.PROT_READ, nil},
		{"past the image", p.MaxVaddr - P, P + 1, unix.PROT_READ, nil},
		{"overflow", p.MaxVaddr - P, ^uint64(0), unix.PROT_READ, nil},
		{"gap", uint64(gap.Start), P, unix.PROT_READ, nil},
		{"write and execute", p.MinVaddr, P, unix.PROT_READ | unix.PROT_WRITE | unix.PROT_EXEC, ErrUnsupported},
		{"unknown bits", p.MinVaddr, P, unix.PROT_READ | 0x1000, nil},
	}
	for _, tt := range tests {
		err := im.Protect(tt.vaddr, tt.size, tt.prot)
		if err == nil {
			t.Errorf("%s: Protect(%#x, %#x, %s) succeeded", tt.name, tt.vaddr, tt.size, ProtString(tt.prot))
			continue
		}
		if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
			t.Errorf("%s: %v is not %v", tt.name, err, tt.sentinel)
		}
	}
	// Nothing changed.
	checkLayout(t, im, obj.path)
	// A range inside one page is a no-op, as in ld.so.
	if err := im.Protect(p.MinVaddr+1, P-2, unix.PROT_NONE); err != nil {
		t.Errorf("sub-page Protect: %v", err)
	}
	if r := regionAtOff(im, p.MinVaddr); r.Prot == unix.PROT_NONE {
		t.Errorf("sub-page Protect changed %v", r)
	}
}

// TestMapFails checks the errors that happen before or while mapping:
// each leaves nothing mapped.
func TestMapFails(t *testing.T) {
	obj := loadMapObject(t, plugintest.Build(t, "map_layout"))
	ino := fileInode(t, obj.path)
	p, err := NewPlan(obj.file, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Record the reservation each attempt makes and check its release.
	var reserved int
	w := watchReleases(t)
	w.fn = func(op string, addr, n uintptr, prot int) error {
		if op == "reserved" {
			reserved++
		}
		return nil
	}

	closed, err := os.Open(obj.path)
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	writeOnly, err := os.OpenFile(filepath.Join(t.TempDir(), "wo.so"), os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer writeOnly.Close()
	if _, err := writeOnly.Write(obj.data); err != nil {
		t.Fatal(err)
	}
	short := filepath.Join(t.TempDir(), "short.so")
	if err := os.WriteFile(short, obj.data[:len(obj.data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	shortF, err := os.Open(short)
	if err != nil {
		t.Fatal(err)
	}
	defer shortF.Close()
	badOffset := *p
	badOffset.Regions = append([]Region(nil), p.Regions...)
	for i, r := range badOffset.Regions {
		if r.Kind == RegionFile {
			badOffset.Regions[i].Offset += PageSize() * 1000
		}
	}

	tests := []struct {
		name     string
		plan     *Plan
		file     *os.File
		sentinel error
		reserves bool // whether the failure comes after the reservation
	}{
		{"closed file", p, closed, os.ErrClosed, false},
		{"write-only file", p, writeOnly, unix.EACCES, true},
		{"truncated file", p, shortF, ErrMalformed, false},
		{"offset past the end of the file", &badOffset, shortF, ErrMalformed, false},
		{"nil file", p, nil, nil, false},
		{"nil plan", nil, shortF, nil, false},
	}
	for _, tt := range tests {
		reserved = 0
		im, err := MapFile(tt.plan, tt.file)
		if err == nil {
			im.Unmap()
			t.Errorf("%s: MapFile succeeded", tt.name)
			continue
		}
		if im != nil {
			t.Errorf("%s: MapFile returned an image with error %v", tt.name, err)
		}
		if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
			t.Errorf("%s: %v is not %v", tt.name, err, tt.sentinel)
		}
		if got := reserved > 0; got != tt.reserves {
			t.Errorf("%s: reserved = %v, want %v (%v)", tt.name, got, tt.reserves, err)
		}
		w.check(t, tt.name, reserved)
	}
	if _, err := MapBytes(p, obj.data[:len(obj.data)/2]); !errors.Is(err, ErrMalformed) || reserved != 0 {
		t.Errorf("MapBytes of truncated data: %v", err)
	}
	// No mapping of the object is left anywhere.
	ms, err := sysmaps.Read()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Inode == ino {
			t.Errorf("mapping of %s left behind: %v", obj.path, m)
		}
	}
}

// TestMapFailsHalfway fails each step of a mapping in turn (the
// reservation, every mmap and mprotect) and checks that the error is
// returned and that nothing is left mapped.
func TestMapFailsHalfway(t *testing.T) {
	injected := errors.New("injected failure")
	for _, name := range []string{"map_layout", "tail"} {
		var obj mapObject
		if name == "tail" {
			// Read-only .bss: map, clear, then mprotect.
			P := PageSize()
			data := bytes.Repeat([]byte{1}, int(2*P))
			path := filepath.Join(t.TempDir(), "tail.bin")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			obj = mapObject{name: name, path: path, data: data, file: handFile(
				ptLoad(elf.PF_R, 0, 0, P+10, 3*P),
				ptLoad(elf.PF_R|elf.PF_W, P, 4*P, 10, 2*P),
			)}
		} else {
			obj = loadMapObject(t, plugintest.Build(t, name))
		}
		p, err := NewPlan(obj.file, PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, how := range []string{"file", "bytes"} {
			mapIt := func() (*Image, error) {
				if how == "bytes" {
					return MapBytes(p, obj.data)
				}
				fh, err := os.Open(obj.path)
				if err != nil {
					t.Fatal(err)
				}
				defer fh.Close()
				return MapFile(p, fh)
			}
			// Count the steps of a successful run.
			steps := 0
			w := watchReleases(t)
			w.fn = func(string, uintptr, uintptr, int) error { steps++; return nil }
			im, err := mapIt()
			if err != nil {
				t.Fatal(err)
			}
			w.fn = nil
			im.Unmap()
			w.check(t, "Unmap", 1)
			if steps < 3 {
				t.Fatalf("%s/%s: only %d steps", name, how, steps)
			}
			for fail := 1; fail <= steps; fail++ {
				n := 0
				var op string
				w.fn = func(o string, addr, size uintptr, prot int) error {
					if n++; n == fail {
						op = o
						return injected
					}
					return nil
				}
				im, err := mapIt()
				w.fn = nil
				if !errors.Is(err, injected) || im != nil {
					t.Errorf("%s/%s: failing step %d (%s): MapFile = %v, %v", name, how, fail, op, im, err)
					if im != nil {
						im.Unmap()
					}
				}
				// Unless the reservation itself failed, the failure
				// released it, and nothing was left in its range.
				releases := 1
				if op == "reserve" {
					releases = 0
				}
				w.check(t, fmt.Sprintf("%s/%s: failing step %d (%s)", name, how, fail, op), releases)
			}
		}
	}
}

// TestMapSyscalls counts the system calls a mapping makes: one
// reservation, one mmap per file region and per accessible zero region,
// and an mprotect only for a read-only segment whose last page needs
// clearing. MapBytes makes one mmap per run of same-protection regions
// and one mprotect per run that is not read-write.
func TestMapSyscalls(t *testing.T) {
	for _, obj := range mapObjects(t) {
		p, err := NewPlan(obj.file, PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		wantFile := 1 // the reservation
		for _, r := range p.Regions {
			switch {
			case r.Kind == RegionFile:
				wantFile++
				if r.ZeroFrom < r.End && r.Prot&unix.PROT_WRITE == 0 {
					wantFile++
				}
			case r.Kind == RegionZero && r.Prot != unix.PROT_NONE:
				wantFile++
			}
		}
		counts := map[string]int{}
		sysHook = func(op string, addr, n uintptr, prot int) error {
			if op != "reserved" {
				counts[op]++
			}
			return nil
		}
		im := mapFileT(t, p, obj.path)
		sysHook = nil
		im.Unmap()
		got := counts["reserve"] + counts["mmap-file"] + counts["mmap-anon"] + counts["mprotect"]
		if got != wantFile || counts["reserve"] != 1 {
			t.Errorf("%s: MapFile made %v, want %d calls in all", obj.name, counts, wantFile)
		}
		t.Logf("%s: MapFile: %d regions, %d mapping calls (+1 fstat) %v", obj.name, len(p.Regions), got, counts)
	}
}

// TestImageConcurrent calls the read-side methods while other goroutines
// protect, tombstone and unmap (run with -race).
func TestImageConcurrent(t *testing.T) {
	obj := loadMapObject(t, plugintest.Build(t, "map_layout"))
	p, err := NewPlan(obj.file, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w := watchReleases(t)
	im := mapFileT(t, p, obj.path)
	start, end := reservedSpan(im)
	rel := obj.file.RELRO
	if rel == nil {
		t.Fatal("map_layout has no PT_GNU_RELRO")
	}
	done := make(chan struct{})
	errs := make(chan error, 8)
	for g := 0; g < 2; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 200; i++ {
				a := start + uintptr(i)*(end-start)/200
				r, ok := im.RegionAt(a)
				if ok && (a < addrAt(im, r.Start) || a >= addrAt(im, r.End)) {
					errs <- fmt.Errorf("RegionAt(%#x) = %v", a, r)
					return
				}
				im.Contains(a)
			}
		}()
	}
	go func() {
		defer func() { done <- struct{}{} }()
		for i := 0; i < 20; i++ {
			if err := im.Protect(rel.Vaddr, rel.Memsz, unix.PROT_READ); err != nil && !errors.Is(err, ErrTombstoned) && !errors.Is(err, ErrUnmapped) {
				errs <- err
			}
		}
		im.Tombstone()
		im.Unmap()
	}()
	for i := 0; i < 3; i++ {
		<-done
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := im.Unmap(); err != nil {
		t.Error(err)
	}
	w.check(t, "Unmap", 1)
}

// TestPlanFromParse plans and maps the test objects as the loader does,
// from Parse's File: the plan must be the one debug/elf's view of the
// program headers gives, with the parser's image bounds, and the mapping
// must hold the file's bytes.
func TestPlanFromParse(t *testing.T) {
	for _, obj := range mapObjects(t) {
		t.Run(obj.name, func(t *testing.T) {
			f, err := ParseFile(obj.path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := NewPlan(f, PlanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want, err := NewPlan(obj.file, PlanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("plan from Parse:\n%s\nfrom debug/elf:\n%s", regionsText(got.Regions), regionsText(want.Regions))
			}
			if got.MinVaddr != f.MinVaddr || got.MaxVaddr != f.MaxVaddr {
				t.Errorf("plan bounds [%#x,%#x), File bounds [%#x,%#x)", got.MinVaddr, got.MaxVaddr, f.MinVaddr, f.MaxVaddr)
			}
			im := mapFileT(t, got, obj.path)
			defer im.Unmap()
			checkSegmentBytes(t, im, mapObject{name: obj.name, path: obj.path, data: obj.data, file: f})
		})
	}
}
