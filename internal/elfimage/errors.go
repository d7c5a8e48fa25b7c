package elfimage

import (
	"errors"
	"fmt"
	"strings"

	"github.com/runplug/runplug/internal/errs"
)

// Sentinel errors. Every *FormatError wraps exactly one of them, so a host
// can tell a broken file from a valid one runplug does not support with
// errors.Is.
var (
	// ErrMalformed reports a file that breaks the ELF specification or
	// contradicts itself (a table outside the file, a count that does not
	// fit its memory, a missing terminator).
	ErrMalformed = errors.New("malformed ELF file")
	// ErrUnsupported reports a well-formed file runplug declines to load
	// (another class, byte order, machine or object type, a writable and
	// executable segment, a relocation format it does not implement). It
	// is runplug's one ErrUnsupported (errs.ErrUnsupported, which
	// loader.ErrUnsupported names too), and matches errors.ErrUnsupported.
	ErrUnsupported = errs.ErrUnsupported
)

// FormatError is the error for a file refused by Parse (or by planning):
// it names the field at fault, where it sits in the file and its value.
type FormatError struct {
	// Off is the file offset of the field, or -1 when the error is not
	// about one field at a known offset.
	Off int64
	// Field names the field: "e_machine", "phdr[2].p_filesz", "DT_STRSZ",
	// "dynsym[7].st_name", ...
	Field string
	// Value is the field's value as read from the file.
	Value uint64
	// Msg says what is wrong with it.
	Msg string
	// Err is ErrMalformed or ErrUnsupported.
	Err error
}

// Error formats the error as
//
//	elfmap: phdr[2].p_filesz = 0x5000 at offset 0x98: exceeds p_memsz 0x4000
func (e *FormatError) Error() string {
	var b strings.Builder
	b.WriteString("elfmap: ")
	b.WriteString(e.Field)
	fmt.Fprintf(&b, " = %#x", e.Value)
	if e.Off >= 0 {
		fmt.Fprintf(&b, " at offset %#x", e.Off)
	}
	if e.Msg != "" {
		b.WriteString(": ")
		b.WriteString(e.Msg)
	}
	return b.String()
}

// Unwrap returns the sentinel (ErrMalformed or ErrUnsupported), so that
// errors.Is(err, elfimage.ErrUnsupported) works through any wrapping.
func (e *FormatError) Unwrap() error { return e.Err }

// malformed returns a *FormatError wrapping ErrMalformed.
func malformed(off int64, field string, value uint64, format string, args ...any) *FormatError {
	return &FormatError{Off: off, Field: field, Value: value, Msg: fmt.Sprintf(format, args...), Err: ErrMalformed}
}

// unsupported returns a *FormatError wrapping ErrUnsupported.
func unsupported(off int64, field string, value uint64, format string, args ...any) *FormatError {
	return &FormatError{Off: off, Field: field, Value: value, Msg: fmt.Sprintf(format, args...), Err: ErrUnsupported}
}
