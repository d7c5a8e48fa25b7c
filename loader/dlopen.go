package loader

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/runplug/runplug/internal/dlsvc"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/wire"
)

// dlopen, dlsym, dlvsym and dlclose called by plugin code (see
// dltable.go). Each object that imports one gets its own callback, which
// is how these functions know their caller: dlopen searches relative to
// it (its DT_RUNPATH, $ORIGIN), RTLD_NEXT starts after it, and what it
// opened is released when it is retired.

// The flag and pseudo-handle values of <dlfcn.h> (glibc, x86-64).
const (
	rtldNoload  = 0x4
	rtldGlobal  = 0x100
	rtldDefault = 0
	rtldNext    = ^uint64(0) // (void *)-1
)

// errDLUnderLock is dlopen's error from code that runs while the Loader
// is loading or closing (a constructor or destructor): the Loader's lock
// is held by that very load or close.
var errDLUnderLock = errors.New("dlopen from a constructor or destructor can only open a library the Loader already holds; call it from a plugin function")

// dlFail sets the calling thread's dlerror message and returns a NULL result.
func dlFail(err error) pcall.Result {
	dlsvc.DLSetError(err.Error())
	return pcall.Result{}
}

func dlopenFunc(l *Loader, o *object) wire.RawHostFunc {
	return func(a *pcall.Args) pcall.Result {
		h, err := l.dlopen(o, a.Int[0], int(a.Int[1]))
		if err != nil {
			return dlFail(err)
		}
		return pcall.Result{Int: uint64(h)}
	}
}

// dlopen opens a library for plugin code (caller): the host's copy for a
// name of one of glibc's own libraries (and the main program for NULL),
// else the Loader's shared object of that name, loaded with its
// dependencies (as a DT_NEEDED of caller would be) when the Loader has
// none. The handle holds
// the object and its dependencies until dlclose or until caller is
// retired.
func (l *Loader) dlopen(caller *object, namePtr uint64, flags int) (uintptr, error) {
	name, err := pcall.CString(uintptr(namePtr), maxDLName)
	if err != nil {
		return 0, fmt.Errorf("dlopen: name: %w", err)
	}
	if namePtr == 0 || isHostLibrary(filepath.Base(name)) {
		if l.opts.NoHostC {
			return 0, fmt.Errorf("dlopen %s: the host's C libraries are not available to plugins (Options.NoHostC)", name)
		}
		return dlsvc.DLOpenHost(name, flags)
	}
	if l.dl.underLock() {
		// This goroutine holds l.mu, for the load or close running this
		// code: only an object loaded and held before it can be opened
		// (taking references on it cannot interfere with that load or
		// close, whatever becomes of it).
		if dep := l.named(l.opener(caller), name); dep != nil && (dep.refs > 0 || !dep.shared) && dep.dl.Handle() != 0 {
			return l.dlHandleOpen(caller, dep, flags), nil
		}
		return 0, fmt.Errorf("dlopen %s: %w", name, errDLUnderLock)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, fmt.Errorf("dlopen %s: %w", name, ErrClosed)
	}
	ns := l.opener(caller) // the opener's instance first (instance.go)
	dep := l.named(ns, name)
	if dep == nil && flags&rtldNoload != 0 {
		return 0, fmt.Errorf("dlopen %s: not loaded (RTLD_NOLOAD)", name)
	}
	if dep == nil {
		d, isNew, err := l.dependency(ns, name, caller, nil)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrNotFound) {
				return 0, fmt.Errorf("dlopen %s: cannot open shared object file: %w", name, err)
			}
			return 0, fmt.Errorf("dlopen %s: %w", name, err)
		}
		if isNew {
			if err := l.loadNew(d, nil); err != nil {
				return 0, fmt.Errorf("dlopen %s: %w", name, err)
			}
		}
		dep = d
	}
	if dep.dl.Handle() == 0 {
		return 0, fmt.Errorf("dlopen %s: the object is not in the object table", name)
	}
	return l.dlHandleOpen(caller, dep, flags), nil
}

// dlHandleOpen records one dlopen of dep by caller: references on dep and
// its dependencies, and the handle. l.mu is held.
func (l *Loader) dlHandleOpen(caller, dep *object, flags int) uintptr {
	hold(dep.scope)
	h := dep.dl.Handle()
	d := &l.dl
	d.mu.Lock()
	if d.handles == nil {
		d.handles = map[uintptr]*dlHandle{}
	}
	x := d.handles[h]
	if x == nil {
		x = &dlHandle{obj: dep, opens: map[*object]int{}}
		d.handles[h] = x
	}
	x.opens[caller]++
	if flags&rtldGlobal != 0 && !x.global {
		// As glibc: global until it is unloaded.
		x.global = true
		d.global = append(d.global, dep)
	}
	d.mu.Unlock()
	return h
}

func dlcloseFunc(l *Loader, o *object) wire.RawHostFunc {
	return func(a *pcall.Args) pcall.Result {
		if err := l.dlclose(o, uintptr(a.Int[0])); err != nil {
			dlsvc.DLSetError(err.Error())
			return pcall.Result{Int: ^uint64(0)} // -1
		}
		return pcall.Result{}
	}
}

// dlclose releases one dlopen of h by caller (or by any object, when
// caller made none: a handle may be passed around). A handle that is not
// runplug's goes to glibc's dlclose. From a destructor the release is
// left to the retirement of the object that opened it, which follows.
func (l *Loader) dlclose(caller *object, h uintptr) error {
	d := &l.dl
	d.mu.Lock()
	x := d.handles[h]
	d.mu.Unlock()
	if x == nil {
		if dlsvc.DLIsHandle(h) {
			return fmt.Errorf("dlclose: handle %#x was not opened by dlopen", h)
		}
		return dlsvc.DLCloseHost(h)
	}
	if d.underLock() {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	d.mu.Lock()
	owner := caller
	if x.opens[owner] == 0 {
		owner = nil
		for k := range x.opens {
			owner = k
			break
		}
	}
	if owner == nil || d.handles[h] != x {
		d.mu.Unlock()
		return fmt.Errorf("dlclose: handle %#x is already closed", h)
	}
	if x.opens[owner]--; x.opens[owner] == 0 {
		delete(x.opens, owner)
	}
	if len(x.opens) == 0 {
		d.forget(h, x)
	}
	d.mu.Unlock()
	if err := l.release(x.obj.scope); err != nil {
		return fmt.Errorf("dlclose %s: %w", x.obj.name, err)
	}
	return nil
}

// maxDLName bounds the names plugin code passes to dlopen, dlsym and
// dlvsym (PATH_MAX is 4096; mangled C++ names run longer).
const maxDLName = 1 << 16

func dlsymFunc(versioned bool) func(l *Loader, o *object) wire.RawHostFunc {
	return func(l *Loader, o *object) wire.RawHostFunc {
		return func(a *pcall.Args) pcall.Result {
			name, err := pcall.CString(uintptr(a.Int[1]), maxDLName)
			version := ""
			if err == nil && versioned {
				version, err = pcall.CString(uintptr(a.Int[2]), maxDLName)
			}
			if err != nil {
				return dlFail(fmt.Errorf("dlsym: name: %w", err))
			}
			p, err := l.dlsym(o, a.Int[0], name, version)
			if err != nil {
				return dlFail(err)
			}
			return pcall.Result{Int: uint64(p)}
		}
	}
}

// dlsym finds name for plugin code (caller). RTLD_DEFAULT: the
// dynamic-linker services themselves, Options.HostSymbols, the host
// functions registered with the Loader, caller's lookup scope, the objects
// opened with RTLD_GLOBAL, the host C libraries (within NoHostC and
// AllowC). RTLD_NEXT: caller's scope after
// caller itself, then the host C libraries. A runplug handle: that
// object's scope. Any other handle (the host's, from dlopen of a
// name of one of glibc's own libraries or NULL) goes to glibc's dlsym.
func (l *Loader) dlsym(caller *object, h uint64, name, version string) (uintptr, error) {
	if name == "" {
		return 0, errors.New("dlsym: empty symbol name")
	}
	var scope []*object
	switch {
	case h == rtldDefault:
		if a, ok := l.dlImport(caller, name); ok {
			return a, nil
		}
		if a, ok := l.hostSymbol(name); ok {
			return a, nil
		}
		if a, ok := l.host.bind(caller, name); ok {
			return a, nil
		}
		scope = caller.scope
	case h == rtldNext:
		scope = caller.scope[1:]
	default:
		l.dl.mu.Lock()
		x := l.dl.handles[uintptr(h)]
		l.dl.mu.Unlock()
		if x == nil {
			if dlsvc.DLIsHandle(uintptr(h)) {
				return 0, fmt.Errorf("dlsym: handle %#x was not opened by dlopen", h)
			}
			if l.allowC != nil && !l.allowC[name] {
				return 0, fmt.Errorf("dlsym: %s is not in Options.AllowC", name)
			}
			return dlsvc.DLSymHost(uintptr(h), name, version)
		}
		scope = x.obj.scope
	}
	if a, ok, err := scopeSymbol(scope, name, version); ok || err != nil {
		return a, err
	}
	if h == rtldDefault {
		if a, g, err := l.dlGlobal(caller, name, version); g != nil || err != nil {
			return a, err
		}
	}
	if h == rtldDefault || h == rtldNext {
		if !l.opts.NoHostC && (l.allowC == nil || l.allowC[name]) {
			if a, ok := hostLookup(name, version); ok {
				return a, nil
			}
		}
	}
	return 0, fmt.Errorf("dlsym: undefined symbol: %s", name)
}

// scopeSymbol finds name (of version, "" for the default) in scope, as
// dlsym does: ok with its address, or an error for a thread-local one.
func scopeSymbol(scope []*object, name, version string) (uintptr, bool, error) {
	hash := newNameHash(name)
	for _, d := range scope {
		i, ok := hash.lookup(d.syms, version)
		if !ok {
			continue
		}
		s, err := d.def(i)
		if err != nil {
			return 0, false, err
		}
		if s.Shndx == elf.SHN_UNDEF {
			continue
		}
		if s.Type == elf.STT_TLS { // one address per thread
			return 0, false, fmt.Errorf("dlsym %s: thread-local symbols of runplug's objects are not served by dlsym: %w", name, ErrTLS)
		}
		if s.Shndx == elf.SHN_ABS {
			return uintptr(s.Value), true, nil
		}
		a, err := d.symbolAddr(i)
		return a, err == nil, err
	}
	return 0, false, nil
}

// dlGlobal finds name in the objects plugin code opened with RTLD_GLOBAL
// (each with its dependencies), in the order they became global, and
// returns the global object it was found through. Only those visible to
// the requesting object o count (an instance's private objects serve
// that instance alone: instance.go).
func (l *Loader) dlGlobal(o *object, name, version string) (uintptr, *object, error) {
	l.dl.mu.Lock()
	if len(l.dl.global) == 0 {
		l.dl.mu.Unlock()
		return 0, nil, nil
	}
	global := append([]*object(nil), l.dl.global...)
	l.dl.mu.Unlock()
	for _, g := range global {
		if !visibleTo(g, o) {
			continue
		}
		if a, ok, err := scopeSymbol(g.scope, name, version); ok || err != nil {
			return a, g, err
		}
	}
	return 0, nil, nil
}

// dlHold makes o hold g (and its dependencies) until o is retired: o's
// imports were bound to it (as glibc records a dependency on an object
// that a relocation bound to through the global scope). l.mu is held.
func (l *Loader) dlHold(o, g *object) {
	d := &l.dl
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, x := range d.holds[o] {
		if x == g {
			return
		}
	}
	if d.holds == nil {
		d.holds = map[*object][]*object{}
	}
	d.holds[o] = append(d.holds[o], g)
	hold(g.scope)
}

// hold takes a reference on each shared object of scope (a plugin's root
// is held by its Plugin alone). l.mu is held.
func hold(scope []*object) {
	for _, x := range scope {
		if x.shared {
			x.refs++
		}
	}
}
