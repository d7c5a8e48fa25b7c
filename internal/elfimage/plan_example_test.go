package elfimage_test

import (
	"debug/elf"
	"fmt"

	"github.com/runplug/runplug/internal/elfimage"
)

// A plan for a typical shared object: code, then data whose .bss reaches
// past its last file page. Sizes are in pages so that the example holds
// for any page size.
func ExampleNewPlan() {
	P := elfimage.PageSize()
	text := elfimage.Prog{Type: elf.PT_LOAD, Flags: elf.PF_R | elf.PF_X, Off: 0, Vaddr: 0, Filesz: P + 0x80, Memsz: P + 0x80}
	data := elfimage.Prog{Type: elf.PT_LOAD, Flags: elf.PF_R | elf.PF_W, Off: 2 * P, Vaddr: 3 * P, Filesz: 0x40, Memsz: 2 * P}
	f := &elfimage.File{Loads: []elfimage.Prog{text, data}}

	p, err := elfimage.NewPlan(f, elfimage.PlanOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("reservation: %d pages from page %d\n", p.Size/P, p.Start/int64(P))
	for _, r := range p.Regions {
		fmt.Printf("%-5s pages [%d,%d) %s", r.Kind, r.Start/int64(P), r.End/int64(P), elfimage.ProtString(r.Prot))
		switch {
		case r.Kind == elfimage.RegionFile:
			fmt.Printf(" file page %d", r.Offset/P)
			if r.ZeroFrom < r.End {
				fmt.Printf(", zeroed from byte %#x of its last page", r.ZeroFrom%int64(P))
			}
		case p.IsGap(r):
			fmt.Print(" (gap between segments)")
		}
		fmt.Println()
	}
	// Output:
	// reservation: 7 pages from page -1
	// guard pages [-1,0) ---
	// file  pages [0,2) r-x file page 0
	// guard pages [2,3) --- (gap between segments)
	// file  pages [3,4) rw- file page 2, zeroed from byte 0x40 of its last page
	// zero  pages [4,5) rw-
	// guard pages [5,6) ---
}
