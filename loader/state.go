package loader

import (
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/elfimage"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/wire"
)

// Persistent state regions (docs/STATE.md). A plugin declares its state
// with RUNPLUG_STATE (plugins/runplug.h): a page-aligned array of whole
// pages in section .runplug_state, exported as runplug_state, and a
// read-only descriptor runplug_state_desc {magic, version, type size}.
// The loader maps the region MAP_SHARED from the active slot of a state
// file after relocation and before the constructors run, so what the
// plugin writes there is the file's: it survives a fault, a reload, the
// process, and is seen by every instance that maps the same file.

const (
	stateSymbol    = "runplug_state"
	stateDescSym   = "runplug_state_desc"
	stateMigrate   = "runplug_state_migrate"
	stateDescMagic = 0x54535052 // "RPST" in memory order
	stateDescSize  = 16         // uint32 magic, uint32 version, uint64 size
)

// stateRegion is where an object's state region and descriptor are,
// checked once when the file is prepared.
type stateRegion struct {
	vaddr, size uint64 // runplug_state: whole pages of a read-write segment
	desc        uint64 // runplug_state_desc
}

// findStateRegion returns f's state region, nil when it declares none.
// An object that declares one badly is refused (ErrStateLayout); what
// its relocation tables write is checked once they are mapped
// (checkRelocs).
func findStateRegion(f *elfimage.File, syms elfimage.SymTab, writable, readable []span) (*stateRegion, error) {
	region, hasRegion := definedSymbol(syms, stateSymbol)
	desc, hasDesc := definedSymbol(syms, stateDescSym)
	if !hasRegion && !hasDesc {
		return nil, nil
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s: %w", stateSymbol, fmt.Sprintf(format, args...), ErrStateLayout)
	}
	if !hasRegion || !hasDesc {
		return nil, bad("%s and %s must both be defined", stateSymbol, stateDescSym)
	}
	const page = stateHeaderSize
	r := &stateRegion{vaddr: region.Value, size: region.Size, desc: desc.Value}
	switch {
	case region.Type != elf.STT_OBJECT:
		return nil, bad("not a data object (%v)", region.Type)
	case r.size == 0 || r.size%page != 0 || r.vaddr%page != 0 || r.size > maxStateRegion:
		return nil, bad("[%#x,+%#x) is not whole pages (at most 1 GiB)", r.vaddr, r.size)
	case !inSpans(writable, r.vaddr, r.size):
		return nil, bad("[%#x,+%#x) is not inside one writable segment", r.vaddr, r.size)
	case desc.Size < stateDescSize || !inSpans(readable, r.desc, stateDescSize):
		return nil, bad("%s [%#x,+%d) is not %d readable bytes", stateDescSym, r.desc, desc.Size, stateDescSize)
	case overlaps(r.desc, stateDescSize, r.vaddr, r.size):
		return nil, bad("%s lies inside the region", stateDescSym)
	}
	if p := f.RELRO; p != nil && overlaps(p.Vaddr, p.Memsz, r.vaddr, r.size) {
		return nil, bad("overlaps PT_GNU_RELRO")
	}
	if p := f.TLS; p != nil && overlaps(p.Vaddr, p.Filesz, r.vaddr, r.size) {
		return nil, bad("overlaps the PT_TLS template")
	}
	return r, nil
}

// checkState finds p's state region in syms, the symbols of the first
// image of p mapped, once: an object that declares one badly is refused
// (ErrStateLayout). l.mu is held.
func (p *parsed) checkState(syms elfimage.SymTab) error {
	if p.stateChecked {
		return nil
	}
	st, err := findStateRegion(p.file, syms, p.writable, p.readable)
	if err != nil {
		return err
	}
	p.state, p.stateChecked = st, true
	return nil
}

// checkRelocs refuses a state region that a relocation of t writes
// into, or whose descriptor one writes into: the region's bytes are the
// state file's, not the object's, and the descriptor is read as the
// file's constant.
func (r *stateRegion) checkRelocs(t relocTables) error {
	hit := func(table string, i int, off uint64) error {
		if overlaps(off, 8, r.vaddr, r.size) || overlaps(off, 8, r.desc, stateDescSize) {
			return fmt.Errorf("%s: relocation %s[%d] writes at %#x: %w", stateSymbol, table, i, off, ErrStateLayout)
		}
		return nil
	}
	for _, tab := range [...]struct {
		name string
		v    elfimage.RelaView
	}{{"DT_RELA", t.rela}, {"DT_JMPREL", t.jmprel}} {
		for i := 0; i < tab.v.Len(); i++ {
			if err := hit(tab.name, i, tab.v.At(i).Off); err != nil {
				return err
			}
		}
	}
	var where uint64
	for i := 0; i < t.relr.Len(); i++ {
		ent := t.relr.At(i)
		if ent&1 == 0 {
			if err := hit("DT_RELR", i, ent); err != nil {
				return err
			}
			where = ent + 8
			continue
		}
		for bits, j := ent>>1, uint64(0); bits != 0; bits, j = bits>>1, j+1 {
			if bits&1 != 0 {
				if err := hit("DT_RELR", i, where+j*8); err != nil {
					return err
				}
			}
		}
		where += 63 * 8
	}
	return nil
}

// definedSymbol returns the default definition of name in t.
func definedSymbol(t elfimage.SymTab, name string) (*elfimage.Symbol, bool) {
	h := newNameHash(name)
	i, ok := h.lookup(t, "")
	if !ok {
		return nil, false
	}
	s, err := t.Def(i)
	if err != nil || !s.Defined() || s.Shndx == elf.SHN_ABS {
		return nil, false
	}
	s.Name = name
	return &s, true
}

// overlaps reports whether [a, a+n) and [b, b+m) intersect (ranges that
// wrap around count as overlapping everything).
func overlaps(a, n, b, m uint64) bool {
	ae, be := a+n, b+m
	if ae < a || be < b {
		return true
	}
	return a < be && b < ae
}

// StateInfo describes a plugin's mapped persistent state.
type StateInfo struct {
	// Addr is the address of the state (NAME of RUNPLUG_STATE) in the
	// plugin's address space: Plugin.ReadMemory reads it without a call.
	Addr uintptr
	// Size is the region's size (whole pages); TypeSize is sizeof(TYPE).
	Size, TypeSize uint64
	// Version is the layout version (RUNPLUG_STATE's VERSION).
	Version uint32
	// Path is the state file ("" for an anonymous memfd).
	Path string
	// Generation is the state file's header generation: it grows by one
	// with each migration.
	Generation uint64
}

// stateSource says where a load maps its state from: a file path, a
// memfd that a Live's versions share, or (both zero) a fresh memfd.
type stateSource struct {
	path  string
	memfd int // > 0: reopened through /proc/self/fd, for a lock of its own
	// handed: in an isolated child, the descriptor and slots the host
	// handed over (state_handed.go).
	handed *wire.RemoteState
	staged *stagedState // and the slot it mapped (state_handed.go)
}

// stateMap is an object's mapped state: the open state file (holding a
// shared flock while mapped), and the region over it.
type stateMap struct {
	info stateInfoInternal
	// view is the region's bytes in this process: the image's own pages
	// over the file, or the host's read-only mapping of an isolated
	// plugin's slot (state_remote.go).
	view []byte
	kind stateKind
	file *os.File // stateHost: the state file, owner of fd

	mu     sync.Mutex
	fd     int // -1 once closed
	closed bool
}

// stateKind says whose mapping a stateMap is, and so who locks, syncs
// and unmaps.
type stateKind uint8

const (
	// stateOwn: a plugin in process; it locks, syncs and closes.
	stateOwn stateKind = iota
	// stateHanded: an isolated child's, from the descriptor the host
	// handed over; the host locks and syncs (the child's filter refuses
	// flock, msync and fdatasync).
	stateHanded
	// stateHost: the host's read-only view of an isolated plugin's
	// state; it syncs, unmaps the view and closes the file.
	stateHost
)

type stateInfoInternal struct {
	StateInfo
	vaddr uint64 // the region's vaddr in the object
	shown string // the file's name in messages
}

// attachState maps root's state region from src: initialising an empty
// file, or migrating one that holds another layout. It runs after
// relocation and before the constructors. l.mu is held.
func (l *Loader) attachState(ctx context.Context, o *object, src stateSource) (err error) {
	r := o.p.state
	tabs, err := tablesIn(o.p.file.Dynamic, o.mem, o.p.plan.MinVaddr)
	if err != nil {
		return err
	}
	if err := r.checkRelocs(tabs); err != nil {
		return &RefusedError{Path: o.path, Err: err}
	}
	d, err := o.stateDesc()
	if err != nil {
		return &RefusedError{Path: o.path, Err: err}
	}
	if src.handed != nil {
		return l.attachHandedState(ctx, o, d, src.handed, src.staged)
	}
	fd, shown, err := openStateFile(src, o.name)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			unix.Close(fd)
		}
	}()
	if err := flock(fd, unix.LOCK_SH, shown); err != nil {
		return err
	}
	rec, which, size, err := readStateHeader(fd, shown)
	if err != nil {
		return err
	}
	if size == 0 {
		if rec, err = initStateFile(fd, shown, d, r.size); err != nil {
			return err
		}
	} else if rec.Version != d.version || rec.TypeSize != d.typeSize || rec.Slot != r.size {
		if rec, err = l.migrateState(ctx, o, fd, shown, rec, which, size, d); err != nil {
			return err
		}
	}
	if err := o.img.ShareFile(r.vaddr, r.size, fd, rec.Off); err != nil {
		return fmt.Errorf("state file %s: %w", shown, err)
	}
	info := StateInfo{Addr: uintptr(o.base + r.vaddr), Size: r.size, TypeSize: d.typeSize, Version: d.version, Generation: rec.Gen}
	if src.path != "" {
		info.Path = src.path
	}
	o.state = &stateMap{fd: fd, view: o.stateRegion(), info: stateInfoInternal{StateInfo: info, vaddr: r.vaddr, shown: shown}}
	return nil
}

// stateDescriptor is runplug_state_desc as read from the image.
type stateDescriptor struct {
	version  uint32
	typeSize uint64
}

// stateDesc reads and checks o's runplug_state_desc (read-only data no
// relocation touches: findStateRegion checked).
func (o *object) stateDesc() (stateDescriptor, error) {
	r := o.p.state
	off := r.desc - o.p.plan.MinVaddr
	b := o.mem[off : off+stateDescSize]
	d := stateDescriptor{version: binary.LittleEndian.Uint32(b[4:]), typeSize: binary.LittleEndian.Uint64(b[8:])}
	if m := binary.LittleEndian.Uint32(b); m != stateDescMagic {
		return d, fmt.Errorf("%s: magic %#x, want %#x: %w", stateDescSym, m, stateDescMagic, ErrStateLayout)
	}
	if d.typeSize == 0 || d.typeSize > r.size {
		return d, fmt.Errorf("%s: type size %d does not fit the %d-byte region: %w", stateDescSym, d.typeSize, r.size, ErrStateLayout)
	}
	return d, nil
}

// openStateFile opens (creating) the state file of src. shown names it
// in messages.
func openStateFile(src stateSource, plugin string) (fd int, shown string, err error) {
	path := src.path
	if src.memfd > 0 {
		// A new open file description of the same memfd: flock locks
		// are per description, so this instance's lock is its own.
		fd, err = unix.Open(fmt.Sprintf("/proc/self/fd/%d", src.memfd), unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, "memfd", fmt.Errorf("state: reopen memfd: %w", err)
		}
		return fd, "memfd", nil
	}
	if path == "" {
		fd, err = newStateMemfd("runplug-state:" + plugin)
		if err != nil {
			return -1, "memfd", fmt.Errorf("state: memfd_create: %w", err)
		}
		return fd, "memfd", nil
	}
	fd, err = unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0o600)
	if err != nil {
		return -1, path, &os.PathError{Op: "open state file", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, path, fmt.Errorf("state file %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return -1, path, &StateFileError{Path: path, Msg: "not a regular file"}
	}
	return fd, path, nil
}

// flock takes a lock on fd without waiting: a state file being migrated
// elsewhere (or mapped elsewhere, for LOCK_EX) is busy.
func flock(fd, how int, shown string) error {
	for {
		err := unix.Flock(fd, how|unix.LOCK_NB)
		switch err {
		case nil:
			return nil
		case unix.EINTR:
			continue
		case unix.EWOULDBLOCK:
			return fmt.Errorf("state file %s: %w", shown, ErrStateBusy)
		}
		return fmt.Errorf("state file %s: flock: %w", shown, err)
	}
}

// readStateHeader returns the active record of fd's header and the file
// size (0: an empty file, to be initialised; rec is then zero).
func readStateHeader(fd int, shown string) (rec stateRecord, which int, size int64, err error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return rec, 0, 0, fmt.Errorf("state file %s: %w", shown, err)
	}
	if st.Size == 0 {
		return rec, 0, 0, nil
	}
	if st.Size < stateHeaderSize {
		return rec, 0, st.Size, &StateFileError{Path: shown, Msg: fmt.Sprintf("%d bytes, shorter than the %d-byte header", st.Size, stateHeaderSize)}
	}
	hdr := make([]byte, stateHeaderSize)
	if _, err := fdReader(fd).ReadAt(hdr, 0); err != nil {
		return rec, 0, st.Size, fmt.Errorf("state file %s: read header: %w", shown, err)
	}
	rec, which, why, ok := activeRecord(hdr, st.Size)
	if !ok {
		return rec, 0, st.Size, &StateFileError{Path: shown, Msg: "no valid header record: " + why}
	}
	return rec, which, st.Size, nil
}

// initStateFile lays out an empty state file: the header with one record
// (generation 1), then a zero-filled slot of size bytes.
func initStateFile(fd int, shown string, d stateDescriptor, size uint64) (stateRecord, error) {
	if err := flock(fd, unix.LOCK_EX, shown); err != nil {
		return stateRecord{}, err
	}
	defer flock(fd, unix.LOCK_SH, shown)
	// Another process may have initialised it between our looks.
	if rec, _, n, err := readStateHeader(fd, shown); err != nil || n != 0 {
		return rec, err
	}
	rec := stateRecord{Gen: 1, Version: d.version, TypeSize: d.typeSize, Off: stateHeaderSize, Slot: size}
	if err := unix.Ftruncate(fd, int64(stateHeaderSize+size)); err != nil {
		return rec, fmt.Errorf("state file %s: size: %w", shown, err)
	}
	if err := pwriteAll(fd, rec.marshal(), stateRecordOff[0]); err != nil {
		return rec, fmt.Errorf("state file %s: write header: %w", shown, err)
	}
	if err := fdatasync(fd); err != nil {
		return rec, fmt.Errorf("state file %s: sync: %w", shown, err)
	}
	return rec, nil
}

// migrateState runs o's runplug_state_migrate from the active slot (rec)
// of a file of fileSize bytes to o's layout d, in o's still private
// region, and commits the result to a slot beside the active one. Any
// failure leaves the file as it was. l.mu is held.
func (l *Loader) migrateState(ctx context.Context, o *object, fd int, shown string, rec stateRecord, which int, fileSize int64, d stateDescriptor) (stateRecord, error) {
	r := o.p.state
	merr := &MigrationError{Path: shown, From: rec.Version, To: d.version, FromSize: rec.TypeSize, ToSize: d.typeSize}
	fail := func(err error) (stateRecord, error) {
		merr.Err = err
		return stateRecord{}, merr
	}
	if err := flock(fd, unix.LOCK_EX, shown); err != nil {
		return fail(err)
	}
	defer flock(fd, unix.LOCK_SH, shown)
	if err := l.migrateInto(ctx, o, fd, rec, merr); err != nil {
		return stateRecord{}, err
	}
	next := stateRecord{Gen: rec.Gen + 1, Version: d.version, TypeSize: d.typeSize, Off: nextSlotOff(rec, r.size), Slot: r.size}
	if end := next.Off + next.Slot; end > uint64(fileSize) {
		if err := unix.Ftruncate(fd, int64(end)); err != nil {
			return fail(fmt.Errorf("grow the file: %w", err))
		}
	}
	if err := pwriteAll(fd, o.stateRegion(), int64(next.Off)); err != nil {
		return fail(fmt.Errorf("write the new slot: %w", err))
	}
	if err := commitState(fd, next, which); err != nil {
		return fail(err)
	}
	l.log.Info("migrated state", "plugin", o.name, "path", shown, "from", rec.Version, "to", d.version)
	return next, nil
}

// commitState makes the slot of next, already written, the active one:
// it syncs the slot, writes next into the header record that is not
// active (which is), and syncs again.
func commitState(fd int, next stateRecord, which int) error {
	if err := fdatasync(fd); err != nil {
		return fmt.Errorf("sync the new slot: %w", err)
	}
	if err := pwriteAll(fd, next.marshal(), stateRecordOff[1-which]); err != nil {
		return fmt.Errorf("write the header: %w", err)
	}
	if err := fdatasync(fd); err != nil {
		return fmt.Errorf("sync the header: %w", err)
	}
	return nil
}

// migrateInto calls o's runplug_state_migrate on a read-only copy of the
// old slot rec of fd, into o's region, still private and zeroed first.
// It fails with merr (its Err or Result set). It writes nothing to the
// file. l.mu is held.
func (l *Loader) migrateInto(ctx context.Context, o *object, fd int, rec stateRecord, merr *MigrationError) error {
	if _, err := migrateSymbol(o); err != nil {
		merr.Err = err
		return merr
	}
	old, err := readOldState(fd, rec)
	if err != nil {
		merr.Err = err
		return merr
	}
	defer unix.Munmap(old)
	return l.migrateFrom(ctx, o, old, rec, merr)
}

// migrateSymbol returns o's runplug_state_migrate.
func migrateSymbol(o *object) (*elfimage.Symbol, error) {
	sym, ok := definedSymbol(o.syms, stateMigrate)
	if !ok || sym.Type != elf.STT_FUNC || !inSpans(o.p.exec, sym.Value, 1) {
		return sym, fmt.Errorf("the plugin defines no function %s: %w", stateMigrate, ErrSymbolNotFound)
	}
	return sym, nil
}

// readOldState copies the old state, slot rec of fd, into a read-only
// private mapping (the caller unmaps it): the migration reads a copy
// that nothing else changes.
func readOldState(fd int, rec stateRecord) ([]byte, error) {
	oldLen := (rec.TypeSize + stateHeaderSize - 1) / stateHeaderSize * stateHeaderSize
	old, err := unix.Mmap(-1, 0, int(oldLen), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("mmap the old state: %w", err)
	}
	if _, err := fdReader(fd).ReadAt(old[:rec.TypeSize], int64(rec.Off)); err != nil {
		unix.Munmap(old)
		return nil, fmt.Errorf("read the old state: %w", err)
	}
	if err := unix.Mprotect(old, unix.PROT_READ); err != nil {
		unix.Munmap(old)
		return nil, fmt.Errorf("mprotect the old state: %w", err)
	}
	return old, nil
}

// migrateFrom calls o's runplug_state_migrate on old (rec's state, a
// read-only copy) into o's region, zeroed first. It fails with merr (its
// Err or Result set). l.mu is held.
func (l *Loader) migrateFrom(ctx context.Context, o *object, old []byte, rec stateRecord, merr *MigrationError) error {
	r := o.p.state
	fail := func(err error) error {
		merr.Err = err
		return merr
	}
	sym, err := migrateSymbol(o)
	if err != nil {
		return fail(err)
	}
	clear(o.stateRegion())
	if l.noExec {
		return nil
	}
	if err := l.beforeCode(); err != nil {
		return fail(err)
	}
	args := pcall.Args{Int: [6]uint64{uint64(rec.Version), mappedAddr(old), rec.TypeSize, o.base + r.vaddr, merr.ToSize}}
	leave := l.dl.enter()
	res, err := pcall.CallContext(ctx, uintptr(o.base+sym.Value), &args)
	l.dl.leave(leave)
	if err != nil {
		return fail(err)
	}
	if merr.Result = int32(res.Int); merr.Result != 0 {
		return merr
	}
	return nil
}

// stateRegion returns o's state region in its image.
func (o *object) stateRegion() []byte {
	r := o.p.state
	return o.mem[r.vaddr-o.p.plan.MinVaddr:][:r.size]
}

// pwriteAll writes b at off.
func pwriteAll(fd int, b []byte, off int64) error {
	for len(b) > 0 {
		n, err := unix.Pwrite(fd, b, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b, off = b[n:], off+int64(n)
	}
	return nil
}

// syncState writes the region's dirty pages to the file (msync MS_SYNC).
func (o *object) syncState() error {
	s := o.state
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("state file %s: %w", s.info.shown, ErrClosed)
	}
	if s.kind == stateHanded {
		return nil // the host's to sync
	}
	return s.syncLocked()
}

// syncLocked writes the file's dirty pages of the region: those the
// plugin wrote through its own mapping too (msync of a shared mapping
// writes back the file's range, whichever mapping dirtied it).
func (s *stateMap) syncLocked() error {
	if err := unix.Msync(s.view, unix.MS_SYNC); err != nil {
		return fmt.Errorf("state file %s: msync: %w", s.info.shown, err)
	}
	return nil
}

// closeState syncs the state, puts private pages back over the region
// (unshare: the image may be parked and reused, which must neither keep
// the file nor write into it) and closes the file, releasing its lock.
// Without unshare (the image is about to be unmapped) it only closes.
func (o *object) closeState(unshare bool) error {
	s := o.state
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	switch {
	case s.kind == stateHost:
		errs = append(errs, s.syncLocked())
		unix.Munmap(s.view)
	case unshare && o.mem != nil:
		if s.kind == stateOwn {
			errs = append(errs, s.syncLocked())
		}
		if err := o.img.Unshare(s.info.vaddr, s.info.Size); err != nil {
			errs = append(errs, fmt.Errorf("state file %s: %w", s.info.shown, err))
		}
	}
	s.view = nil
	if s.file != nil {
		s.file.Close()
	} else if s.fd >= 0 { // a child's handed state has none
		unix.Close(s.fd)
	}
	s.fd = -1
	return errors.Join(errs...)
}

// State describes the plugin's persistent state region; ok is false when
// the plugin declares none (or is closed). For an isolated plugin, Addr
// is the address in its process; ReadState reads the state without a
// call either way.
func (p *Plugin) State() (info StateInfo, ok bool) {
	if p.obj == nil || p.obj.state == nil {
		return StateInfo{}, false
	}
	s := p.obj.state
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return StateInfo{}, false
	}
	return s.info.StateInfo, true
}

// SyncState writes the plugin's state to its file and waits until it is
// on disk (msync MS_SYNC). Close does it too. A plugin without state has
// nothing to sync: nil. ctx is checked before the sync starts (msync
// itself cannot be interrupted).
func (p *Plugin) SyncState(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("loader: sync state of %s: %w", p.obj.name, err)
	}
	if p.obj.state == nil {
		return nil
	}
	if err := p.obj.syncState(); err != nil {
		return fmt.Errorf("loader: sync state of %s: %w", p.obj.name, err)
	}
	return nil
}

// ReadState copies len(dst) bytes of the plugin's state, from off bytes
// into its region, into dst. It reads memory mapped in the host, with no
// call: for an isolated plugin the host maps the same pages of the state
// file read-only. The plugin may be writing them meanwhile: read what it
// writes atomically, or ask it. A plugin without state (or closed), or a
// range outside the region, is an error.
func (p *Plugin) ReadState(off int, dst []byte) error {
	s := p.obj.state
	if s == nil {
		return fmt.Errorf("loader: read state of %s: no state region", p.obj.name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return fmt.Errorf("loader: read state of %s: %w", p.obj.name, ErrClosed)
	case off < 0 || off > len(s.view) || len(dst) > len(s.view)-off:
		return fmt.Errorf("loader: read state of %s: [%d,+%d) is outside the %d-byte region", p.obj.name, off, len(dst), len(s.view))
	}
	copy(dst, s.view[off:])
	return nil
}
