//go:build !(linux && amd64 && cgo)

package isolate

import (
	"context"
	"github.com/runplug/runplug/internal/wire"
	"github.com/runplug/runplug/loader"
)

// DefaultSyscalls is empty where isolation is not supported.
var DefaultSyscalls []string

// Isolator starts isolated plugins; on this platform Start fails with
// ErrUnsupported.
type Isolator struct{ opts Options }

// New returns an Isolator (see the linux/amd64 documentation).
func New(opts Options) *Isolator { return &Isolator{opts: opts} }

// Start implements loader.Isolation: it fails with ErrUnsupported.
func (iso *Isolator) Start(req *wire.RemoteLoad) (wire.Remote, error) {
	return nil, ErrUnsupported
}

// Report says what confinement the last child got: nothing here.
func (iso *Isolator) Report() Report {
	return Report{Missing: []string{"isolation: " + ErrUnsupported.Error()}}
}

// Pid returns 0 here.
func Pid(p *loader.Plugin) int { return 0 }

// Prestart does nothing here.
func (iso *Isolator) Prestart() error { return nil }

// Close does nothing here.
func (iso *Isolator) Close(ctx context.Context) error { return nil }
