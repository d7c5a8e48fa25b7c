// Package fileinfo gives runplug's own command what package loader knows
// of an object file without loading it: the loader's cached parse of a
// file, and the persistent state region the file declares. They are not
// a host's API (their results are internal/elfimage's types), so they are
// reached here rather than as loader functions.
//
// Package loader sets the functions when it is initialized (fileinfo
// cannot import loader: loader imports it), so they are set in any
// program that imports loader.
package fileinfo

import (
	"io"
	"os"

	"github.com/runplug/runplug/internal/elfimage"
)

// StateLayout describes an object's persistent state region as its file
// declares it (RUNPLUG_STATE), without loading it.
type StateLayout struct {
	Vaddr    uint64 // the region's address relative to the load base
	Size     uint64 // the region's size: whole pages
	TypeSize uint64 // sizeof(TYPE)
	Version  uint32 // the layout version
	Migrates bool   // the object exports runplug_state_migrate
}

var (
	// ParseOpen returns the parsed description of the regular file fh
	// from the process's cache of parsed files, which every Loader
	// shares: a program that inspects a file and then loads it parses
	// it once. The File is shared: it must not be modified.
	ParseOpen func(fh *os.File) (*elfimage.File, error)
	// ReadStateLayout returns the state region f (parsed from r)
	// declares, nil when it declares none. A region the loader would
	// refuse is an error wrapping the loader's ErrStateLayout.
	ReadStateLayout func(f *elfimage.File, r io.ReaderAt) (*StateLayout, error)
)
