package elfmap

import "github.com/runplug/runplug/internal/elfimage"

// The errors a tool tests. They are the loader's own (internal/elfimage
// defines them), so a refusal reads the same from Open as from
// loader.Load.
type (
	// FormatError is a file refused by Open or Parse: it names the field
	// at fault (Field), its file offset (Off, or -1) and its value (Value),
	// says what is wrong (Msg), and wraps ErrMalformed or ErrUnsupported.
	FormatError = elfimage.FormatError
	// ExecutableError refuses an executable (ET_EXEC, or a PIE by its
	// DF_1_PIE flag): a *FormatError for which errors.Is(err,
	// ErrExecutable) is true.
	ExecutableError = elfimage.ExecutableError
)

var (
	// ErrMalformed is wrapped by a FormatError for a file that breaks the
	// ELF specification or contradicts itself.
	ErrMalformed = elfimage.ErrMalformed
	// ErrUnsupported is wrapped by a FormatError for a well-formed file
	// runplug does not load (another class, byte order, machine or object
	// type, a relocation format it does not implement). It is runplug's
	// one ErrUnsupported: loader.ErrUnsupported is the same value.
	ErrUnsupported = elfimage.ErrUnsupported
	// ErrExecutable is what an *ExecutableError is (errors.Is).
	ErrExecutable = elfimage.ErrExecutable
)
