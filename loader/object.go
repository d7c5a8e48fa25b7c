package loader

import (
	"context"
	"debug/elf"
	"encoding/binary"
	"fmt"

	"github.com/runplug/runplug/internal/dlsvc"
	"github.com/runplug/runplug/internal/elfimage"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/tlsrt"
	"golang.org/x/sys/unix"
)

// object is one mapped image: a plugin instance or a shared dependency.
type object struct {
	l *Loader
	// dlCallbacks are the callbacks bound to o's imports that Go serves
	// (dlGoFunc's slots: dlopen, dlsym, dlvsym, dlclose); l.dl.mu guards
	// them.
	dlCallbacks [dlGoServed]*pcall.Callback
	// residentKey is the file of a DF_1_NODELETE root (nodelete.go);
	// kept marks a DF_1_NODELETE shared object on Loader.kept.
	residentKey fileKey
	kept        bool
	name        string // soname, else the name it was loaded by
	path        string // absolute path of its file ("" for LoadBytes)
	p           *parsed
	img         *elfimage.Image
	base        uint64
	mem         []byte          // img.Mem(), nil once retired
	syms        elfimage.SymTab // its dynamic symbols, read in mem; the zero SymTab once retired
	reg         *pcall.Registration
	tls         *tlsrt.TLSModule // its PT_TLS module from link to retirement, else nil
	dl          dlsvc.DLObject   // its entry in the object table from link to retirement (dltable.go)
	late        *relocEnv        // relocation pass waiting for linkTLS (TPOFF, TLSDESC), else nil
	deps        []*object        // direct dependencies (DT_NEEDED that are not host libraries)
	state       *stateMap        // a plugin's mapped persistent state (state.go), else nil
	scope       []*object        // lookup scope: itself, then its dependencies breadth-first

	shared bool         // a dependency, shared by the Loader's plugins (or an instance's: inst)
	key    fileKey      // the file identity (zero for LoadBytes)
	names  []string     // shared: the names it is known by in Loader.byName (or inst.byName)
	refs   int          // shared: how many plugins hold it
	search []lookupNode // a plugin's root: what Lookup searches, in order (lookup.go)
	inst   *instance    // a plugin's root: its own; a shared object private to an instance: that one; else nil (instance.go)
	global bool         // a plugin's root loaded with LoadOptions.Global, in the global scope (global.go)

	// relro is the RELRO pages a reuse kept sealed, until sealRelocated
	// checks them; relroKeepable says that a reuse may keep the RELRO the
	// last link sealed (mayKeepRELRO, relro.go).
	relro         keptRELRO
	relroKeepable bool

	linked   bool
	initDone bool
	initSeq  uint64
}

// newObject maps p (through mapFn) and registers its range with the
// sandbox. l.mu is held.
func (l *Loader) newObject(p *parsed, path, name string, mapFn func(*elfimage.Plan) (*elfimage.Image, error)) (*object, error) {
	if s := p.file.Dynamic.Soname; s != "" {
		name = s
	}
	img, err := mapFn(p.plan)
	if err != nil {
		return nil, fmt.Errorf("map: %w", err)
	}
	o := &object{l: l, name: name, path: path, p: p, img: img, base: uint64(img.Base()), mem: img.Mem()}
	if o.mem == nil {
		img.Unmap()
		return nil, fmt.Errorf("map: image has no memory")
	}
	if o.syms, err = p.file.Dynamic.SymbolsIn(o.mem, p.plan.MinVaddr); err != nil {
		img.Unmap()
		return nil, fmt.Errorf("map: %w", err)
	}
	if err := p.checkState(o.syms); err != nil {
		img.Unmap()
		return nil, &RefusedError{Path: path, Err: err}
	}
	plan := p.plan
	lo := uintptr(int64(img.Base()) + plan.Start)
	o.reg = pcall.Register(lo, lo+uintptr(plan.Size), &describer{o: o})
	l.log.Trace("mapped object", "plugin", name, "path", path, "addr", fmt.Sprintf("%#x", o.base), "size", plan.Size)
	return o, nil
}

// attachTLS registers o's PT_TLS segment (if any) as a TLS module, before
// o is relocated: the template, at base + PT_TLS p_vaddr in the image, is
// read when a thread first touches the module, after relocation (which
// .tdata's pointers need).
func (o *object) attachTLS() error {
	t := o.p.file.TLS
	if t == nil || o.tls != nil {
		return nil
	}
	m, err := tlsrt.NewTLSModule(uintptr(o.base+t.Vaddr), t.Filesz, t.Memsz, t.Align)
	if err != nil {
		return fmt.Errorf("%s: thread-local storage: %w", o.name, err)
	}
	o.tls = m
	return nil
}

// tlsID returns o's TLS module id, 0 when it has none.
func (o *object) tlsID() uint64 {
	if o.tls == nil {
		return 0
	}
	return o.tls.ID()
}

// freeTLS retires o's TLS module: no call into o may be in progress, and
// its image must still be mapped readable.
func (o *object) freeTLS() {
	if o.tls != nil {
		o.tls.Free()
		o.tls = nil
	}
}

// unmap unregisters and unmaps the object's image.
func (o *object) unmap() {
	o.closeState(false)
	o.debugRemove()
	o.freeTLS()
	o.l.dlRetire(o)
	o.mem, o.syms = nil, elfimage.SymTab{}
	o.l.host.drop(o)
	o.reg.Unregister()
	if err := o.img.Unmap(); err != nil {
		o.l.log.Warn("unmap failed", "plugin", o.name, "error", err)
	}
}

// link relocates o and then makes its PT_GNU_RELRO read-only. l.mu is held.
func (l *Loader) link(o *object) error {
	dlServices() // before any resolver runs (see dlServices)
	f := o.p.file
	env := relocEnv{
		name:     o.name,
		base:     o.base,
		mem:      o.mem,
		minVaddr: o.p.plan.MinVaddr,
		writable: o.p.writable,
		exec:     o.p.exec,
		nsyms:    o.syms.Len(),
		nCache:   o.syms.FirstHashed(),
		tlsMod:   o.tlsID(),
		resolve:  func(sym uint32) (symValue, error) { return l.resolve(o, sym) },
		callResolver: func(addr uint64) (uint64, error) {
			if l.noExec {
				return 0, errNoExec
			}
			if err := l.beforeCode(); err != nil {
				return 0, err
			}
			defer l.dl.leave(l.dl.enter())
			r, err := pcall.Call(uintptr(addr), nil)
			return r.Int, err
		},
	}
	if k := &o.relro; k.active() {
		env.keep, env.keepFrom = k.scratch, int(k.lo-o.p.plan.MinVaddr)
	}
	tabs, err := tablesIn(f.Dynamic, o.mem, o.p.plan.MinVaddr)
	if err != nil {
		return fmt.Errorf("%s: %w", o.name, err)
	}
	o.relroKeepable = false
	if err := env.relocate(tabs); err != nil {
		return err
	}
	ranResolvers := len(env.deferred) > 0
	if len(env.tlsLate) > 0 {
		// A copy: taking env's own address would move it to the heap
		// for every load, TLS or not.
		late := env
		o.late = &late                                 // linkTLS finishes it
		o.relroKeepable = o.mayKeepRELRO(ranResolvers) // if the seal succeeds
		return nil
	}
	o.relroKeepable = o.mayKeepRELRO(ranResolvers)
	return o.sealRelocated()
}

// sealRelocated makes o's PT_GNU_RELRO read-only once every relocation is
// written, or checks the RELRO pages a reuse kept sealed (relro.go).
func (o *object) sealRelocated() error {
	if o.relro.active() {
		if err := o.settleRELRO(); err != nil {
			o.relroKeepable = false
			return err
		}
	} else if r := o.p.file.RELRO; r != nil && r.Memsz > 0 {
		if err := o.img.Protect(r.Vaddr, r.Memsz, unix.PROT_READ); err != nil {
			o.relroKeepable = false
			return fmt.Errorf("relro: %w", err)
		}
	}
	o.linked = true
	o.l.dlRegister(o)
	return nil
}

// runInit calls DT_INIT, then each DT_INIT_ARRAY entry in order, with
// argc, argv and envp. l.mu is held.
func (l *Loader) runInit(o *object) error {
	d := o.p.file.Dynamic
	defer l.dl.leave(l.dl.enter())
	argc, argv, envp := dlsvc.ProcessArgs()
	args := pcall.Args{Int: [6]uint64{uint64(argc), uint64(argv), uint64(envp)}}
	l.initSeq++
	o.initSeq = l.initSeq
	if d.Init != 0 {
		if err := o.callCtor("DT_INIT", d.Init, &args); err != nil {
			return err
		}
	}
	// The destructors are checked now, with the constructors, so that a
	// bad one refuses the load before any of the object's code runs,
	// not its Close.
	if err := o.callArray("DT_FINI_ARRAY", d.FiniArray, d.FiniArrayLen, true, nil, false); err != nil {
		return err
	}
	if err := o.callArray("DT_INIT_ARRAY", d.InitArray, d.InitArrayLen, false, &args, true); err != nil {
		// An object whose constructor failed is suspect: its
		// destructors do not run (those of objects initialised
		// before it do, when the failed load is undone).
		return err
	}
	o.initDone = true
	return nil
}

// runFini calls DT_FINI_ARRAY in reverse order, then DT_FINI. l.mu is held.
func (l *Loader) runFini(o *object) error {
	if !o.initDone {
		return nil
	}
	o.initDone = false
	defer l.dl.leave(l.dl.enter())
	d := o.p.file.Dynamic
	err := o.callArray("DT_FINI_ARRAY", d.FiniArray, d.FiniArrayLen, true, nil, true)
	if d.Fini != 0 {
		if e := o.callCtor("DT_FINI", d.Fini, nil); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// callArray calls the functions of an init or fini array read from the
// relocated image (only checks them when run is false): entries 0 and -1
// are skipped, others must point into an executable segment of the
// object. The first error stops the walk.
func (o *object) callArray(what string, vaddr, n uint64, reverse bool, args *pcall.Args, run bool) error {
	if n == 0 {
		return nil
	}
	if n > uint64(len(o.mem))/8 || !inSpans(o.p.readable, vaddr, n*8) {
		return fmt.Errorf("%s of %s: [%#x,+%d entries) is not inside readable memory: %w", what, o.name, vaddr, n, elfimage.ErrMalformed)
	}
	for k := uint64(0); k < n; k++ {
		i := k
		if reverse {
			i = n - 1 - k
		}
		off := vaddr + 8*i - o.p.plan.MinVaddr
		fn := binary.LittleEndian.Uint64(o.mem[off:])
		if fn == 0 || fn == ^uint64(0) {
			continue
		}
		rel := fn - o.base
		if !inSpans(o.p.exec, rel, 1) {
			return fmt.Errorf("%s[%d] of %s = %#x: not inside an executable segment: %w", what, i, o.name, fn, elfimage.ErrMalformed)
		}
		if !run || o.l.noExec {
			continue
		}
		// The name is formatted only on failure: loads stay cheap.
		if _, err := pcall.CallContext(o.l.ctorCtx(), uintptr(o.base+rel), args); err != nil {
			return fmt.Errorf("%s[%d] of %s at %#x: %w", what, i, o.name, rel, err)
		}
	}
	return nil
}

// callCtor calls the function at vaddr of o through the sandbox.
func (o *object) callCtor(what string, vaddr uint64, args *pcall.Args) error {
	if o.l.noExec {
		return nil
	}
	if _, err := pcall.CallContext(o.l.ctorCtx(), uintptr(o.base+vaddr), args); err != nil {
		return fmt.Errorf("%s of %s at %#x: %w", what, o.name, vaddr, err)
	}
	return nil
}

// ctorCtx is the context constructors and destructors run under: the
// Load's or Close's in progress, else one that is never
// done (CallContext then costs what Call does). l.mu is held.
func (l *Loader) ctorCtx() context.Context {
	if l.opCtx != nil {
		return l.opCtx
	}
	return context.Background()
}

// symbolAddr returns the absolute address of o's symbol i (calling the
// resolver of an IFUNC symbol).
func (o *object) symbolAddr(i int) (uintptr, error) {
	s, err := o.symbol(i)
	if err != nil {
		return 0, err
	}
	addr := o.base + s.Value
	if s.Type == elf.STT_GNU_IFUNC {
		if !inSpans(o.p.exec, s.Value, 1) {
			return 0, fmt.Errorf("ifunc %s of %s: resolver %#x is not inside an executable segment: %w", s.Name, o.name, s.Value, elfimage.ErrMalformed)
		}
		if o.l.noExec {
			return 0, fmt.Errorf("ifunc %s of %s: %w", s.Name, o.name, errNoExec)
		}
		r, err := pcall.Call(uintptr(addr), nil)
		if err != nil {
			return 0, fmt.Errorf("ifunc %s of %s: resolver: %w", s.Name, o.name, err)
		}
		return uintptr(r.Int), nil
	}
	return uintptr(addr), nil
}

// symbol decodes o's symbol i (0 <= i < o.syms.Len()) from its image.
func (o *object) symbol(i int) (elfimage.Symbol, error) {
	s, err := o.syms.Symbol(i)
	if err != nil {
		return s, fmt.Errorf("%s: %w", o.name, err)
	}
	return s, nil
}

// def is symbol without the name, for a symbol found by name.
func (o *object) def(i int) (elfimage.Symbol, error) {
	s, err := o.syms.Def(i)
	if err != nil {
		return s, fmt.Errorf("%s: %w", o.name, err)
	}
	return s, nil
}

// importSymbol is symbol for a relocation's symbol: its name comes from
// the file's cache of those names, decoded at the first load, so that a
// reload allocates nothing for them. l.mu is held.
func (o *object) importSymbol(idx uint32) (elfimage.Symbol, error) {
	s, err := o.def(int(idx))
	if err != nil {
		return s, err
	}
	if int(idx) < len(o.p.names) && o.p.names[idx] != "" {
		s.Name = o.p.names[idx]
		return s, nil
	}
	if s.Name, err = o.syms.Name(int(idx)); err != nil {
		return s, fmt.Errorf("%s: %w", o.name, err)
	}
	if o.p.names == nil {
		// One slot per import (the symbols below FirstHashed): a large
		// library's relocations name thousands, which a growing map
		// would rehash. A name above is decoded each time it is asked
		// for (once per relocation pass: relocEnv caches the result).
		o.p.names = make([]string, o.syms.FirstHashed())
	}
	if int(idx) < len(o.p.names) {
		o.p.names[idx] = s.Name
	}
	return s, nil
}
