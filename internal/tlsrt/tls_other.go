//go:build !(linux && (amd64 || arm64) && cgo)

package tlsrt

// The TLS runtime off linux/amd64 and linux/arm64 with cgo: no module is
// ever made.

import (
	"fmt"
	"runtime"

	"github.com/runplug/runplug/internal/errs"
	"github.com/runplug/runplug/internal/pcall"
)

// Supported reports whether this build has the TLS runtime: linux/amd64
// and linux/arm64 with cgo.
const Supported = false

// MaxTLSModules is the number of TLS modules that can be live at once.
const MaxTLSModules = 4096

// Abort codes of a call whose plugin code asked __tls_get_addr for
// something it cannot serve.
const (
	TLSAbortModule   = 0x544c5301
	TLSAbortNoMemory = 0x544c5302
)

// ErrTLSModulesFull is returned by NewTLSModule when MaxTLSModules modules
// are live.
var ErrTLSModulesFull = fmt.Errorf("sandbox: too many live TLS modules")

// TLSModule is the thread-local storage of one loaded object.
type TLSModule struct{ id uint64 }

// errNoTLS is the error of a thread-local module in this build: where
// plugins run at all it names the missing TLS runtime rather than the
// platform.
var errNoTLS = func() error {
	if pcall.Supported {
		return fmt.Errorf("thread-local storage needs linux/amd64 or linux/arm64 built with cgo (this is %s/%s): %w",
			runtime.GOOS, runtime.GOARCH, errs.ErrUnsupported)
	}
	return pcall.ErrPlatform
}()

// NewTLSModule returns errNoTLS.
func NewTLSModule(image uintptr, filesz, memsz, align uint64) (*TLSModule, error) {
	return nil, fmt.Errorf("sandbox: register TLS module: %w", errNoTLS)
}

// ID returns the module id.
func (m *TLSModule) ID() uint64 { return m.id }

// Generation returns 0.
func (m *TLSModule) Generation() uint64 { return 0 }

// Free does nothing.
func (m *TLSModule) Free() {}

// TLSGetAddr returns 0.
func TLSGetAddr() uintptr { return 0 }

// TLSThreadBlocks returns 0.
func TLSThreadBlocks() int { return 0 }

// TLSLiveBlocks returns 0.
func TLSLiveBlocks() int { return 0 }

func fixtureTLSGetAddr() uintptr { return 0 }
