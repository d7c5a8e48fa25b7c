package loader

import (
	"context"
	"fmt"
)

// LoadOptions.Global: a plugin whose exports resolve the undefined
// symbols of the plugins loaded after it, as dlopen's RTLD_GLOBAL makes
// an object part of the global scope. Such a root joins the same list as
// the objects plugin code opens with RTLD_GLOBAL (dlState.global), so
// relocation and dlsym find it where they find those: after the loading
// object's own scope, in the order objects became global, with the
// binding recorded (dlHold) as glibc records a dependency on an object a
// relocation bound to through the global scope.

// makeGlobal puts pl's root (and through its scope its dependencies) in
// the global scope. One of the host's glibc libraries is global already
// (runplug resolves against them last). l.mu is not held.
func (l *Loader) makeGlobal(pl *Plugin) {
	l.mu.Lock()
	defer l.mu.Unlock()
	o := pl.obj
	if o.scope == nil || o.global {
		return
	}
	o.global = true
	d := &l.dl
	d.mu.Lock()
	d.global = append(d.global, o)
	d.mu.Unlock()
	pl.log.Debug("plugin made global", "plugin", o.name)
}

// dropGlobal takes a global plugin's root out of the global scope (its
// Close) and reports whether a live object's imports are bound to it: the
// image must then stay. l.mu is held.
func (l *Loader) dropGlobal(o *object) (held bool) {
	if !o.global {
		return false
	}
	o.global = false
	d := &l.dl
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, g := range d.global {
		if g == o {
			d.global = append(d.global[:i:i], d.global[i+1:]...)
			break
		}
	}
	for user, gs := range d.holds {
		if user == o {
			continue
		}
		for _, g := range gs {
			if g == o {
				return true
			}
		}
	}
	return false
}

// errGlobalIsolated is the error of LoadWith with Global for a Loader
// that isolates its plugins.
var errGlobalIsolated = fmt.Errorf("LoadOptions.Global for an isolated plugin: each runs alone in its own process, where no later plugin can bind to it: %w", ErrUnsupported)

// loadGlobal is LoadWith's Global step: refused isolated, else the load
// and then makeGlobal.
func (l *Loader) loadGlobal(ctx context.Context, path string, st stateSource) (*Plugin, error) {
	if l.opts.Isolation != nil {
		return nil, fmt.Errorf("loader: load %s: %w", path, errGlobalIsolated)
	}
	pl, err := l.load(ctx, path, st)
	if err != nil {
		return nil, err
	}
	l.makeGlobal(pl)
	return pl, nil
}
