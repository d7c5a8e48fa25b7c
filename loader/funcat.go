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
	if sig != nil && p.be.isolated() && sig.prog.remoteRefusal() != nil {
		return nil, fmt.Errorf("loader: bind %s in %s: %w", name, p.obj.name, sig.prog.remoteRefusal())
	}
	h, err := p.be.funcAt(addr)
	if err != nil {
		return nil, fmt.Errorf("loader: %s in %s: %w", name, p.obj.name, err)
	}
	return &Func{p: p, name: name, addr: addr, sig: sig, handle: h}, nil
}
