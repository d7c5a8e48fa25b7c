package loader

import (
	"debug/elf"
	"errors"

	"golang.org/x/sys/unix"
)

// DF_1_NODELETE, as glibc honours it: an object marked so (linked with
// -z nodelete) is never unloaded by dlclose, and a later dlopen of it
// gets the same object, its state intact. Here: a plugin whose file is
// marked so stays resident when it is closed; every Load of the same file
// (by path, while the Loader is open) is a Plugin on that one resident
// instance, whose constructors ran once; a shared dependency marked so
// stays loaded when nothing holds it any more. Loader.Close finalises and
// unloads them all, last. (LoadBytes has no file to find again: such an
// image is unloaded at Close like any other.)

// nodelete reports whether o is marked DF_1_NODELETE.
func (o *object) nodelete() bool { return o.p.file.Dynamic.Flags1&elf.DF_1_NODELETE != 0 }

// resident is a DF_1_NODELETE plugin kept by its Loader: its root object
// and the closure its first Load took.
type resident struct {
	root    *object
	closure []*object
}

// residentPlugin returns a new Plugin on the resident instance of the file
// at path, or nil when there is none. l.mu is held.
func (l *Loader) residentPlugin(path string) *Plugin {
	if len(l.resident) == 0 {
		return nil
	}
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil {
		return nil
	}
	r := l.resident[statKey(&st)]
	if r == nil {
		return nil
	}
	pl := newPlugin(l, r.root, r.closure)
	l.plugins[pl] = struct{}{}
	return pl
}

// keepResident records pl's root as resident when its file is marked
// DF_1_NODELETE (key is the file's identity). l.mu is held.
func (l *Loader) keepResident(pl *Plugin, key fileKey) {
	if !pl.obj.nodelete() || pl.obj.path == "" {
		return
	}
	if l.resident == nil {
		l.resident = map[fileKey]*resident{}
	}
	l.resident[key] = &resident{root: pl.obj, closure: pl.closure}
	pl.obj.residentKey = key
}

// isResident reports whether o is the root of a resident plugin. l.mu is held.
func (l *Loader) isResident(o *object) bool {
	r := l.resident[o.residentKey]
	return r != nil && r.root == o
}

// keep makes o, a shared DF_1_NODELETE object nothing holds, resident
// until the Loader closes. It holds a reference on each object it needs,
// as glibc keeps a NODELETE object's dependencies loaded: its
// destructors, run last, may call them. l.mu is held.
func (l *Loader) keep(o *object) {
	o.kept = true
	l.kept = append(l.kept, o)
	for _, d := range o.scope[1:] {
		if d.shared {
			d.refs++
		}
	}
}

// closeResident finalises and unloads the resident plugins and the
// DF_1_NODELETE dependencies nothing holds, once every plugin is closed
// (Loader.Close): every destructor runs (latest initialised first) before
// any of their images is retired. l.mu is held.
func (l *Loader) closeResident() error {
	var errs []error
	for k, r := range l.resident {
		delete(l.resident, k)
		if err := l.runFini(r.root); err != nil {
			errs = append(errs, err)
		}
		if err := l.release(r.closure); err != nil { // before the root's retirement, as in Plugin.Close
			errs = append(errs, err)
		}
		l.retire(r.root)
	}
	for _, r := range l.heldGlobal { // the same, for global plugins kept (global.go)
		if err := l.runFini(r.root); err != nil {
			errs = append(errs, err)
		}
		if err := l.release(r.closure); err != nil {
			errs = append(errs, err)
		}
		l.retire(r.root)
	}
	l.heldGlobal = nil
	// The kept objects, then what only they held.
	dead := l.kept
	l.kept = nil
	for _, o := range dead {
		for _, d := range o.scope[1:] {
			if d.shared && !d.kept {
				d.refs--
				if d.refs == 0 {
					dead = append(dead, d)
				}
			}
		}
	}
	if err := l.runFinis(dead); err != nil {
		errs = append(errs, err)
	}
	for _, o := range dead {
		l.forget(o)
		l.retire(o)
	}
	return errors.Join(errs...)
}
