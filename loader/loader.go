package loader

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/elfimage"
	"github.com/runplug/runplug/internal/ldso"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/wire"
)

// DefaultTombstoneBudget is the address space closed images may keep
// reserved (as PROT_NONE tombstones) when Options.TombstoneBudget is 0.
const DefaultTombstoneBudget = 1 << 30

// maxTombstones bounds the number of tombstones a Loader keeps, whatever
// their size: each costs a mapping (of the 65530 a process may have by
// default) and an entry in the sandbox's registration table.
const maxTombstones = 64

// maxCachedFiles bounds the parsed-file cache of a Loader.
const maxCachedFiles = 256

// maxTLSSize bounds an object's thread-local block (PT_TLS p_memsz): each
// OS thread that touches the object's TLS allocates one.
const maxTLSSize = 16 << 20

// Options configure a Loader. The zero value is usable.
type Options struct {
	// Logger receives the loader's events (silent when nil). Each plugin
	// logs through a child logger named after it.
	Logger hclog.Logger
	// HostSymbols supplies imports by name; it is consulted first, before
	// the plugin's dependencies and the host C libraries. (A symbol an
	// object defines itself always binds to its own definition, and
	// __tls_get_addr always to runplug's, see the package doc.) The map
	// is copied by New.
	HostSymbols map[string]uintptr
	// SearchPath lists directories searched for needed libraries (and
	// for Load of a name without a slash) after an object's DT_RPATH and
	// before LD_LIBRARY_PATH, DT_RUNPATH, the ld.so cache and the default
	// directories (see the package doc, Dependencies).
	SearchPath []string
	// GuardSize is the size of the PROT_NONE guard on each side of an
	// image, rounded up to pages; 0 means one page.
	GuardSize uint64
	// NoHostC stops imports from being resolved against the host's C
	// libraries (libc, libm, ...). Their DT_NEEDED entries are still
	// accepted, but a plugin importing a libc function then fails to load.
	NoHostC bool
	// AllowC, when non-nil, lists the only symbols plugins may import
	// from the host's C libraries. nil allows every one.
	AllowC []string
	// AllowWriteExec lets segments be writable and executable.
	AllowWriteExec bool
	// KeepAfterFault keeps a plugin callable after a call faulted, was
	// interrupted or aborted. By default such a plugin is quarantined:
	// further calls fail with ErrQuarantined.
	KeepAfterFault bool
	// TombstoneBudget bounds the address space (in bytes, guards included)
	// kept reserved by closed images: a closed image stays reserved
	// PROT_NONE so that stale pointers into it fault cleanly, and the
	// oldest such tombstones are released once their total exceeds the
	// budget, or once there are more than 64 of them. 0 means
	// DefaultTombstoneBudget; 1 releases every image at Close.
	TombstoneBudget uint64
	// BeforeCode, when set, is called once, with the Loader's lock held,
	// just before the first plugin code this Loader runs (an IFUNC
	// resolver or a constructor): every file of that load is open and
	// mapped by then. Its error fails the load and is called again at the
	// next one. Package isolate's child tightens its confinement here, so
	// that no plugin code runs with the rights the load needed. Once it
	// has run, the Loader opens no file again to park a closed image
	// (the process may no longer open files): closed images are
	// tombstoned, and a later load of the same file maps it afresh.
	BeforeCode func() error
	// Isolation, when set, runs every plugin this Loader loads in a
	// process of its own instead of the host's address space: set it to
	// isolate.New(...) (package isolate). Its type is the loader's
	// contract with package isolate, not a host's API.
	Isolation wire.Isolation
}

// Loader loads plugins, their dependencies, and owns them all: closing it
// closes every plugin it loaded. Its methods are safe for concurrent use;
// loads and closes are serialised, calls into plugins are not.
type Loader struct {
	opts    Options
	log     hclog.Logger
	allowC  map[string]bool
	search  *ldso.Search
	planOpt elfimage.PlanOptions

	mu      sync.Mutex
	closed  bool
	files   map[fileKey]*parsed
	byName  map[string]*object  // shared objects by DT_NEEDED name and soname
	byKey   map[fileKey]*object // shared objects by file identity
	plugins map[*Plugin]struct{}
	tombs   []*object // closed images still reserved, oldest first
	// relroKept and relroRewritten count the reuses that kept RELRO
	// sealed and found it right, or had to write it again (relro.go).
	relroKept, relroRewritten int
	// resident are the DF_1_NODELETE plugins, by file, and kept the
	// DF_1_NODELETE shared objects nothing holds (nodelete.go).
	resident map[fileKey]*resident
	kept     []*object
	// heldGlobal are closed LoadOptions.Global plugins that other
	// plugins' imports are bound to (global.go): kept like resident ones.
	heldGlobal []*resident
	tombSz     uint64
	// stranded is set when a Close gave up waiting for a call still
	// running in a plugin (its ctx was done): that plugin and what it
	// may use stay mapped until the process ends.
	stranded bool
	initSeq  uint64
	codeRan  bool // BeforeCode has succeeded
	// opCtx is the context of the Load or Close in
	// progress (l.mu held), nil for none: constructors and destructors
	// run under it (object.go ctorCtx).
	opCtx context.Context

	host     hostTable                          // RegisterHostFunc's functions (hostfunc.go)
	hostSyms atomic.Pointer[map[string]uintptr] // Options.HostSymbols and AddHostSymbols' (hostsyms.go)
	dl       dlState                            // dynamic-linker services for plugin code (dltable.go)

	// noExec makes the Loader map, relocate and close objects without
	// running any of their code: constructors and destructors are
	// checked but not called, and a relocation or lookup that needs an
	// IFUNC resolver fails with errNoExec. FuzzLink's mode, which feeds
	// the loader mutated objects; never set outside tests.
	noExec bool
}

// errNoExec is the error of an IFUNC resolver a noExec Loader did not call.
var errNoExec = errors.New("resolver not called: the loader runs no plugin code")

// New returns a Loader with the given options. LD_LIBRARY_PATH is read
// once, here.
func New(opts Options) *Loader {
	l := &Loader{
		opts:    opts,
		log:     opts.Logger,
		search:  newSearch(opts),
		planOpt: elfimage.PlanOptions{GuardSize: opts.GuardSize, AllowWriteExec: opts.AllowWriteExec},
		files:   map[fileKey]*parsed{},
		byName:  map[string]*object{},
		byKey:   map[fileKey]*object{},
		plugins: map[*Plugin]struct{}{},
	}
	if l.log == nil {
		l.log = hclog.NewNullLogger()
	}
	if len(opts.HostSymbols) > 0 {
		syms := cloneSyms(opts.HostSymbols)
		l.opts.HostSymbols = syms
		l.hostSyms.Store(&syms) // hostsyms.go
	}
	if opts.AllowC != nil {
		l.allowC = make(map[string]bool, len(opts.AllowC))
		for _, n := range opts.AllowC {
			l.allowC[n] = true
		}
	}
	l.opts.SearchPath = append([]string(nil), opts.SearchPath...)
	if l.opts.TombstoneBudget == 0 {
		l.opts.TombstoneBudget = DefaultTombstoneBudget
	}
	return l
}

// fileKey identifies a file's contents: a file replaced or rewritten gets
// another key.
type fileKey struct {
	dev, ino uint64
	size     int64
	mtime    int64 // nanoseconds
}

// parsed is a validated file and what the loader derives from it once.
type parsed struct {
	file     *elfimage.File
	plan     *elfimage.Plan
	writable []span // writable PT_LOADs
	exec     []span // executable PT_LOADs
	readable []span // readable PT_LOADs
	// pristine is the initial contents of the writable regions (files
	// only, nil when too large): with it a closed image is parked, and a
	// later load of the same file reuses the oldest parked image instead
	// of mapping a new one (see reuseTomb).
	pristine *elfimage.Pristine
	// key is the file's identity (files only). The pristine copy is
	// read when the first image of the file is parked, through fd (a
	// descriptor of the file kept from the load until then, -1 when
	// none: an isolated child may open nothing once it runs plugin code)
	// if the file is still the same (see readPristine).
	key          fileKey
	fd           int
	pristineRead bool
	// names are the names of the symbols relocations named, by symbol
	// index ("" where none was asked for yet), decoded from an image once
	// (see object.importSymbol).
	names []string
	// state is the object's persistent state region (state.go), nil
	// when it declares none; found by checkState in the first image.
	state        *stateRegion
	stateChecked bool
}

// prepare checks that f is something the loader can load and derives the
// plan and segment spans.
func (l *Loader) prepare(f *elfimage.File) (*parsed, error) {
	if f.Dynamic == nil {
		return nil, fmt.Errorf("no dynamic segment: %w", elfimage.ErrUnsupported)
	}
	if f.TLS != nil && f.TLS.Memsz > maxTLSSize {
		return nil, &elfimage.FormatError{Off: -1, Field: "PT_TLS p_memsz", Value: f.TLS.Memsz,
			Msg: fmt.Sprintf("thread-local block larger than %d MiB", maxTLSSize>>20), Err: elfimage.ErrUnsupported}
	}
	if f.Dynamic.TextRel {
		return nil, fmt.Errorf("DT_TEXTREL: relocations of read-only segments are refused: %w", elfimage.ErrUnsupported)
	}
	plan, err := elfimage.NewPlan(f, l.planOpt)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	p := &parsed{file: f, plan: plan, fd: -1}
	for _, ld := range f.Loads {
		if ld.Memsz == 0 {
			continue
		}
		s := span{ld.Vaddr, ld.Vaddr + ld.Memsz}
		if ld.Flags&elf.PF_W != 0 {
			p.writable = append(p.writable, s)
		}
		if ld.Flags&elf.PF_X != 0 {
			p.exec = append(p.exec, s)
		}
		if ld.Flags&elf.PF_R != 0 {
			p.readable = append(p.readable, s)
		}
	}
	// The TLS runtime copies the template from the image when a thread
	// first touches the module.
	if t := f.TLS; t != nil && t.Filesz > 0 && !inSpans(p.readable, t.Vaddr, t.Filesz) {
		return nil, &elfimage.FormatError{Off: -1, Field: "PT_TLS p_vaddr", Value: t.Vaddr,
			Msg: fmt.Sprintf("template [%#x,+%#x) is not inside a readable PT_LOAD", t.Vaddr, t.Filesz), Err: elfimage.ErrMalformed}
	}
	// The state region (state.go) is found in the first image mapped
	// (see checkState): the symbols are read there.
	return p, nil
}

// openFile opens path and returns its descriptor, identity and parsed
// description, from the cache when the same file (device, inode, size,
// mtime) was parsed before. The caller closes fd. l.mu is held.
func (l *Loader) openFile(path string) (fd int, key fileKey, p *parsed, err error) {
	// A raw descriptor rather than an os.File: os.Open registers a
	// regular file with the network poller and os.NewFile of an
	// O_NONBLOCK descriptor tries to; the mapping only needs the number.
	// O_NONBLOCK: opening a FIFO planted where a library is expected
	// must not wait for a writer (it is refused below as not a regular
	// file); for regular files the flag changes nothing.
	// An isolated child's plugin file comes opened by its host
	// (wire.PluginFD), opened as below.
	fd, handed := wire.TakeFile(path)
	if !handed {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	}
	if err != nil {
		return -1, key, nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, key, nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return -1, key, nil, fmt.Errorf("%s: not a regular file: %w", path, elfimage.ErrUnsupported)
	}
	key = statKey(&st)
	if p = l.files[key]; p != nil {
		return fd, key, p, nil
	}
	ef, err := cachedParse(key, fdReader(fd), st.Size)
	if err != nil {
		unix.Close(fd)
		return -1, key, nil, err
	}
	if p, err = l.prepare(ef); err != nil {
		unix.Close(fd)
		return -1, key, nil, &RefusedError{Path: path, Err: err}
	}
	p.key = key
	// A descriptor for the pristine copy, only when a closed image of
	// the file can be parked at all (see retire).
	if p.plan.Size <= l.opts.TombstoneBudget {
		if p.fd, err = unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0); err != nil {
			p.fd = -1 // no pristine copy: closed images are tombstoned
		}
	}
	if len(l.files) >= maxCachedFiles {
		for k, old := range l.files { // drop an arbitrary entry
			old.closeFD()
			delete(l.files, k)
			break
		}
	}
	l.files[key] = p
	return fd, key, p, nil
}

func statKey(st *unix.Stat_t) fileKey {
	return fileKey{dev: uint64(st.Dev), ino: uint64(st.Ino), size: st.Size, mtime: st.Mtim.Nano()}
}

// fdReader reads a file by descriptor with pread.
type fdReader int

// ReadAt implements io.ReaderAt.
func (f fdReader) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	for n < len(b) {
		m, err := unix.Pread(int(f), b[n:], off+int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			return n, io.EOF
		}
		n += m
	}
	return n, nil
}

// mapRoot maps the object at path as the root of a new plugin instance,
// recording its file identity (instance.go). l.mu is held.
func (l *Loader) mapRoot(path, name string) (*object, error) {
	o, key, err := l.mapPath(path, name)
	if err != nil {
		return nil, err
	}
	o.key = key
	return o, nil
}

// mapPath maps the object at path for a new object named name: a parked
// image of the same file that is due for release is reused when there is
// one (no open, no mapping), else the file is opened and mapped. l.mu is
// held.
func (l *Loader) mapPath(path, name string) (*object, fileKey, error) {
	// Only a file this Loader parsed can have a parked image: a Loader's
	// first load makes no stat for it.
	if len(l.files) > 0 {
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
			key := statKey(&st)
			if p := l.files[key]; p != nil {
				if o := l.reuseTomb(p, path, name); o != nil {
					return o, key, nil
				}
			}
		}
	}
	fd, key, p, err := l.openFile(path)
	if err != nil {
		return nil, key, err
	}
	o, err := l.newObject(p, path, name, func(plan *elfimage.Plan) (*elfimage.Image, error) { return elfimage.MapFD(plan, fd, key.size) })
	unix.Close(fd)
	return o, key, err
}

// Load loads the shared object at path as a new, independent plugin
// instance (its own data and .bss; text pages are shared with other
// instances of the same file), with the libraries it needs, relocates
// everything, runs the constructors (dependencies first) and returns it.
// The file's parsed tables are cached, so loading it again does not
// re-read them. In a build that cannot run plugins (anything but
// linux/amd64 with cgo) it returns an error wrapping ErrUnsupported.
//
// A path without a slash is a name, searched for as dlopen does (as a
// DT_NEEDED entry of no object: see the package doc, Dependencies). One
// of glibc's own libraries (ldso.IsGlibc: "libm.so.6", or the path of the
// host's copy) is not loaded again: the Plugin is the host's library, its
// symbols found with dlsym and called through the sandbox like any other.
//
// ctx bounds the plugin's constructors (and those of the libraries it
// needs): one still running when ctx is done is interrupted, as a call
// is, and the load fails with an error wrapping ErrDeadline, leaving
// nothing loaded. (An isolated load has its own bounds.) A nil ctx is a
// programming error: Load panics, as every method taking a context does.
func (l *Loader) Load(ctx context.Context, path string) (*Plugin, error) {
	mustContext(ctx)
	return l.load(ctx, path, stateSource{})
}

// load is Load, with the state file of LoadWith. The context bounds the
// constructors and destructors it runs, and the state migration.
func (l *Loader) load(ctx context.Context, path string, st stateSource) (*Plugin, error) {
	if l.opts.Isolation != nil {
		return l.startRemote(ctx, path, filepath.Base(path), nil, st, false) // remote.go
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.opCtx = ctx
	defer func() { l.opCtx = nil }()
	if l.closed {
		return nil, fmt.Errorf("loader: load %s: %w", path, ErrClosed)
	}
	if !pcall.Supported {
		return nil, fmt.Errorf("loader: load %s: %w", path, pcall.ErrPlatform)
	}
	if soname, ok := l.hostLibraryPath(path); ok {
		return l.loadHost(soname, path)
	}
	var root *object
	var err error
	if !strings.ContainsRune(path, '/') {
		root, err = l.loadByName(path)
	} else {
		abs, aerr := filepath.Abs(path)
		if aerr != nil {
			abs = path
		}
		if pl := l.residentPlugin(abs); pl != nil {
			return pl, nil
		}
		var key fileKey
		root, key, err = l.mapPath(abs, filepath.Base(path))
		if err == nil {
			root.key = key
		}
		if errors.Is(err, os.ErrNotExist) {
			err = &NotFoundError{Name: path, Tried: []string{path}}
		}
		if err == nil {
			pl, err := l.finishLoad(ctx, root, st)
			if err == nil {
				l.keepResident(pl, key)
			}
			return pl, err
		}
	}
	if err != nil {
		return nil, fmt.Errorf("loader: load %s: %w", path, err)
	}
	return l.finishLoad(ctx, root, st)
}

// LoadBytes loads a shared object from memory, as Load does from a file.
// name names the plugin (when the object has no DT_SONAME) in errors and
// fault reports. The image is parsed on each call and copied into the
// mapping; it is not retained. $ORIGIN in its DT_RUNPATH is unknown, so
// such entries are skipped. ctx bounds the constructors, as for Load.
func (l *Loader) LoadBytes(ctx context.Context, name string, image []byte) (*Plugin, error) {
	mustContext(ctx)
	return l.loadBytes(ctx, name, image, stateSource{})
}

// loadBytes is LoadBytes with the state source of a Live's fallback
// (live_handover.go).
func (l *Loader) loadBytes(ctx context.Context, name string, image []byte, st stateSource) (*Plugin, error) {
	if l.opts.Isolation != nil {
		return l.startRemote(ctx, "", name, image, st, false) // remote.go
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, fmt.Errorf("loader: load %s: %w", name, ErrClosed)
	}
	if !pcall.Supported {
		return nil, fmt.Errorf("loader: load %s: %w", name, pcall.ErrPlatform)
	}
	ef, err := elfimage.ParseInPlace(bytes.NewReader(image), int64(len(image)))
	if err != nil {
		return nil, fmt.Errorf("loader: load %s: %w", name, err)
	}
	p, err := l.prepare(ef)
	if err != nil {
		return nil, fmt.Errorf("loader: load %s: %w", name, err)
	}
	root, err := l.newObject(p, "", name, func(plan *elfimage.Plan) (*elfimage.Image, error) { return elfimage.MapBytes(plan, image) })
	if err != nil {
		return nil, fmt.Errorf("loader: load %s: %w", name, err)
	}
	return l.finishLoad(ctx, root, st)
}

// finishLoad loads root's dependencies, links and initialises everything
// new, and wraps root in a Plugin. A root with a state region gets it
// mapped from st before its constructors run. On error everything new is
// released. l.mu is held.
func (l *Loader) finishLoad(ctx context.Context, root *object, st stateSource) (*Plugin, error) {
	root.inst = newInstance(root)
	var attach func() error
	if root.p.state != nil {
		attach = func() error { return l.attachState(ctx, root, st) }
	}
	if err := l.loadNew(root, attach); err != nil {
		l.log.Debug("load failed", "plugin", root.name, "path", root.path, "error", err)
		return nil, fmt.Errorf("loader: load %s: %w", root.name, err)
	}
	// The root's closure of shared objects: each is held once by this
	// plugin, so cycles among them cannot keep each other alive.
	closure := root.scope[1:]
	for _, o := range closure {
		o.refs++
	}
	root.search = searchList(root)
	pl := newPlugin(l, root, closure)
	l.plugins[pl] = struct{}{}
	if pl.log.IsDebug() {
		pl.log.Debug("loaded plugin", "plugin", root.name, "path", root.path, "addr", fmt.Sprintf("%#x", root.base), "deps", len(closure))
	}
	return pl, nil
}

// loadNew loads the dependencies of root (a newly mapped object) that the
// Loader does not have yet, then links and initialises root and every
// new object; beforeInit (when not nil) runs after linking, before the
// first constructor. On error it releases them all (discard). l.mu is
// held.
func (l *Loader) loadNew(root *object, beforeInit func() error) (err error) {
	fresh := []*object{root}
	defer func() {
		if err != nil {
			l.discard(fresh)
		}
	}()
	parents := map[*object]*object{} // who needed each fresh object (DT_RPATH chain)
	// Breadth-first over DT_NEEDED: find or load each dependency.
	for q := 0; q < len(fresh); q++ {
		o := fresh[q]
		for _, need := range o.p.file.Dynamic.Needed {
			if isHostLibrary(need) {
				if err := hostDependency(need); err != nil {
					return err
				}
				continue
			}
			dep, isNew, err := l.dependency(o.inst, need, o, parents)
			if err != nil {
				return err
			}
			if isNew {
				fresh = append(fresh, dep)
				parents[dep] = o
			}
			o.deps = append(o.deps, dep)
		}
	}
	for _, o := range fresh {
		o.scope = breadthFirst(o)
		if err := o.attachTLS(); err != nil {
			return err
		}
	}
	l.settle(fresh) // instance.go
	order := initOrder(root, fresh)
	for _, o := range order {
		if err := l.link(o); err != nil {
			return err
		}
	}
	if err := l.linkTLS(order); err != nil {
		return err
	}
	if beforeInit != nil {
		if err := beforeInit(); err != nil {
			return err
		}
	}
	debugAdd(order) // debuggers and profilers see them before their code runs
	for _, o := range order {
		if err := l.beforeCode(); err != nil {
			return err
		}
		if err := l.runInit(o); err != nil {
			return err
		}
	}
	return nil
}

// beforeCode calls Options.BeforeCode before the first plugin code.
// l.mu is held.
func (l *Loader) beforeCode() error {
	if l.codeRan || l.opts.BeforeCode == nil || l.noExec {
		return nil
	}
	if err := l.opts.BeforeCode(); err != nil {
		return fmt.Errorf("before plugin code: %w", err)
	}
	l.codeRan = true
	return nil
}

// breadthFirst returns o and every object reachable through deps, o first,
// breadth-first: o's symbol lookup scope.
func breadthFirst(o *object) []*object {
	out := []*object{o}
	seen := map[*object]bool{o: true}
	for q := 0; q < len(out); q++ {
		for _, d := range out[q].deps {
			if !seen[d] {
				seen[d] = true
				out = append(out, d)
			}
		}
	}
	return out
}

// initOrder returns the objects of fresh in dependency order: each after
// the objects it needs (cycles broken where they are met), root last.
func initOrder(root *object, fresh []*object) []*object {
	isFresh := make(map[*object]bool, len(fresh))
	for _, o := range fresh {
		isFresh[o] = true
	}
	seen := map[*object]bool{}
	var out []*object
	var visit func(o *object)
	visit = func(o *object) {
		if seen[o] || !isFresh[o] {
			return
		}
		seen[o] = true
		for _, d := range o.deps {
			visit(d)
		}
		out = append(out, o)
	}
	visit(root)
	return out
}

// dependency returns the shared object for DT_NEEDED name need of o,
// loading (but not linking) it when the Loader has none. l.mu is held.
//
// The name and the file found are looked up first in the instance ns (see
// instance.go; nil for none), then among the Loader's shared objects; a
// new object joins ns until settle decides.
func (l *Loader) dependency(ns *instance, need string, o *object, parents map[*object]*object) (dep *object, isNew bool, err error) {
	if d := l.named(ns, need); d != nil {
		return d, false, nil
	}
	cands := l.search.Candidates(need, needer(o, parents))
	var lastErr error
	for _, c := range cands {
		path := c.Path
		fd, key, p, err := l.openFile(path)
		if err != nil {
			if candidateRefused(err) {
				return nil, false, fmt.Errorf("library %q needed by %q: %w", need, o.name, err)
			}
			if !errors.Is(err, os.ErrNotExist) {
				lastErr = fmt.Errorf("%s: %w", path, err)
			}
			continue
		}
		if dep := l.keyed(ns, key); dep != nil {
			unix.Close(fd)
			l.alias(ns, dep, need)
			return dep, false, nil
		}
		dep := l.reuseTomb(p, path, need)
		if dep == nil {
			dep, err = l.newObject(p, path, need, func(plan *elfimage.Plan) (*elfimage.Image, error) { return elfimage.MapFD(plan, fd, key.size) })
		}
		unix.Close(fd)
		if err != nil {
			return nil, false, fmt.Errorf("dependency %s: %w", need, err)
		}
		dep.key = key
		l.register(ns, dep, need)
		return dep, true, nil
	}
	return nil, false, &NotFoundError{Name: need, Needer: o.name, Tried: candidatePaths(cands), Err: lastErr}
}

// discard releases objects of a failed load: destructors of those whose
// constructors ran, then their mappings. l.mu is held.
func (l *Loader) discard(objs []*object) {
	l.runFinis(objs)
	for _, o := range objs {
		l.forget(o)
		o.unmap()
	}
}

// forget removes a shared object from the Loader's tables.
func (l *Loader) forget(o *object) {
	if !o.shared {
		return
	}
	byName, byKey := l.byName, l.byKey
	if o.inst != nil {
		byName, byKey = o.inst.byName, o.inst.byKey
	}
	for _, n := range o.names {
		if byName[n] == o {
			delete(byName, n)
		}
	}
	if byKey[o.key] == o {
		delete(byKey, o.key)
	}
}

// runFinis runs the destructors of the objects whose constructors ran, in
// the reverse order of their initialisation, and returns the first error.
func (l *Loader) runFinis(objs []*object) error {
	var inited []*object
	for _, o := range objs {
		if o.initDone {
			inited = append(inited, o)
		}
	}
	sort.Slice(inited, func(i, j int) bool { return inited[i].initSeq > inited[j].initSeq })
	var first error
	for _, o := range inited {
		if err := l.runFini(o); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// release drops root's references to its closure after its own
// destructors ran: shared objects nobody holds any more are finalised and
// retired. l.mu is held.
func (l *Loader) release(closure []*object) error {
	for _, o := range closure {
		if o.shared { // not a plugin's root, which its Plugin holds
			o.refs--
		}
	}
	// A DF_1_NODELETE object nothing holds any more stays, and so does
	// everything it needs (nodelete.go).
	for _, o := range closure {
		if o.shared && o.refs == 0 && o.nodelete() && !l.closed && !o.kept {
			l.keep(o)
		}
	}
	var dead []*object
	for _, o := range closure {
		if o.shared && o.refs == 0 && !o.kept {
			dead = append(dead, o)
		}
	}
	err := l.runFinis(dead)
	for _, o := range dead {
		l.forget(o)
		l.retire(o)
	}
	return err
}

// retire turns a closed object's image into a tombstone, then releases
// the oldest tombstones beyond the budget. l.mu is held.
func (l *Loader) retire(o *object) {
	o.debugRemove()
	o.freeTLS()   // before the template turns PROT_NONE
	l.dlRetire(o) // likewise: C readers of the image are done
	if l.closed || o.p.plan.Size > l.opts.TombstoneBudget {
		o.unmap() // it would be released at once
		return
	}
	// A parked image keeps its pages (PROT_NONE) so that a later load of
	// the same file can reuse it once it is the oldest tombstone, due for
	// release anyway; without a pristine copy it is dropped for good.
	park := o.img.Tombstone
	// After BeforeCode the process may have given up opening files
	// (isolate's child): the pristine copy is not read then.
	if !l.codeRan && o.p.readPristine() != nil {
		park = o.img.Park
	}
	if err := park(); err != nil {
		l.log.Warn("tombstone failed, unmapping", "plugin", o.name, "error", err)
		o.unmap()
		return
	}
	o.mem, o.syms = nil, elfimage.SymTab{}
	l.host.drop(o) // its code can no longer call host functions
	o.reg.Replace(tombstone{name: o.name})
	l.tombs = append(l.tombs, o)
	l.tombSz += o.p.plan.Size
	for len(l.tombs) > 0 && (l.tombSz > l.opts.TombstoneBudget || len(l.tombs) > maxTombstones) {
		t := l.tombs[0]
		l.tombs[0] = nil
		l.tombs = l.tombs[1:]
		l.tombSz -= t.p.plan.Size
		t.unmap()
	}
}

// reuseTomb returns a new object for p at the address of the oldest
// tombstone, when that tombstone is a parked image of p and is due for
// release (retiring one more image would release it): it is made fresh
// again (elfimage.Image.Reuse) instead of being unmapped while a new image
// is mapped, which is what keeps reloading a plugin cheap. A stale pointer
// into that range is then as unprotected as after a release, no more.
// It returns nil when there is no such tombstone. l.mu is held.
func (l *Loader) reuseTomb(p *parsed, path, name string) *object {
	if p.pristine == nil || len(l.tombs) == 0 {
		return nil
	}
	t := l.tombs[0]
	if t.p != p || (len(l.tombs) < maxTombstones && l.tombSz+p.plan.Size <= l.opts.TombstoneBudget) {
		return nil
	}
	l.tombs[0] = nil
	l.tombs = l.tombs[1:]
	l.tombSz -= t.p.plan.Size
	var keepVaddr, keepSize uint64
	if r := p.file.RELRO; r != nil && t.relroKeepable {
		keepVaddr, keepSize = r.Vaddr, r.Memsz
	}
	keptLo, keptHi, err := t.img.ReuseKeeping(p.pristine, keepVaddr, keepSize)
	if err != nil {
		l.log.Warn("reusing a tombstone failed, mapping afresh", "plugin", t.name, "error", err)
		t.unmap()
		return nil
	}
	if s := p.file.Dynamic.Soname; s != "" {
		name = s
	}
	syms, err := p.file.Dynamic.SymbolsIn(t.img.Mem(), p.plan.MinVaddr)
	if err != nil { // it was found in this image when the image was new
		t.unmap()
		return nil
	}
	o := &object{l: l, name: name, path: path, p: p, img: t.img, base: uint64(t.img.Base()), mem: t.img.Mem(), syms: syms, reg: t.reg, relro: keptRELRO{scratch: t.relro.scratch}}
	if keptHi > keptLo && !o.keepRELRO(keptLo, keptHi) { // the pristine copy covers every writable file region
		t.unmap()
		return nil
	}
	t.img, t.reg = nil, nil
	o.reg.Replace(&describer{o: o})
	return o
}

// Close closes every plugin the Loader loaded (see Plugin.Close), then
// releases the address space its tombstones kept reserved. Later loads
// fail with ErrClosed. It is safe to call twice. ctx bounds every
// destructor it runs (see Plugin.Close).
func (l *Loader) Close(ctx context.Context) error {
	mustContext(ctx)
	l.mu.Lock()
	l.closed = true
	pls := make([]*Plugin, 0, len(l.plugins))
	for p := range l.plugins {
		pls = append(pls, p)
	}
	l.mu.Unlock()
	sort.Slice(pls, func(i, j int) bool { return pls[i].seq > pls[j].seq })
	var errs []error
	for _, p := range pls {
		if err := p.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	l.mu.Lock()
	l.opCtx = ctx
	if !l.stranded { // else a call still running may use them
		if err := l.closeResident(); err != nil {
			errs = append(errs, err)
		}
		for _, t := range l.tombs {
			t.unmap()
		}
		l.tombs, l.tombSz = nil, 0
	}
	for _, p := range l.files {
		p.closeFD()
	}
	l.files = map[fileKey]*parsed{}
	l.opCtx = nil
	l.mu.Unlock()
	l.host.close()
	return errors.Join(errs...)
}
