package elfimage

import (
	"debug/elf"
	"errors"
	"fmt"
	"testing"

	"github.com/runplug/runplug/internal/plugintest"
)

// aligned returns a PT_LOAD like ptLoad's with p_align a.
func aligned(p Prog, a uint64) Prog { p.Align = a; return p }

// TestPlanAlign: the load base's alignment is the largest PT_LOAD p_align,
// never less than the page size, for 4, 16 and 64 KiB pages (AArch64
// kernels use all three; its linkers align segments to 64 KiB).
func TestPlanAlign(t *testing.T) {
	const k64 = 0x10000
	text := ptLoad(elf.PF_R|elf.PF_X, 0, 0, 0x1800, 0x1800)
	data := ptLoad(elf.PF_R|elf.PF_W, 0x1800, 0x1800+4*k64, 0x100, 0x100)
	for _, tt := range []struct {
		ps, textAlign, dataAlign, want uint64
	}{
		{0x1000, 0x1000, 0x1000, 0x1000},
		{0x1000, k64, k64, k64},          // an AArch64 object on a 4 KiB kernel
		{0x4000, 0x1000, 0x1000, 0x4000}, // never below the page size
		{0x4000, k64, 8, k64},            // the largest p_align wins
		{k64, k64, k64, k64},             // a 64 KiB kernel
		{0x1000, 1 << 21, k64, 1 << 21},
		{0x1000, 0, 0, 0x1000}, // p_align 0 and 1: no constraint
		{0x1000, 1, 1, 0x1000},
	} {
		f := handFile(aligned(text, tt.textAlign), aligned(data, tt.dataAlign))
		p, err := newPlan(f, PlanOptions{}, tt.ps)
		if err != nil {
			t.Errorf("page size %#x, p_align %#x and %#x: %v", tt.ps, tt.textAlign, tt.dataAlign, err)
			continue
		}
		if p.Align != tt.want {
			t.Errorf("page size %#x, p_align %#x and %#x: Align = %#x, want %#x", tt.ps, tt.textAlign, tt.dataAlign, p.Align, tt.want)
		}
	}
	for _, tt := range []struct {
		align    uint64
		sentinel error
	}{
		{0x3000, ErrMalformed},
		{MaxLoadAlign * 2, ErrUnsupported},
		{1 << 63, ErrUnsupported},
	} {
		_, err := newPlan(handFile(text, aligned(data, tt.align)), PlanOptions{}, 0x1000)
		var fe *FormatError
		if !errors.Is(err, tt.sentinel) || !errors.As(err, &fe) || fe.Field != "phdr[2].p_align" || fe.Value != tt.align {
			t.Errorf("p_align %#x: %v, want %v naming phdr[2].p_align", tt.align, err, tt.sentinel)
		}
	}
}

// TestMapAligned maps a plugin whose PT_LOADs are made to ask for 2 MiB
// alignment, from its file and from its bytes, several times: each
// image's base is a multiple of 2 MiB (the chance of that by luck is 1 in
// 512 per mapping at 4 KiB pages), its layout is the plan's, and Unmap
// releases the whole reservation.
func TestMapAligned(t *testing.T) {
	const align = 1 << 21
	obj := loadMapObject(t, plugintest.Build(t, "basic"))
	for i := range obj.file.Loads {
		obj.file.Loads[i].Align = align
	}
	p, err := NewPlan(obj.file, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Align != align {
		t.Fatalf("Align = %#x, want %#x", p.Align, align)
	}
	for i := range 4 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			w := watchReleases(t)
			var im *Image
			if i%2 == 0 {
				im = mapFileT(t, p, obj.path)
			} else if im, err = MapBytes(p, obj.data); err != nil {
				t.Fatal(err)
			}
			if im.Base()%align != 0 {
				t.Errorf("base %#x is not a multiple of %#x", im.Base(), align)
			}
			if i%2 == 0 {
				checkLayout(t, im, obj.path)
			}
			checkSegmentBytes(t, im, obj)
			if err := im.Unmap(); err != nil {
				t.Fatal(err)
			}
			w.check(t, "Unmap", 1)
		})
	}
}
