package loader

import (
	"fmt"
)

// FuncAt returns the C function pointer addr, which the plugin handed
// out (a descriptor table, a vtable, a registration struct), as a Func
// called through sig (nil: only Call, with integer arguments). Its calls
// have the plugin's full protections, as those of a named Func: a fault
// is returned as the error and quarantines the plugin, the context
// bounds the call, and Close waits for the call in flight; an isolated
// plugin's pointer is an address in its process and is called there.
// Typed bindings (Bind0...) are made from it as from any Func.
//
// runplug cannot know that addr is a function of this plugin: a wrong
// pointer faults (or, in process, runs whatever is there), as it would in
// C. A zero addr is refused with an error wrapping ErrBadAddress.
func (p *Plugin) FuncAt(addr uintptr, sig *Signature) (*Func, error) {
	name := fmt.Sprintf("func@%#x", addr)
	if addr == 0 {
		return nil, fmt.Errorf("loader: %s in %s: a NULL function pointer: %w", name, p.obj.name, ErrBadAddress)
	}
	if err := p.refusal(p.flags.Load() & stClosing); err != nil {
		return nil, fmt.Errorf("loader: %s in %s: %w", name, p.obj.name, err)
	}
	if sig != nil && p.remote != nil && sig.prog.x87 {
		return nil, fmt.Errorf("loader: bind %s in %s: %w", name, p.obj.name, errX87Remote)
	}
	f := &Func{p: p, name: name, addr: addr, sig: sig}
	if p.remote != nil {
		h, err := p.remoteFuncAt(addr)
		if err != nil {
			return nil, fmt.Errorf("loader: %s in %s: %w", name, p.obj.name, err)
		}
		f.handle = h
	}
	return f, nil
}

// remoteAddrs is what an Isolation's Remote implements to call function
// pointers: FuncAt gives the handle of the function at addr in the
// plugin's process, as Lookup gives a name's.
type remoteAddrs interface {
	FuncAt(addr uintptr) (handle uint32, err error)
}

// remoteFuncAt is FuncAt's handle in an isolated plugin.
func (p *Plugin) remoteFuncAt(addr uintptr) (uint32, error) {
	ra, ok := p.remote.(remoteAddrs)
	if !ok {
		return 0, fmt.Errorf("the isolation cannot call function pointers: %w", ErrUnsupported)
	}
	p.rmu.RLock()
	defer p.rmu.RUnlock()
	return ra.FuncAt(addr)
}
