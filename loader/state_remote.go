package loader

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/elfimage"
	"github.com/runplug/runplug/internal/fileinfo"
	"github.com/runplug/runplug/internal/ldso"
	"github.com/runplug/runplug/internal/wire"
)

// The host's side of an isolated plugin's persistent state (the child's
// is state_handed.go). The host reads the plugin's layout from its file,
// opens the state file, takes the lock, reads and checks the header (or
// lays out an empty file) and plans the slot, then hands the descriptor
// to the child at its spawn. After the load it commits a migration the
// child made, and maps the slot read-only: Plugin.ReadState is then a
// memory read. The child can write the whole file (it holds a read-write
// descriptor); the host takes no decision from bytes it did not copy and
// check: the header is read with pread and checked at each load, and its
// own view is the slot it planned, never one the file names later.

// remoteState is an isolated load's state, planned before the child
// starts.
type remoteState struct {
	file  *os.File // the state file; the child inherits it
	shown string
	path  string
	slot  stateRecord  // the slot the child maps
	from  *stateRecord // the active slot, when the child migrates from it
	which int          // from's header record
	req   *wire.RemoteState
	// grownFrom is the file's size before plan grew it for the new slot
	// (the child maps the slot, so it must exist first); -1 when not
	// grown. A migration that fails shrinks it back.
	grownFrom int64
}

// planRemoteState prepares the state of an isolated load of path (or
// image): nil when the object declares no state region, or when it is a
// name the child searches for, which searchStateful found no state in
// (its state, if any, is then a memfd of the child, unless src names a
// file: an error).
func (l *Loader) planRemoteState(path, name string, image []byte, src stateSource) (*remoteState, error) {
	if path != "" && !strings.ContainsRune(path, '/') {
		if src.path != "" {
			return nil, fmt.Errorf("a state file for an isolated plugin named %q: the search finds no object with a state region here (the child searches for it): give its path: %w", path, ErrUnsupported)
		}
		return nil, nil
	}
	lay, err := stateLayoutOf(path, image)
	if err != nil || lay == nil {
		// An object the loader refuses: the child's load refuses it
		// too, with the error a load in process gives.
		return nil, nil
	}
	fd, shown, err := openStateFile(src, name)
	if err != nil {
		return nil, err
	}
	rs := &remoteState{file: os.NewFile(uintptr(fd), shown), shown: shown, path: src.path, grownFrom: -1}
	if err := rs.plan(lay); err != nil {
		rs.file.Close()
		return nil, err
	}
	rs.req = &wire.RemoteState{File: rs.file, Name: shown, Slot: rs.slot.wire()}
	if rs.from != nil {
		f := rs.from.wire()
		rs.req.From = &f
	}
	return rs, nil
}

// plan locks the file and chooses the slot for layout lay: the active
// one, or (another layout) one beside it to migrate into, with the file
// locked exclusively until commit.
func (rs *remoteState) plan(lay *fileinfo.StateLayout) error {
	fd := int(rs.file.Fd())
	if err := flock(fd, unix.LOCK_SH, rs.shown); err != nil {
		return err
	}
	d := stateDescriptor{version: lay.Version, typeSize: lay.TypeSize}
	rec, which, size, err := readStateHeader(fd, rs.shown)
	if err != nil {
		return err
	}
	if size == 0 {
		rs.slot, err = initStateFile(fd, rs.shown, d, lay.Size)
		return err
	}
	if rec.Version == d.version && rec.TypeSize == d.typeSize && rec.Slot == lay.Size {
		rs.slot = rec
		return nil
	}
	if err := flock(fd, unix.LOCK_EX, rs.shown); err != nil {
		return &MigrationError{Path: rs.shown, From: rec.Version, To: d.version, FromSize: rec.TypeSize, ToSize: d.typeSize, Err: err}
	}
	rs.from, rs.which = &rec, which
	rs.slot = stateRecord{Gen: rec.Gen + 1, Version: d.version, TypeSize: d.typeSize, Off: nextSlotOff(rec, lay.Size), Slot: lay.Size}
	if end := rs.slot.Off + rs.slot.Slot; end > uint64(size) {
		if err := unix.Ftruncate(fd, int64(end)); err != nil {
			return &MigrationError{Path: rs.shown, From: rec.Version, To: d.version, FromSize: rec.TypeSize, ToSize: d.typeSize, Err: fmt.Errorf("grow the file: %w", err)}
		}
		rs.grownFrom = size
	}
	return nil
}

func (r stateRecord) wire() wire.StateSlot {
	return wire.StateSlot{Off: r.Off, Size: r.Slot, TypeSize: r.TypeSize, Version: r.Version}
}

// failed closes the file of a load that failed, first shrinking it back
// to its size when plan grew it and nothing was committed.
func (rs *remoteState) failed(err error) error {
	if rs.grownFrom >= 0 {
		unix.Ftruncate(int(rs.file.Fd()), rs.grownFrom)
	}
	rs.file.Close()
	return err
}

// finish runs once the child has loaded the plugin: it commits a
// migration (the child wrote the new slot), maps the slot read-only and
// gives o its stateMap. On error the caller ends the child.
func (rs *remoteState) finish(o *object, r wire.Remote) error {
	fd := int(rs.file.Fd())
	if rs.from != nil {
		rs.grownFrom = -1 // the new slot may be named from here on
		if err := commitState(fd, rs.slot, rs.which); err != nil {
			from := rs.from
			return rs.failed(&MigrationError{Path: rs.shown, From: from.Version, To: rs.slot.Version, FromSize: from.TypeSize, ToSize: rs.slot.TypeSize, Err: err})
		}
		// A restart of the child maps the committed slot.
		rs.req.From, rs.from = nil, nil
		if err := flock(fd, unix.LOCK_SH, rs.shown); err != nil {
			return rs.failed(err)
		}
	}
	sym, err := r.Lookup(stateSymbol, "")
	if err != nil {
		return rs.failed(err)
	}
	view, err := unix.Mmap(fd, int64(rs.slot.Off), int(rs.slot.Slot), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return rs.failed(fmt.Errorf("state file %s: map: %w", rs.shown, err))
	}
	info := StateInfo{Addr: uintptr(sym.Addr), Size: rs.slot.Slot, TypeSize: rs.slot.TypeSize, Version: rs.slot.Version, Path: rs.path, Generation: rs.slot.Gen}
	o.state = &stateMap{fd: fd, file: rs.file, kind: stateHost, view: view, info: stateInfoInternal{StateInfo: info, shown: rs.shown}}
	return nil
}

// searchStateful searches for name as the child's load would (the
// Loader's search: SearchPath, LD_LIBRARY_PATH, the ld.so cache, the
// default directories) and returns the first candidate that exists when
// it parses and declares a state region: the host then plans its state
// like a path's. ok is false otherwise (no candidate, one the loader
// would refuse, one without state, one of glibc's libraries): the child
// searches for the name itself.
func (l *Loader) searchStateful(name string) (string, bool) {
	if ldso.IsGlibc(name) {
		return "", false
	}
	for _, c := range l.search.Candidates(name, nil) {
		path, err := filepath.Abs(c.Path)
		if err != nil {
			continue
		}
		if _, err := os.Stat(path); err != nil {
			continue // as the child's search: not there, the next one
		}
		if lay, err := stateLayoutOf(path, nil); err != nil || lay == nil {
			return "", false
		}
		return path, true
	}
	return "", false
}

// stateLayoutOf reads the state layout of the object at path, or of
// image: nil when it declares none.
func stateLayoutOf(path string, image []byte) (*fileinfo.StateLayout, error) {
	var r io.ReaderAt = bytes.NewReader(image)
	size := int64(len(image))
	if path != "" {
		fh, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer fh.Close()
		st, err := fh.Stat()
		if err != nil {
			return nil, err
		}
		r, size = fh, st.Size()
	}
	f, err := elfimage.Parse(r, size)
	if err != nil {
		return nil, err
	}
	return readStateLayout(f, r)
}

// restateAddr updates State().Addr after a restart: the new child maps
// the region elsewhere. b.mu is held.
func (b *remote) restateAddr() error {
	s := b.p.obj.state
	if s == nil {
		return nil
	}
	sym, err := b.r.Lookup(stateSymbol, "")
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.info.Addr = uintptr(sym.Addr)
	s.mu.Unlock()
	return nil
}
