package errs

import (
	"errors"
	"fmt"
	"strings"
)

// The errors of a load: a library or a symbol not found, a relocation or
// an object refused.
var (
	// ErrNotFound is wrapped by the error of a load whose object or one
	// of its needed libraries could not be found (a *NotFoundError).
	ErrNotFound = errors.New("library not found")
	// ErrSymbolNotFound is returned (wrapped) by Plugin.Lookup and
	// Plugin.Func for a name the plugin does not define, and wrapped by
	// an *UndefinedSymbolError when a load fails on a missing import.
	ErrSymbolNotFound = errors.New("symbol not found")
)

// NotFoundError reports a library that no search path entry provides.
type NotFoundError struct {
	// Name is the library as named: a DT_NEEDED entry or a path.
	Name string
	// Needer is the object whose DT_NEEDED names it ("" for a top-level
	// Load).
	Needer string
	// Tried lists the paths tried, in order.
	Tried []string
	// Err is the last error met on a candidate that exists but could not
	// be used (nil when none existed).
	Err error
}

// Error formats e as
//
//	library "libfoo.so" needed by "bar.so" not found (tried 7 paths)
func (e *NotFoundError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "library %q", e.Name)
	if e.Needer != "" {
		fmt.Fprintf(&b, " needed by %q", e.Needer)
	}
	fmt.Fprintf(&b, " not found (tried %d paths", len(e.Tried))
	if len(e.Tried) > 0 && len(e.Tried) <= 4 {
		b.WriteString(": " + strings.Join(e.Tried, ", "))
	}
	b.WriteString(")")
	if e.Err != nil {
		b.WriteString(": last candidate: " + e.Err.Error())
	}
	return b.String()
}

// Unwrap returns ErrNotFound and the last candidate's error.
func (e *NotFoundError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrNotFound, e.Err}
	}
	return []error{ErrNotFound}
}

// UndefinedSymbolError reports a strong import that nothing provides.
type UndefinedSymbolError struct {
	Object  string // the importing object's name
	Symbol  string // the symbol's name
	Version string // the version asked for ("" when unversioned)
}

// Error formats e as `foo.so: undefined symbol "bar@V1"`.
func (e *UndefinedSymbolError) Error() string {
	s := e.Symbol
	if e.Version != "" {
		s += "@" + e.Version
	}
	return fmt.Sprintf("%s: undefined symbol %q", e.Object, s)
}

// Unwrap returns ErrSymbolNotFound.
func (e *UndefinedSymbolError) Unwrap() error { return ErrSymbolNotFound }

// RelocError reports a relocation the loader refused to apply.
type RelocError struct {
	Object string // the object being relocated
	Table  string // "DT_RELA", "DT_JMPREL" or "DT_RELR"
	Index  int    // the entry's index in its table
	Type   uint32 // r_type (0 for DT_RELR)
	Off    uint64 // r_offset: the place, relative to the load base
	Sym    uint32 // r_sym
	Msg    string // what is wrong
	// Err is elfmap.ErrMalformed (a place outside writable memory, a
	// symbol index past the table), ErrUnsupported (a type the loader
	// does not implement) or loader.ErrTLS.
	Err error
}

// Error formats e as
//
//	relocate foo.so: DT_RELA[3] R_X86_64_PC32 at 0x3fd8: unsupported relocation type
func (e *RelocError) Error() string {
	name := "relr"
	if e.Table != "DT_RELR" {
		name = RelocTypeName(e.Type)
	}
	return fmt.Sprintf("relocate %s: %s[%d] %s at %#x (symbol %d): %s", e.Object, e.Table, e.Index, name, e.Off, e.Sym, e.Msg)
}

// Unwrap returns Err.
func (e *RelocError) Unwrap() error { return e.Err }

// RefusedError is the error of a library that was found, is a shared object
// ld.so would load, and that runplug refuses: a needed library's refusal
// is reported with it, not as "not found".
type RefusedError struct {
	Path string // the file
	Err  error  // why: wraps loader.ErrTLS, ErrUnsupported, elfmap.ErrMalformed...
}

// Error formats e as `/lib/x.so: refused: ...`.
func (e *RefusedError) Error() string { return e.Path + ": refused: " + e.Err.Error() }

// Unwrap returns Err.
func (e *RefusedError) Unwrap() error { return e.Err }
