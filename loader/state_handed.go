package loader

import (
	"context"
	"fmt"

	"github.com/runplug/runplug/internal/wire"
)

// The isolated child's side of an isolated plugin's state (the host's is
// state_remote.go). The host opened the state file, read and checked its
// header, chose the slot the plugin maps and, for a migration, the slot
// it migrates from; it locks the file and commits. The child inherits
// the descriptor (wire.StateFD) and reads no header: its filter refuses
// flock, msync, fdatasync and ftruncate, and it needs none of them.

func init() {
	wire.LoadHandedState = func(ctx context.Context, l any, path, name string, image []byte, st wire.RemoteState) (any, error) {
		ll := l.(*Loader)
		src := stateSource{handed: &st}
		if path == "" {
			return ll.loadBytes(ctx, name, image, src)
		}
		return ll.load(ctx, path, src)
	}
}

// attachHandedState maps root's state region from the handed descriptor
// at the slot the host chose, after migrating into it when the host
// asked. l.mu is held.
func (l *Loader) attachHandedState(ctx context.Context, o *object, d stateDescriptor, st *wire.RemoteState) error {
	r := o.p.state
	slot := st.Slot
	if slot.Version != d.version || slot.TypeSize != d.typeSize || slot.Size != r.size {
		return &RefusedError{Path: o.path, Err: fmt.Errorf("%s: the host planned layout %d (%d bytes in %d), the object's is %d (%d bytes in %d): %w",
			stateSymbol, slot.Version, slot.TypeSize, slot.Size, d.version, d.typeSize, r.size, ErrStateLayout)}
	}
	fd, shown := wire.StateFD, st.Name
	if f := st.From; f != nil {
		merr := &MigrationError{Path: shown, From: f.Version, To: d.version, FromSize: f.TypeSize, ToSize: d.typeSize}
		from := stateRecord{Version: f.Version, TypeSize: f.TypeSize, Off: f.Off, Slot: f.Size}
		if err := l.migrateInto(ctx, o, fd, from, merr); err != nil {
			return err
		}
		if err := pwriteAll(fd, o.stateRegion(), int64(slot.Off)); err != nil {
			merr.Err = fmt.Errorf("write the new slot: %w", err)
			return merr
		}
	}
	if err := o.img.ShareFile(r.vaddr, r.size, fd, slot.Off); err != nil {
		return fmt.Errorf("state file %s: %w", shown, err)
	}
	info := StateInfo{Addr: uintptr(o.base + r.vaddr), Size: r.size, TypeSize: d.typeSize, Version: d.version}
	o.state = &stateMap{fd: fd, kind: stateHanded, view: o.stateRegion(), info: stateInfoInternal{StateInfo: info, vaddr: r.vaddr, shown: shown}}
	return nil
}
