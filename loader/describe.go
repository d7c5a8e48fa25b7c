package loader

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/runplug/runplug/internal/elfimage"
)

// describer tells the sandbox's fault path about a mapped object.
type describer struct {
	o    *object
	once sync.Once
	syms []symEntry      // defined symbols by address, built on the first fault
	tab  elfimage.SymTab // the object's symbols, whose names are read when asked
}

type symEntry struct {
	addr  uint64 // relative to the load base
	index int    // in tab
}

// Name returns the object's name.
func (d *describer) Name() string { return d.o.name }

// DescribeAddr says what addr is: "segment 1 (R-X) of NAME", "guard page
// before NAME", "guard page after NAME" or "gap between segments of NAME".
func (d *describer) DescribeAddr(addr uintptr) string {
	o := d.o
	r, ok := o.img.RegionAt(addr)
	switch {
	case !ok:
		return "outside " + o.name
	case r.Kind != elfimage.RegionGuard:
		return fmt.Sprintf("segment %d (%s) of %s", r.Segment, strings.ToUpper(elfimage.ProtString(r.Prot)), o.name)
	case r.Before:
		return "guard page before " + o.name
	case o.p.plan.IsGap(r):
		return "gap between segments of " + o.name
	}
	return "guard page after " + o.name
}

// SymbolAt returns the defined symbol nearest at or below pc.
func (d *describer) SymbolAt(pc uintptr) (string, uintptr, bool) {
	o := d.o
	d.once.Do(func() {
		d.tab = o.syms
		for i := 1; i < d.tab.Len(); i++ {
			if value, _, _, defined := d.tab.Value(i); defined {
				d.syms = append(d.syms, symEntry{value, i})
			}
		}
		sort.Slice(d.syms, func(i, j int) bool { return d.syms[i].addr < d.syms[j].addr })
	})
	rel := uint64(pc) - o.base
	if uint64(pc) < o.base || rel >= o.p.plan.MaxVaddr {
		return "", 0, false
	}
	i := sort.Search(len(d.syms), func(i int) bool { return d.syms[i].addr > rel })
	if i == 0 {
		return "", 0, false
	}
	s := d.syms[i-1]
	name, err := d.tab.Name(s.index)
	if err != nil {
		return "", 0, false
	}
	return name, uintptr(rel - s.addr), true
}

// tombstone describes the reserved range of a closed object.
type tombstone struct{ name string }

func (t tombstone) Name() string                             { return t.name }
func (t tombstone) DescribeAddr(uintptr) string              { return "unloaded plugin " + t.name }
func (t tombstone) SymbolAt(uintptr) (string, uintptr, bool) { return "", 0, false }
