package errs

import (
	"errors"
	"fmt"
)

// The errors of a persistent state file (docs/STATE.md).
var (
	// ErrStateFile is wrapped by a *StateFileError: a state file that
	// cannot be used (corrupt header, not a regular file).
	ErrStateFile = errors.New("bad state file")
	// ErrMigration is wrapped by a *MigrationError.
	ErrMigration = errors.New("state migration failed")
)

// StateFileError reports a state file runplug refuses to map.
type StateFileError struct {
	Path string // the state file ("memfd" for an anonymous one)
	Msg  string // what is wrong
}

// Error formats e as "state file PATH: MSG: bad state file".
func (e *StateFileError) Error() string {
	return fmt.Sprintf("state file %s: %s: %v", e.Path, e.Msg, ErrStateFile)
}

// Unwrap returns ErrStateFile.
func (e *StateFileError) Unwrap() error { return ErrStateFile }

// MigrationError reports a load refused because the state file holds
// another layout (version or size) than the plugin's and migrating it
// failed: the plugin exports no runplug_state_migrate (Err wraps
// ErrSymbolNotFound), the function returned non-zero (Result), or it
// faulted (Err wraps the *FaultError). The state file is left as
// it was.
type MigrationError struct {
	Path             string // the state file
	From, To         uint32 // layout versions: the file's, the plugin's
	FromSize, ToSize uint64 // type sizes: the file's, the plugin's
	Result           int32  // what runplug_state_migrate returned (0 when it did not return)
	Err              error  // why, when it is not a non-zero result
}

// Error formats e as, for example, "state file s.bin: migrate version 1
// (16 bytes) to 2 (24 bytes): runplug_state_migrate returned 3: state
// migration failed".
func (e *MigrationError) Error() string {
	why := fmt.Sprintf("runplug_state_migrate returned %d", e.Result)
	if e.Err != nil {
		why = e.Err.Error()
	}
	return fmt.Sprintf("state file %s: migrate version %d (%d bytes) to %d (%d bytes): %s: %v",
		e.Path, e.From, e.FromSize, e.To, e.ToSize, why, ErrMigration)
}

// Unwrap returns ErrMigration and Err.
func (e *MigrationError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrMigration}
	}
	return []error{ErrMigration, e.Err}
}
