// Package elfmap is a tool's read-only view of an ELF shared object: its
// soname, the libraries it needs and the dynamic symbols it defines, read
// without mapping or running anything.
//
// Open reads a file, Parse any io.ReaderAt. Both check every field of the
// file against its size with overflow-safe arithmetic before using it and
// never panic: a hostile or broken file is a *FormatError naming the field,
// its offset and its value, which wraps ErrMalformed (the file breaks the
// ELF rules) or ErrUnsupported (a valid file runplug does not load: another
// class, byte order or machine, an executable). An executable is also an
// *ExecutableError (errors.Is(err, ErrExecutable)).
//
// The same parser is the first stage of runplug's loader
// (internal/elfimage, which also plans and maps images and reads their
// relocations); this package shows a tool what the loader will see, and
// refuses what the loader would refuse, with the same errors.
package elfmap
