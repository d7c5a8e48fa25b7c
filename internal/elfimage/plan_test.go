package elfimage

import (
	"debug/elf"
	"errors"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

const (
	protR   = unix.PROT_READ
	protRW  = unix.PROT_READ | unix.PROT_WRITE
	protRX  = unix.PROT_READ | unix.PROT_EXEC
	protRWX = unix.PROT_READ | unix.PROT_WRITE | unix.PROT_EXEC
)

// load returns a PT_LOAD header.
func ptLoad(flags elf.ProgFlag, off, vaddr, filesz, memsz uint64) Prog {
	return Prog{Type: elf.PT_LOAD, Flags: flags, Off: off, Vaddr: vaddr, Filesz: filesz, Memsz: memsz, Align: PageSize()}
}

// handFile returns a hand-built File holding loads (and, like Parse, the
// same headers in Progs after a PT_PHDR, so that error fields name the
// program header index).
func handFile(loads ...Prog) *File {
	progs := []Prog{{Type: elf.PT_PHDR, Flags: elf.PF_R, Off: 64, Vaddr: 64, Filesz: 56, Memsz: 56, Align: 8}}
	progs = append(progs, loads...)
	return &File{Machine: elf.EM_X86_64, Type: elf.ET_DYN, Progs: progs, Loads: loads}
}

// Region constructors for expected plans.
func wantFileReg(seg int, start, end int64, off uint64, prot int, zeroFrom int64) Region {
	return Region{Start: start, End: end, Offset: off, Prot: prot, Kind: RegionFile, Segment: seg, ZeroFrom: zeroFrom}
}

func wantZeroReg(seg int, start, end int64, prot int) Region {
	return Region{Start: start, End: end, Prot: prot, Kind: RegionZero, Segment: seg, ZeroFrom: end}
}

func wantGuardReg(start, end int64, before bool) Region {
	return Region{Start: start, End: end, Kind: RegionGuard, Segment: -1, ZeroFrom: end, Before: before}
}

func TestNewPlan(t *testing.T) {
	P := PageSize()
	p := int64(P)
	tests := []struct {
		name  string
		file  *File
		opt   PlanOptions
		guard int64 // expected guard size
		want  []Region
	}{
		{
			name:  "one segment",
			file:  handFile(ptLoad(elf.PF_R|elf.PF_X, 0, 0, P+100, P+100)),
			guard: p,
			want: []Region{
				wantGuardReg(-p, 0, true),
				wantFileReg(0, 0, 2*p, 0, protRX, 2*p), // memsz == filesz: nothing zeroed
				wantGuardReg(2*p, 3*p, false),
			},
		},
		{
			name: "text data bss",
			file: handFile(
				ptLoad(elf.PF_R|elf.PF_X, 0, 0, P+0x100, P+0x100),
				ptLoad(elf.PF_R|elf.PF_W, 2*P+0x10, 3*P+0x10, 0x20, 0x40),
			),
			guard: p,
			want: []Region{
				wantGuardReg(-p, 0, true),
				wantFileReg(0, 0, 2*p, 0, protRX, 2*p),
				wantGuardReg(2*p, 3*p, false), // gap
				wantFileReg(1, 3*p, 4*p, 2*P, protRW, 3*p+0x30),
				wantGuardReg(4*p, 5*p, false),
			},
		},
		{
			name: "bss spanning pages",
			file: handFile(
				ptLoad(elf.PF_R, 0, 0, 0x200, 0x200),
				ptLoad(elf.PF_R|elf.PF_W, P, P, 0x100, 3*P),
			),
			guard: p,
			want: []Region{
				wantGuardReg(-p, 0, true),
				wantFileReg(0, 0, p, 0, protR, p),
				wantFileReg(1, p, 2*p, P, protRW, p+0x100),
				wantZeroReg(1, 2*p, 4*p, protRW),
				wantGuardReg(4*p, 5*p, false),
			},
		},
		{
			name: "bss ends on a page boundary after a page-aligned filesz",
			file: handFile(
				ptLoad(elf.PF_R|elf.PF_W, 0, 0, P, 2*P),
			),
			guard: p,
			want: []Region{
				wantGuardReg(-p, 0, true),
				wantFileReg(0, 0, p, 0, protRW, p), // tail starts on the next page: nothing to clear
				wantZeroReg(0, p, 2*p, protRW),
				wantGuardReg(2*p, 3*p, false),
			},
		},
		{
			name: "filesz zero segment",
			file: handFile(
				ptLoad(elf.PF_R|elf.PF_X, 0, 0, 0x80, 0x80),
				ptLoad(elf.PF_R|elf.PF_W, 0x1234, 2*P+0x234, 0, 0x10),
			),
			guard: p,
			want: []Region{
				wantGuardReg(-p, 0, true),
				wantFileReg(0, 0, p, 0, protRX, p),
				wantGuardReg(p, 2*p, false),
				wantZeroReg(1, 2*p, 3*p, protRW),
				wantGuardReg(3*p, 4*p, false),
			},
		},
		{
			name:  "unaligned vaddr with congruent offset, image not at 0",
			file:  handFile(ptLoad(elf.PF_R, 0x123, 5*P+0x123, 2*P, 2*P)),
			guard: p,
			want: []Region{
				wantGuardReg(4*p, 5*p, true),
				wantFileReg(0, 5*p, 8*p, 0, protR, 8*p),
				wantGuardReg(8*p, 9*p, false),
			},
		},
		{
			name: "read-only segment with bss is zeroed in its last file page",
			file: handFile(
				ptLoad(elf.PF_R, 0, 0, 0x10, P+1),
			),
			guard: p,
			want: []Region{
				wantGuardReg(-p, 0, true),
				wantFileReg(0, 0, p, 0, protR, 0x10),
				wantZeroReg(0, p, 2*p, protR),
				wantGuardReg(2*p, 3*p, false),
			},
		},
		{
			name: "empty PT_LOAD takes no room",
			file: handFile(
				ptLoad(elf.PF_R, 0, 0, 0x10, 0x10),
				ptLoad(elf.PF_R|elf.PF_W, 0x10, P+0x10, 0, 0),
				ptLoad(elf.PF_R|elf.PF_W, 0x10, P+0x10, 0x8, 0x8),
			),
			guard: p,
			want: []Region{
				wantGuardReg(-p, 0, true),
				wantFileReg(0, 0, p, 0, protR, p),
				wantFileReg(2, p, 2*p, 0, protRW, 2*p),
				wantGuardReg(2*p, 3*p, false),
			},
		},
		{
			name:  "write and execute allowed",
			file:  handFile(ptLoad(elf.PF_R|elf.PF_W|elf.PF_X, 0, 0, 0x10, 0x10)),
			opt:   PlanOptions{AllowWriteExec: true},
			guard: p,
			want: []Region{
				wantGuardReg(-p, 0, true),
				wantFileReg(0, 0, p, 0, protRWX, p),
				wantGuardReg(p, 2*p, false),
			},
		},
		{
			name:  "segment without flags is PROT_NONE",
			file:  handFile(ptLoad(0, 0, 0, 0x10, P+0x10)),
			guard: p,
			want: []Region{
				wantGuardReg(-p, 0, true),
				wantFileReg(0, 0, p, 0, unix.PROT_NONE, 0x10),
				wantZeroReg(0, p, 2*p, unix.PROT_NONE),
				wantGuardReg(2*p, 3*p, false),
			},
		},
	}
	// Guard sizes: 0 means one page, others are rounded up to pages.
	for _, g := range []struct {
		name        string
		size, guard uint64
	}{
		{"guard 0", 0, P},
		{"guard 1 byte", 1, P},
		{"guard 1 page", P, P},
		{"guard 3 pages", 3 * P, 3 * P},
		{"guard 3 pages minus 1", 3*P - 1, 3 * P},
		{"guard 3 pages plus 1", 3*P + 1, 4 * P},
		{"guard MaxGuard", MaxGuard, MaxGuard},
	} {
		gs := int64(g.guard)
		tests = append(tests, struct {
			name  string
			file  *File
			opt   PlanOptions
			guard int64
			want  []Region
		}{
			name:  g.name,
			file:  handFile(ptLoad(elf.PF_R, 0, 2*P, 0x10, 0x10)),
			opt:   PlanOptions{GuardSize: g.size},
			guard: gs,
			want: []Region{
				wantGuardReg(2*p-gs, 2*p, true),
				wantFileReg(0, 2*p, 3*p, 0, protR, 3*p),
				wantGuardReg(3*p, 3*p+gs, false),
			},
		})
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl, err := NewPlan(tt.file, tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(pl.Regions, tt.want) {
				t.Errorf("regions:\n%s\nwant:\n%s", regionsText(pl.Regions), regionsText(tt.want))
			}
			// The header fields follow from the regions.
			first, last := tt.want[0], tt.want[len(tt.want)-1]
			if pl.PageSize != P || pl.Guard != uint64(tt.guard) ||
				pl.Start != first.Start || pl.Size != uint64(last.End-first.Start) ||
				pl.MinVaddr != uint64(first.End) || pl.MaxVaddr != uint64(last.Start) ||
				pl.AllowWriteExec != tt.opt.AllowWriteExec {
				t.Errorf("plan header = {ps %#x guard %#x start %#x size %#x min %#x max %#x wx %v}",
					pl.PageSize, pl.Guard, pl.Start, pl.Size, pl.MinVaddr, pl.MaxVaddr, pl.AllowWriteExec)
			}
			if err := pl.check(); err != nil {
				t.Errorf("plan fails its own check: %v", err)
			}
			// Lookup finds every region by its first and last byte.
			for _, r := range pl.Regions {
				for _, off := range []int64{r.Start, r.End - 1} {
					if got, ok := pl.Lookup(off); !ok || got != r {
						t.Errorf("Lookup(%#x) = %v, %v; want %v", off, got, ok, r)
					}
				}
			}
			if _, ok := pl.Lookup(pl.Start - 1); ok {
				t.Errorf("Lookup before the reservation found a region")
			}
			if _, ok := pl.Lookup(pl.Start + int64(pl.Size)); ok {
				t.Errorf("Lookup after the reservation found a region")
			}
		})
	}
}

func regionsText(rs []Region) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString("\t" + r.String() + "\n")
	}
	return b.String()
}

func TestNewPlanRefuses(t *testing.T) {
	P := PageSize()
	tests := []struct {
		name     string
		file     *File
		opt      PlanOptions
		sentinel error
		field    string // FormatError.Field; "" when the error is not a FormatError
		value    uint64
	}{
		{
			name:     "write and execute",
			file:     handFile(ptLoad(elf.PF_R|elf.PF_W|elf.PF_X, 0, 0, 0x10, 0x10)),
			sentinel: ErrUnsupported, field: "phdr[1].p_flags", value: uint64(elf.PF_R | elf.PF_W | elf.PF_X),
		},
		{
			name: "write and execute in the second segment",
			file: handFile(
				ptLoad(elf.PF_R, 0, 0, 0x10, 0x10),
				ptLoad(elf.PF_W|elf.PF_X, P, P, 0x10, 0x10),
			),
			sentinel: ErrUnsupported, field: "phdr[2].p_flags", value: uint64(elf.PF_W | elf.PF_X),
		},
		{
			name:     "vaddr not congruent to offset",
			file:     handFile(ptLoad(elf.PF_R, 0x10, 0x20, 0x10, 0x10)),
			sentinel: ErrMalformed, field: "phdr[1].p_vaddr", value: 0x20,
		},
		{
			name:     "filesz above memsz",
			file:     handFile(ptLoad(elf.PF_R, 0, 0, 0x20, 0x10)),
			sentinel: ErrMalformed, field: "phdr[1].p_filesz", value: 0x20,
		},
		{
			name:     "vaddr plus memsz overflows",
			file:     handFile(ptLoad(elf.PF_R, 0, ^uint64(0)-(P-1), 0, P)),
			sentinel: ErrMalformed, field: "phdr[1].p_memsz", value: P,
		},
		{
			name:     "image beyond the address space",
			file:     handFile(ptLoad(elf.PF_R, 0, maxImageEnd-P, 0, P+1)),
			sentinel: ErrUnsupported, field: "phdr[1].p_memsz", value: P + 1,
		},
		{
			name:     "offset plus filesz overflows",
			file:     handFile(ptLoad(elf.PF_R, ^uint64(0)-(P-1), (^uint64(0)-(P-1))&(maxImageEnd/2-1), 2*P, 2*P)),
			sentinel: ErrMalformed, field: "phdr[1].p_filesz", value: 2 * P,
		},
		{
			name:     "file offset beyond any file",
			file:     handFile(ptLoad(elf.PF_R, 1<<62, 0, P, P)),
			sentinel: ErrMalformed, field: "phdr[1].p_offset", value: 1 << 62,
		},
		{
			name: "segments share a page",
			file: handFile(
				ptLoad(elf.PF_R|elf.PF_X, 0, 0, 0x100, 0x100),
				ptLoad(elf.PF_R|elf.PF_W, 0x200, 0x200, 0x10, 0x10),
			),
			sentinel: ErrUnsupported, field: "phdr[2].p_vaddr", value: 0x200,
		},
		{
			name: "bss shares a page with the next segment",
			file: handFile(
				ptLoad(elf.PF_R|elf.PF_W, 0, 0, 0x10, P+0x10),
				ptLoad(elf.PF_R, P+0x800, P+0x800, 0x10, 0x10),
			),
			sentinel: ErrUnsupported, field: "phdr[2].p_vaddr", value: P + 0x800,
		},
		{
			name: "segments overlap",
			file: handFile(
				ptLoad(elf.PF_R, 0, 0, 2*P, 2*P),
				ptLoad(elf.PF_R, P, P, 0x10, 0x10),
			),
			sentinel: ErrMalformed, field: "phdr[2].p_vaddr", value: P,
		},
		{
			name: "segments descending",
			file: handFile(
				ptLoad(elf.PF_R, 4*P, 4*P, 0x10, 0x10),
				ptLoad(elf.PF_R, 0, 0, 0x10, 0x10),
			),
			sentinel: ErrMalformed, field: "phdr[2].p_vaddr", value: 0,
		},
		{
			name:     "not a PT_LOAD",
			file:     handFile(Prog{Type: elf.PT_DYNAMIC, Memsz: 0x10}),
			sentinel: ErrMalformed, field: "phdr[1].p_type", value: uint64(elf.PT_DYNAMIC),
		},
		{
			name:     "no loadable segment",
			file:     handFile(),
			sentinel: ErrMalformed, field: "PT_LOAD", value: 0,
		},
		{
			name:     "only empty segments",
			file:     handFile(ptLoad(elf.PF_R, 0, 0, 0, 0)),
			sentinel: ErrMalformed, field: "PT_LOAD", value: 1,
		},
		{
			name:     "guard too large",
			file:     handFile(ptLoad(elf.PF_R, 0, 0, 0x10, 0x10)),
			opt:      PlanOptions{GuardSize: MaxGuard + 1},
			sentinel: ErrUnsupported,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl, err := NewPlan(tt.file, tt.opt)
			if err == nil {
				t.Fatalf("NewPlan succeeded:\n%s", regionsText(pl.Regions))
			}
			if pl != nil {
				t.Errorf("NewPlan returned a plan with error %v", err)
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("error %v is not %v", err, tt.sentinel)
			}
			var fe *FormatError
			if tt.field == "" {
				if errors.As(err, &fe) {
					t.Errorf("error %v is a FormatError, want a plain error", err)
				}
				return
			}
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T) is not a *FormatError", err, err)
			}
			if fe.Field != tt.field || fe.Value != tt.value {
				t.Errorf("FormatError field %q value %#x, want %q %#x (%v)", fe.Field, fe.Value, tt.field, tt.value, err)
			}
		})
	}
	if _, err := NewPlan(nil, PlanOptions{}); err == nil {
		t.Errorf("NewPlan(nil) succeeded")
	}
}

// TestNewPlanPageSizes plans one object for several page sizes: the
// layout follows the page size, and a segment congruent only modulo a
// smaller page is refused.
func TestNewPlanPageSizes(t *testing.T) {
	const k = 0x1000
	f := handFile(
		ptLoad(elf.PF_R|elf.PF_X, 0, 0, 0x1800, 0x1800),
		ptLoad(elf.PF_R|elf.PF_W, 0x1800+k, 0x8000+0x1800+k, 0x100, 0x100),
	)
	for _, ps := range []uint64{0x1000, 0x4000, 0x10000} {
		pl, err := newPlan(f, PlanOptions{}, ps)
		if ps == 0x10000 {
			// 0xa800 and 0x2800 differ modulo 64 KiB.
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Field != "phdr[2].p_vaddr" || !errors.Is(err, ErrMalformed) {
				t.Errorf("page size %#x: err = %v, want p_vaddr congruence error", ps, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("page size %#x: %v", ps, err)
		}
		text, _ := pageCeil(0x1800, ps)
		dataStart := pageFloor(0xa800, ps)
		dataEnd, _ := pageCeil(0xa900, ps)
		want := []Region{
			wantGuardReg(-int64(ps), 0, true),
			wantFileReg(0, 0, int64(text), 0, protRX, int64(text)),
			wantGuardReg(int64(text), int64(dataStart), false),
			wantFileReg(1, int64(dataStart), int64(dataEnd), pageFloor(0x2800, ps), protRW, int64(dataEnd)),
			wantGuardReg(int64(dataEnd), int64(dataEnd+ps), false),
		}
		if !reflect.DeepEqual(pl.Regions, want) {
			t.Errorf("page size %#x:\n%s\nwant:\n%s", ps, regionsText(pl.Regions), regionsText(want))
		}
	}
	if _, err := newPlan(f, PlanOptions{}, 0x1800); err == nil {
		t.Errorf("page size 0x1800 accepted")
	}
}

func TestPlanIsGap(t *testing.T) {
	P := PageSize()
	pl, err := NewPlan(handFile(
		ptLoad(elf.PF_R, 0, 0, 0x10, 0x10),
		ptLoad(elf.PF_R|elf.PF_W, 0x10, 4*P+0x10, 0x10, 0x10),
	), PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var gaps, guards int
	for _, r := range pl.Regions {
		if pl.IsGap(r) {
			gaps++
			if r.Start != int64(P) || r.End != int64(4*P) || r.Before {
				t.Errorf("gap %v", r)
			}
		} else if r.Kind == RegionGuard {
			guards++
		}
	}
	if gaps != 1 || guards != 2 {
		t.Errorf("%d gaps and %d guards, want 1 and 2", gaps, guards)
	}
}

func TestRegionKindString(t *testing.T) {
	for k, want := range map[RegionKind]string{RegionFile: "file", RegionZero: "zero", RegionGuard: "guard", 7: "RegionKind(7)"} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(k), got, want)
		}
	}
	for prot, want := range map[int]string{0: "---", protR: "r--", protRX: "r-x", protRW: "rw-", protRWX: "rwx", unix.PROT_EXEC: "--x"} {
		if got := ProtString(prot); got != want {
			t.Errorf("ProtString(%#x) = %q, want %q", prot, got, want)
		}
	}
}

// TestPlanCheck alters valid plans one field at a time: the mapper's
// check must refuse each.
func TestPlanCheck(t *testing.T) {
	P := PageSize()
	base := func() *Plan {
		pl, err := NewPlan(handFile(
			ptLoad(elf.PF_R|elf.PF_X, 0, 0, 0x10, 0x10),
			ptLoad(elf.PF_R|elf.PF_W, P, 2*P, 0x10, 2*P),
		), PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return pl
	}
	if err := base().check(); err != nil {
		t.Fatalf("valid plan refused: %v", err)
	}
	tests := []struct {
		name  string
		alter func(p *Plan)
	}{
		{"page size", func(p *Plan) { p.PageSize *= 2 }},
		{"size", func(p *Plan) { p.Size += P }},
		{"start", func(p *Plan) { p.Start -= int64(P) }},
		{"unaligned guard", func(p *Plan) { p.Guard++ }},
		{"max below min", func(p *Plan) { p.MaxVaddr = p.MinVaddr }},
		{"region hole", func(p *Plan) { p.Regions = append(p.Regions[:1:1], p.Regions[2:]...) }},
		{"unaligned region", func(p *Plan) { p.Regions[1].End += 1; p.Regions[2].Start += 1 }},
		{"unaligned offset", func(p *Plan) { p.Regions[3].Offset += 8 }},
		{"zero-from before the last page", func(p *Plan) { p.Regions[3].ZeroFrom = p.Regions[3].Start - 1 }},
		{"zero-from past the end", func(p *Plan) { p.Regions[3].ZeroFrom = p.Regions[3].End + 1 }},
		{"write and execute", func(p *Plan) { p.Regions[1].Prot = protRWX }},
		{"unknown prot bits", func(p *Plan) { p.Regions[1].Prot |= 0x100 }},
		{"guard with access", func(p *Plan) { p.Regions[0].Prot = protR }},
		{"file region in a guard", func(p *Plan) { p.Regions[0].Kind = RegionFile }},
		{"zero region in a guard", func(p *Plan) { p.Regions[len(p.Regions)-1].Kind = RegionZero }},
		{"unknown kind", func(p *Plan) { p.Regions[1].Kind = 9 }},
		{"regions short", func(p *Plan) { p.Regions = p.Regions[:len(p.Regions)-1] }},
	}
	for _, tt := range tests {
		pl := base()
		tt.alter(pl)
		if err := pl.check(); err == nil {
			t.Errorf("%s: altered plan accepted:\n%s", tt.name, regionsText(pl.Regions))
		}
	}
	var nilPlan *Plan
	if err := nilPlan.check(); err == nil {
		t.Errorf("nil plan accepted")
	}
}
