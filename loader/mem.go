package loader

import (
	"errors"

	"github.com/runplug/runplug/internal/pcall"
)

// Native memory is reached through a Plugin (plugin_mem.go): Alloc,
// Free and CString allocate in the plugin's address space, ReadMemory,
// WriteMemory and ReadString copy in and out of it. Go memory handed to
// a native function for one call follows Go's cgo rules: a binding or
// CallSig pins it for the call; it must not hold Go pointers, and native
// code must not keep it past the call. Memory native code keeps is the
// plugin's own: Plugin.Alloc.
//
// In process, a read of an address that is not mapped is an error
// wrapping ErrBadAddress, not a crash (mem_unsafe.go).

// ErrBadAddress is wrapped by the error of a read (or a Plugin.WriteMemory)
// of native memory at an address that is not readable (or writable).
var ErrBadAddress = pcall.ErrBadAddress

// ErrNoMemory is wrapped by the error of an allocation the C allocator
// refused (it returned NULL).
var ErrNoMemory = errors.New("loader: C allocator out of memory")
