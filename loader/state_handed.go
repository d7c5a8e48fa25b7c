package loader

import (
	"context"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/wire"
)

// The isolated child's side of an isolated plugin's state (the host's is
// state_remote.go). The host opened the state file, read and checked its
// header, chose the slot the plugin maps and, for a migration, the slot
// it migrates from; it locks the file and commits. The child inherits
// the descriptor (wire.StateFD) and reads no header.
//
// Before any plugin code runs (an IFUNC resolver, the migration, a
// constructor), the child maps the slot MAP_SHARED, copies the old slot
// for a migration, and closes the descriptor (stageHanded): plugin code
// can reach the slot's pages, never the header records the host owns
// nor any other byte through a descriptor (docs/STATE.md, "What the
// child can do to the file").

func init() {
	wire.LoadHandedState = func(ctx context.Context, l any, path, name string, image []byte, st wire.RemoteState) (any, error) {
		ll := l.(*Loader)
		sg, err := stageHanded(st)
		if err != nil {
			return nil, fmt.Errorf("loader: load %s: state file %s: %w", name, st.Name, err)
		}
		defer sg.release() // what the load did not move into its image
		src := stateSource{handed: &st, staged: sg}
		if path == "" {
			return ll.loadBytes(ctx, name, image, src)
		}
		return ll.load(ctx, path, src)
	}
}

// stagedState is the state file as the child holds it once its
// descriptor is closed: the planned slot mapped MAP_SHARED (moved over
// the region by the load), and for a migration a read-only copy of the
// slot it migrates from.
type stagedState struct {
	slot []byte
	old  []byte
}

// stageHanded maps st's slot from wire.StateFD and copies the old slot of
// a migration, then closes the descriptor, whatever happened.
func stageHanded(st wire.RemoteState) (sg *stagedState, err error) {
	fd := wire.StateFD
	defer unix.Close(fd)
	sg = &stagedState{}
	defer func() {
		if err != nil {
			sg.release()
		}
	}()
	if st.Slot.Size == 0 || st.Slot.Size > maxStateRegion || st.Slot.Off < stateHeaderSize || st.Slot.Off%stateHeaderSize != 0 {
		return nil, fmt.Errorf("planned slot of %d bytes at %d: %w", st.Slot.Size, st.Slot.Off, ErrStateLayout)
	}
	if sg.slot, err = unix.Mmap(fd, int64(st.Slot.Off), int(st.Slot.Size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		return nil, fmt.Errorf("mmap the slot: %w", err)
	}
	if f := st.From; f != nil {
		if sg.old, err = readOldState(fd, stateRecord{Version: f.Version, TypeSize: f.TypeSize, Off: f.Off, Slot: f.Size}); err != nil {
			return nil, err
		}
	}
	return sg, nil
}

// release unmaps what is still staged.
func (sg *stagedState) release() {
	if sg.slot != nil {
		unix.Munmap(sg.slot)
		sg.slot = nil
	}
	if sg.old != nil {
		unix.Munmap(sg.old)
		sg.old = nil
	}
}

// attachHandedState moves the staged slot over root's state region,
// after migrating into it when the host asked. l.mu is held.
func (l *Loader) attachHandedState(ctx context.Context, o *object, d stateDescriptor, st *wire.RemoteState, sg *stagedState) error {
	r := o.p.state
	slot := st.Slot
	if slot.Version != d.version || slot.TypeSize != d.typeSize || slot.Size != r.size {
		return &RefusedError{Path: o.path, Err: fmt.Errorf("%s: the host planned layout %d (%d bytes in %d), the object's is %d (%d bytes in %d): %w",
			stateSymbol, slot.Version, slot.TypeSize, slot.Size, d.version, d.typeSize, r.size, ErrStateLayout)}
	}
	shown := st.Name
	if f := st.From; f != nil {
		merr := &MigrationError{Path: shown, From: f.Version, To: d.version, FromSize: f.TypeSize, ToSize: d.typeSize}
		from := stateRecord{Version: f.Version, TypeSize: f.TypeSize, Off: f.Off, Slot: f.Size}
		if err := l.migrateFrom(ctx, o, sg.old, from, merr); err != nil {
			return err
		}
		copy(sg.slot, o.stateRegion()) // the new slot, which the host commits
	}
	if err := o.img.MoveShared(r.vaddr, r.size, sg.slot); err != nil {
		return fmt.Errorf("state file %s: %w", shown, err)
	}
	sg.slot = nil // moved: the image's now
	info := StateInfo{Addr: uintptr(o.base + r.vaddr), Size: r.size, TypeSize: d.typeSize, Version: d.version}
	o.state = &stateMap{fd: -1, kind: stateHanded, view: o.stateRegion(), info: stateInfoInternal{StateInfo: info, vaddr: r.vaddr, shown: shown}}
	return nil
}
