//go:build !(linux && (amd64 || arm64) && cgo)

package dlsvc

// The host libraries off linux/amd64 and linux/arm64 with cgo: none.

import (
	"fmt"

	"github.com/runplug/runplug/internal/pcall"
)

// HostLibrary is a C library loaded in the host process; this build has
// none.
type HostLibrary struct{ name string }

// OpenHostLibrary returns pcall.ErrPlatform (wrapped with ErrNotHostLibrary).
func OpenHostLibrary(soname string) (*HostLibrary, error) {
	return nil, fmt.Errorf("sandbox: open host library %q: %w: %w", soname, ErrNotHostLibrary, pcall.ErrPlatform)
}

// Name returns the library's soname.
func (h *HostLibrary) Name() string { return h.name }

// Lookup finds nothing in this build.
func (h *HostLibrary) Lookup(name, version string) (uintptr, bool) { return 0, false }

// Needed returns nil in this build.
func (h *HostLibrary) Needed() []string { return nil }

// HostSymbol is a symbol one of glibc's libraries defines itself.
type HostSymbol struct {
	Addr uintptr
	Size uint64
	Func bool
}

// LookupOwn finds nothing in this build.
func (h *HostLibrary) LookupOwn(name, version string) (HostSymbol, bool) { return HostSymbol{}, false }

// HostLibraryNames returns none in this build.
func HostLibraryNames() []string { return nil }

// ProcessArgs returns zeros in this build.
func ProcessArgs() (argc, argv, envp uintptr) { return 0, 0, 0 }

// DLOpenHost fails.
func DLOpenHost(string, int) (uintptr, error) { return 0, pcall.ErrPlatform }

// DLCloseHost fails.
func DLCloseHost(uintptr) error { return pcall.ErrPlatform }

// DLSymHost fails.
func DLSymHost(uintptr, string, string) (uintptr, error) { return 0, pcall.ErrPlatform }
