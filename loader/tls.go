package loader

import (
	"fmt"
	"slices"

	"github.com/runplug/runplug/internal/tlsrt"
)

// linkTLS finishes the relocation of the new objects (order) whose passes
// deferred relocations naming where thread-local storage lives (see
// tlsReloc): every module that initial-exec code addresses (a TPOFF
// relocation's symbol, or the object itself for symbol 0) gets its room in
// static TLS (tlsrt.TLSModule.MakeStatic: glibc's surplus, initialised
// in every thread from the template, relocated by now), then the deferred
// relocations are written and RELRO is sealed. A module already loaded and
// used with dynamic TLS cannot move (threads may hold blocks of it):
// initial-exec access to it from a new object is refused, as glibc refuses
// it (FORCED_DYNAMIC_TLS_OFFSET). l.mu is held.
func (l *Loader) linkTLS(order []*object) error {
	// Which modules initial-exec code needs in static TLS, and who needs
	// each first.
	var need map[uint64]*object
	for _, o := range order {
		if o.late == nil {
			continue
		}
		for k := range o.late.tlsLate {
			t := &o.late.tlsLate[k]
			if t.kind == relocTLSDesc || need[t.sv.mod] != nil {
				continue // either model serves a descriptor
			}
			if _, ok := tlsrt.TLSStaticOffset(t.sv.mod); ok {
				continue
			}
			if need == nil {
				need = map[uint64]*object{}
			}
			need[t.sv.mod] = o
		}
	}
	for id, by := range need {
		if !slices.ContainsFunc(order, func(d *object) bool { return d.tls != nil && d.tls.ID() == id }) {
			return fmt.Errorf("%s: initial-exec access to the thread-local storage of %s, which is already loaded with dynamic TLS and cannot move to static TLS: %w",
				by.name, l.tlsOwnerName(id), ErrTLS)
		}
	}
	// Carved in initialisation order (dependencies first): Close
	// releases the other way, and glibc takes room back from the end.
	for _, d := range order {
		if d.tls == nil || need[d.tls.ID()] == nil {
			continue
		}
		by := need[d.tls.ID()]
		delete(need, d.tls.ID())
		if err := d.tls.MakeStatic(); err != nil {
			if by != d {
				return fmt.Errorf("%s (for initial-exec code in %s): %w", d.name, by.name, err)
			}
			return fmt.Errorf("%s: %w", d.name, err)
		}
		l.log.Debug("static TLS", "object", d.name, "size", d.p.file.TLS.Memsz, "for", by.name)
	}
	for _, o := range order {
		if o.late == nil {
			continue
		}
		if err := o.late.applyTLS(tlsrt.TLSStaticOffset); err != nil {
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
	for p := range l.plugins { // and the objects private to an instance
		if p.obj == nil || p.obj.inst == nil {
			continue
		}
		for _, o := range p.obj.inst.byKey {
			if o.tls != nil && o.tls.ID() == id {
				return o.name
			}
		}
	}
	return fmt.Sprintf("TLS module %d", id)
}
