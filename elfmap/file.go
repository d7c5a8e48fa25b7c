package elfmap

import (
	"debug/elf"
	"io"

	"github.com/runplug/runplug/internal/elfimage"
)

// File is a parsed, validated shared object. Its tables are copied out of
// the file when it is parsed, so a File never reads the file again and is
// safe for concurrent use.
type File struct {
	soname string
	needed []string
	syms   []Symbol
}

// Symbol is a dynamic symbol the object defines: what `nm -D
// --defined-only` lists and what the loader can bind an import to.
type Symbol struct {
	Name  string
	Value uint64 // st_value: the address relative to the load base (for STT_TLS, the offset in the TLS block)
	Size  uint64
	Type  elf.SymType // STT_FUNC, STT_OBJECT, STT_TLS, STT_GNU_IFUNC, ...
	Bind  elf.SymBind // STB_GLOBAL, STB_WEAK or STB_GNU_UNIQUE
	// Version is the symbol's version ("GLIBC_2.2.5"), or "" when it has
	// none.
	Version string
	// Hidden reports a non-default version (name@VER, not name@@VER): only
	// an import asking for that version binds to it.
	Hidden bool
}

// Open reads and validates the shared object at path. The file is closed
// when Open returns.
func Open(path string) (*File, error) {
	f, err := elfimage.ParseFile(path)
	if err != nil {
		return nil, err
	}
	return newFile(f), nil
}

// Parse reads and validates the shared object of the given size that r
// holds. A failure of r is returned wrapped as it is; a refused file is a
// *FormatError.
func Parse(r io.ReaderAt, size int64) (*File, error) {
	f, err := elfimage.Parse(r, size)
	if err != nil {
		return nil, err
	}
	return newFile(f), nil
}

func newFile(f *elfimage.File) *File {
	d := f.Dynamic
	if d == nil {
		return &File{}
	}
	out := &File{soname: d.Soname, needed: d.Needed}
	for i := range d.Symbols {
		s := &d.Symbols[i]
		if i == 0 || !s.Defined() || s.Name == "" {
			continue
		}
		out.syms = append(out.syms, Symbol{
			Name: s.Name, Value: s.Value, Size: s.Size, Type: s.Type, Bind: s.Bind,
			Version: s.Version, Hidden: s.Hidden,
		})
	}
	return out
}

// SOName returns the object's DT_SONAME, or "" when it has none.
func (f *File) SOName() string { return f.soname }

// Needed returns the DT_NEEDED entries, the libraries the object needs, in
// the order the loader loads them.
func (f *File) Needed() []string { return append([]string(nil), f.needed...) }

// Symbols returns the dynamic symbols the object defines, in symbol table
// order (imports and local symbols left out).
func (f *File) Symbols() []Symbol { return append([]Symbol(nil), f.syms...) }

// Close returns nil: Open has already read what it needs and closed the
// file. It is there so that a File is an io.Closer, as a debug/elf File
// is, and a tool's defer f.Close() stays right.
func (f *File) Close() error { return nil }
