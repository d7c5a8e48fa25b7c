package pcall

import (
	"sort"
	"sync"
	"sync/atomic"
)

// Describer tells the fault path about one registered address range.
type Describer interface {
	// Name is the plugin name used in reports.
	Name() string
	// DescribeAddr says what addr (inside the range) is, e.g.
	// "segment 1 (R-X) of NAME", "guard page after NAME" or
	// "unloaded plugin NAME".
	DescribeAddr(addr uintptr) string
	// SymbolAt returns the symbol nearest below pc and pc's offset from it.
	SymbolAt(pc uintptr) (name string, off uintptr, ok bool)
}

// Registration is an address range [lo, hi) registered with a Describer.
type Registration struct {
	lo, hi uintptr
	d      atomic.Pointer[describerBox]
	once   sync.Once
}

type describerBox struct{ d Describer }

func (r *Registration) describer() Describer { return r.d.Load().d }

var (
	regMu sync.Mutex                      // serialises writers
	regs  atomic.Pointer[[]*Registration] // sorted by lo; replaced, never modified
)

// Register records that [lo, hi) (an image's reservation, guard pages
// included) is described by d, for fault reports. d must not be nil. An
// empty range (hi <= lo) is not entered in the table. Registrations must
// not overlap (if they do, an address is attributed to the one starting
// last at or below it, even when that one ends before it).
func Register(lo, hi uintptr, d Describer) *Registration {
	if d == nil {
		panic("sandbox: Register with nil Describer")
	}
	r := &Registration{lo: lo, hi: hi}
	r.d.Store(&describerBox{d})
	if hi <= lo {
		r.once.Do(func() {})
		return r
	}
	regMu.Lock()
	defer regMu.Unlock()
	var old []*Registration
	if p := regs.Load(); p != nil {
		old = *p
	}
	i := sort.Search(len(old), func(i int) bool { return old[i].lo > lo })
	next := make([]*Registration, 0, len(old)+1)
	next = append(next, old[:i]...)
	next = append(next, r)
	next = append(next, old[i:]...)
	regs.Store(&next)
	return r
}

// Unregister removes r from the table. It is safe to call twice.
func (r *Registration) Unregister() {
	r.once.Do(func() {
		regMu.Lock()
		defer regMu.Unlock()
		p := regs.Load()
		if p == nil {
			return
		}
		old := *p
		next := make([]*Registration, 0, len(old))
		for _, x := range old {
			if x != r {
				next = append(next, x)
			}
		}
		regs.Store(&next)
	})
}

// Replace makes d describe r's range from now on, e.g. a tombstone
// describer ("unloaded plugin NAME") once the plugin is closed. d must not
// be nil.
func (r *Registration) Replace(d Describer) {
	if d == nil {
		panic("sandbox: Replace with nil Describer")
	}
	r.d.Store(&describerBox{d})
}

// lookup returns the registration containing addr, or nil.
func lookup(addr uintptr) *Registration {
	p := regs.Load()
	if p == nil {
		return nil
	}
	rs := *p
	i := sort.Search(len(rs), func(i int) bool { return rs[i].lo > addr })
	if i > 0 && addr < rs[i-1].hi {
		return rs[i-1]
	}
	return nil
}
