package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/runplug/runplug/internal/elfimage"
)

// notObjectError is the error for a FILE that is not an ELF shared object
// at all (text, a linker script, a directory, an executable, a .o): its
// message says so first, then the evidence, then what to do, so that a
// newcomer does not have to read ELF field names to learn they gave the
// wrong file.
type notObjectError struct {
	Path string
	Err  error  // the parser's evidence
	Hint string // what to do, or ""
}

func (e *notObjectError) Error() string {
	s := fmt.Sprintf("not an ELF shared object: %s: %v", e.Path, e.Err)
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

func (e *notObjectError) Unwrap() error { return e.Err }

// errNotRegular is the evidence for a FILE that is a directory or a device.
var errNotRegular = errors.New("not a regular file")

// asNotObject returns err as a *notObjectError when it says path is no
// ELF shared object (too short for an ELF header, no ELF magic, another
// object type, not a regular file), else err unchanged.
func asNotObject(path string, err error) error {
	var fe *elfimage.FormatError
	switch {
	case errors.Is(err, errNotRegular), errors.Is(err, elfimage.ErrExecutable):
	case errors.As(err, &fe) && (fe.Field == "file size" && fe.Off < 0 || fe.Field == "e_ident[EI_MAG]" || fe.Field == "e_type"):
	default:
		return err
	}
	return &notObjectError{Path: path, Err: err, Hint: notObjectHint(path, err)}
}

// notObjectHint says what to do about a file that is not a shared object.
func notObjectHint(path string, err error) string {
	if errors.Is(err, elfimage.ErrExecutable) {
		return "an executable: build the plugin with cc -shared -fPIC"
	}
	var fe *elfimage.FormatError
	if errors.As(err, &fe) && fe.Field == "e_type" && fe.Value == 1 { // ET_REL
		return "an object file: link it first, cc -shared -o NAME.so " + path
	}
	head := make([]byte, 256)
	f, oerr := os.Open(path)
	if oerr != nil {
		return ""
	}
	defer f.Close()
	n, _ := f.Read(head)
	head = head[:n]
	if bytes.Contains(head, []byte("GNU ld script")) || bytes.HasPrefix(bytes.TrimSpace(head), []byte("GROUP")) || bytes.HasPrefix(bytes.TrimSpace(head), []byte("INPUT")) {
		return "a linker script: give the library it names, e.g. libc.so.6 rather than libc.so"
	}
	if fe != nil && fe.Field == "e_ident[EI_MAG]" {
		return "give the path of a .so file, e.g. one built with cc -shared -fPIC"
	}
	return ""
}
