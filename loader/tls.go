package loader

import (
	"fmt"

	"github.com/runplug/runplug/sandbox"
)

// linkTLS finishes the relocation of the new objects (order) whose passes
// deferred relocations naming where thread-local storage lives (see
// tlsReloc): every module that initial-exec code addresses (a TPOFF
// relocation's symbol, or the object itself for symbol 0) gets its room in
// static TLS (sandbox.TLSModule.MakeStatic: glibc's surplus, initialised
// in every thread from the template, relocated by now), then the deferred
// relocations are written and RELRO is sealed. A module already loaded and
// used with dynamic TLS cannot move (threads may hold blocks of it):
// initial-exec access to it from a new object is refused, as glibc refuses
// it (FORCED_DYNAMIC_TLS_OFFSET). l.mu is held.
func (l *Loader) linkTLS(order []*object) error {
	var byID map[uint64]*object
	for _, o := range order {
		if o.late == nil {
			continue
		}
		for k := range o.late.tlsLate {
			t := &o.late.tlsLate[k]
			if t.kind == relocTLSDesc {
				continue // either model serves a descriptor
			}
			if _, ok := sandbox.TLSStaticOffset(t.sv.mod); ok {
				continue
			}
			if byID == nil {
				byID = make(map[uint64]*object, len(order))
				for _, d := range order {
					if d.tls != nil {
						byID[d.tls.ID()] = d
					}
				}
			}
			d := byID[t.sv.mod]
			if d == nil {
				return fmt.Errorf("%s: initial-exec access to the thread-local storage of %s, which is already loaded with dynamic TLS and cannot move to static TLS: %w",
					o.name, l.tlsOwnerName(t.sv.mod), ErrTLS)
			}
			if err := d.tls.MakeStatic(); err != nil {
				return fmt.Errorf("%s: static TLS for %s (initial-exec code in %s): %w", d.name, d.name, o.name, err)
			}
			l.log.Debug("static TLS", "object", d.name, "size", d.p.file.TLS.Memsz, "for", o.name)
		}
	}
	for _, o := range order {
		if o.late == nil {
			continue
		}
		if err := o.late.applyTLS(sandbox.TLSStaticOffset); err != nil {
			return err
		}
		o.late = nil
		if err := o.sealRelocated(); err != nil {
			return err
		}
	}
	return nil
}

// tlsOwnerName names the loaded shared object whose TLS module is id.
func (l *Loader) tlsOwnerName(id uint64) string {
	for _, o := range l.byKey {
		if o.tls != nil && o.tls.ID() == id {
			return o.name
		}
	}
	return fmt.Sprintf("TLS module %d", id)
}
