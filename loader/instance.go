package loader

// One copy per opener, as glibc has one copy per namespace. Every Load is
// an independent instance of its object, which the Loader's tables of
// shared objects (byName, byKey) do not hold: a library that needed it
// back, or that plugin code opened by its name, would otherwise get a
// second copy with its own globals (libreg.so dlopens mod.so, which needs
// libreg.so and registers itself with it; GIO's modules need libgio;
// OpenSSL's providers need libcrypto).
//
// So each instance has a namespace of its own, consulted before the
// Loader's: its root answers to its name (soname, else the name it was
// loaded by) and to its file identity, and the objects loaded on its
// behalf that reach it through their dependencies are private to it
// (registered in the instance, not the Loader: another instance of the
// same file gets its own). Objects that do not reach it are shared by the
// whole Loader as before. docs/NAMESPACES.md states the rule for users.

// instance is a plugin instance's namespace.
type instance struct {
	root   *object
	byName map[string]*object  // private shared objects (and aliases of root) by name
	byKey  map[fileKey]*object // private shared objects by file identity
}

func newInstance(root *object) *instance {
	return &instance{root: root, byName: map[string]*object{}, byKey: map[fileKey]*object{}}
}

// named returns the object called name for a load on behalf of ns (nil
// for the Loader's own namespace): ns's root or one of its private
// objects, else a shared object of the Loader. l.mu is held.
func (l *Loader) named(ns *instance, name string) *object {
	if ns != nil {
		if ns.root.name == name {
			return ns.root
		}
		if o := ns.byName[name]; o != nil {
			return o
		}
	}
	return l.byName[name]
}

// opener returns the instance a dlopen by caller resolves in: caller's
// own (a plugin's root, or an object private to an instance), else, for
// an object the Loader shares (GIO's modules are opened by libgmodule,
// shared, on behalf of libgio), the one instance whose call is running
// on this thread and whose scope holds caller; nil (the Loader's
// namespace) when there is none or more than one. It reads l.plugins, so
// l.mu must be held unless the caller runs under the Loader's lock
// already (dlState.underLock), which is the same lock.
func (l *Loader) opener(caller *object) *instance {
	if caller.inst != nil {
		return caller.inst
	}
	var found *instance
	for p := range l.plugins {
		ns := p.obj.inst
		if ns == nil || !reaches(ns.root, caller) || !p.gate.InCall() {
			continue
		}
		if found != nil && found != ns {
			return nil
		}
		found = ns
	}
	return found
}

// keyed is named by file identity. l.mu is held.
func (l *Loader) keyed(ns *instance, key fileKey) *object {
	if ns != nil {
		if ns.root.key == key && key != (fileKey{}) {
			return ns.root
		}
		if o := ns.byKey[key]; o != nil {
			return o
		}
	}
	return l.byKey[key]
}

// alias records name as another name of o, found by file identity, in the
// namespace that holds o. l.mu is held.
func (l *Loader) alias(ns *instance, o *object, name string) {
	switch {
	case ns != nil && o == ns.root:
		ns.byName[name] = o
	case o.inst != nil:
		o.inst.byName[name] = o
		o.names = append(o.names, name)
	default:
		l.byName[name] = o
		o.names = append(o.names, name)
	}
}

// register enters a new shared object o, loaded by the name need on
// behalf of ns, in ns (tentatively: settle decides) or in the Loader.
// l.mu is held.
func (l *Loader) register(ns *instance, o *object, need string) {
	o.shared, o.inst = true, ns
	byName, byKey := l.byName, l.byKey
	if ns != nil {
		byName, byKey = ns.byName, ns.byKey
	}
	byKey[o.key] = o
	byName[need] = o
	o.names = append(o.names, need)
	if s := o.p.file.Dynamic.Soname; s != "" && s != need && l.named(ns, s) == nil {
		byName[s] = o
		o.names = append(o.names, s)
	}
}

// settle moves the new shared objects of a load that do not reach their
// instance's root through their scope out of the instance, into the
// Loader's tables: only what needs the instance is private to it. The
// scopes are computed. l.mu is held.
func (l *Loader) settle(fresh []*object) {
	for _, o := range fresh {
		ns := o.inst
		if ns == nil || o == ns.root || !o.shared || reaches(o, ns.root) {
			continue
		}
		delete(ns.byKey, o.key)
		if l.byKey[o.key] == nil {
			l.byKey[o.key] = o
		}
		for _, n := range o.names {
			if ns.byName[n] == o {
				delete(ns.byName, n)
			}
			if l.byName[n] == nil {
				l.byName[n] = o
			}
		}
		o.inst = nil
	}
}

// reaches reports whether root is in o's lookup scope.
func reaches(o, root *object) bool {
	for _, d := range o.scope {
		if d == root {
			return true
		}
	}
	return false
}

// visibleTo reports whether an object opened with RTLD_GLOBAL serves the
// imports and dlsym of o: an instance's private object only those of its
// own instance; a plugin loaded with LoadOptions.Global every object.
func visibleTo(g, o *object) bool {
	return g.global || g.inst == nil || o != nil && g.inst == o.inst
}
