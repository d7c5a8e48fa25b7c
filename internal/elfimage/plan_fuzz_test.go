package elfimage

import (
	"debug/elf"
	"encoding/binary"
	"testing"
)

// FuzzNewPlan plans arbitrary program headers (up to four PT_LOADs
// decoded from the input) and checks the planner's invariant: either an
// error and no plan, or a plan that passes the mapper's own check, whose
// regions cover every segment exactly once with the segment's protection.
// Small plans are also mapped from bytes and released.
func FuzzNewPlan(f *testing.F) {
	P := PageSize()
	enc := func(loads ...Prog) []byte {
		var b []byte
		for _, l := range loads {
			b = binary.LittleEndian.AppendUint32(b, uint32(l.Flags))
			for _, v := range []uint64{l.Off, l.Vaddr, l.Filesz, l.Memsz} {
				b = binary.LittleEndian.AppendUint64(b, v)
			}
		}
		return b
	}
	f.Add(enc(ptLoad(elf.PF_R|elf.PF_X, 0, 0, P+100, P+100)), uint64(0))
	f.Add(enc(ptLoad(elf.PF_R|elf.PF_X, 0, 0, P+0x100, P+0x100), ptLoad(elf.PF_R|elf.PF_W, 2*P+0x10, 3*P+0x10, 0x20, 0x40)), uint64(1))
	f.Add(enc(ptLoad(elf.PF_R, 0, 0, 0x200, 0x200), ptLoad(elf.PF_R|elf.PF_W, P, P, 0x100, 3*P)), 3*P)
	f.Add(enc(ptLoad(elf.PF_R, 0x123, 5*P+0x123, 2*P, 2*P)), 3*P+1)
	f.Add(enc(ptLoad(elf.PF_R|elf.PF_W|elf.PF_X, 0, 0, 0x10, 0x10)), uint64(0))
	f.Add(enc(ptLoad(elf.PF_R, 0, 0, 0x100, 0x100), ptLoad(elf.PF_R|elf.PF_W, 0x200, 0x200, 0x10, 0x10)), uint64(0))
	f.Add(enc(ptLoad(elf.PF_R, 0, maxImageEnd-P, 0, P+1)), uint64(0))
	f.Add(enc(ptLoad(elf.PF_R, ^uint64(0)-(P-1), 0, 2*P, 2*P)), uint64(0))
	f.Fuzz(func(t *testing.T, b []byte, guard uint64) {
		const rec = 4 + 4*8
		var loads []Prog
		for len(b) >= rec && len(loads) < 4 {
			fl := elf.ProgFlag(binary.LittleEndian.Uint32(b))
			v := func(i int) uint64 { return binary.LittleEndian.Uint64(b[4+8*i:]) }
			loads = append(loads, Prog{Type: elf.PT_LOAD, Flags: fl, Off: v(0), Vaddr: v(1), Filesz: v(2), Memsz: v(3), Align: P})
			b = b[rec:]
		}
		file := handFile(loads...)
		allowWX := guard&1 != 0
		p, err := NewPlan(file, PlanOptions{GuardSize: guard % (4 * P), AllowWriteExec: allowWX})
		if err != nil {
			if p != nil {
				t.Fatalf("plan and error %v", err)
			}
			return
		}
		if err := p.check(); err != nil {
			t.Fatalf("plan fails the mapper's check: %v\n%s", err, regionsText(p.Regions))
		}
		// Every byte of every segment is in a region of that segment with
		// its protection; file regions map it from the right offset.
		for i, ld := range loads {
			if ld.Memsz == 0 {
				continue
			}
			for _, a := range []uint64{ld.Vaddr, ld.Vaddr + ld.Memsz - 1} {
				r, ok := p.Lookup(int64(a))
				if !ok || r.Segment != i || r.Prot != progProt(ld.Flags) {
					t.Fatalf("segment %d byte %#x in %v (%v)", i, a, r, ok)
				}
				if r.Kind == RegionFile && a < ld.Vaddr+ld.Filesz && r.Offset+uint64(int64(a)-r.Start) != ld.Off+(a-ld.Vaddr) {
					t.Fatalf("segment %d byte %#x maps from %#x", i, a, r.Offset+uint64(int64(a)-r.Start))
				}
				if a >= ld.Vaddr+ld.Filesz && r.Kind == RegionFile && int64(a) < r.ZeroFrom {
					t.Fatalf("segment %d .bss byte %#x is not zeroed by %v", i, a, r)
				}
			}
		}
		// Map small plans from zero-filled bytes of the size they need.
		var need uint64
		for _, ld := range loads {
			if ld.Filesz > 0 {
				need = max(need, ld.Off+ld.Filesz)
			}
		}
		if p.Size > 64<<20 || need > 1<<20 {
			return
		}
		im, err := MapBytes(p, make([]byte, need))
		if err != nil {
			t.Fatalf("MapBytes of a valid plan: %v", err)
		}
		if err := im.Unmap(); err != nil {
			t.Fatal(err)
		}
	})
}
