package loader

import (
	"errors"

	"github.com/runplug/runplug/internal/errs"
)

var (
	// ErrStateLayout is wrapped by the error of a load refused because
	// the object's persistent state region (RUNPLUG_STATE, see
	// docs/STATE.md) is malformed: not whole pages of a read-write
	// segment, the target of a relocation, or a descriptor that does not
	// describe it. It wraps ErrUnsupported.
	ErrStateLayout = errs.Unsupported("bad persistent state region")
	// ErrStateFile is wrapped by a *StateFileError: a state file that
	// cannot be used (corrupt header, not a regular file).
	ErrStateFile = errs.ErrStateFile
	// ErrStateBusy is wrapped by the error of a load that must migrate
	// or initialise a state file while another instance (in this
	// process or another) has it mapped: a layout change needs the file
	// to itself.
	ErrStateBusy = errors.New("state file in use by another instance")
	// ErrMigration is wrapped by a *MigrationError.
	ErrMigration = errs.ErrMigration
)

type (
	// StateFileError reports a state file runplug refuses to map.
	StateFileError = errs.StateFileError
	// MigrationError reports a load refused because the state file holds
	// another layout than the plugin's and migrating it failed.
	MigrationError = errs.MigrationError
)
