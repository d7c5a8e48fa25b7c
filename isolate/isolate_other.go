//go:build !(linux && (amd64 || arm64) && cgo)

package isolate

import (
	"context"
	"fmt"
	"github.com/runplug/runplug/internal/wire"
	"github.com/runplug/runplug/loader"
)

// errNoIsolation is the error of every isolated load on this platform.
var errNoIsolation = fmt.Errorf("isolate: isolation needs linux/amd64 or linux/arm64 built with cgo: %w", loader.ErrUnsupported)

// DefaultSyscalls is empty where isolation is not supported.
var DefaultSyscalls []string

// Isolator starts isolated plugins; on this platform Start fails with
// an error wrapping loader.ErrUnsupported.
type Isolator struct{ opts Options }

// New returns an Isolator (see the linux documentation).
func New(opts Options) *Isolator { return &Isolator{opts: opts} }

// startRemote is wire.StartRemote: it fails with an error wrapping
// loader.ErrUnsupported.
func (iso *Isolator) startRemote(ctx context.Context, req *wire.RemoteLoad) (wire.Remote, error) {
	return nil, errNoIsolation
}

// Report says what confinement the last child got: nothing here.
func (iso *Isolator) Report() Report {
	return Report{Missing: []string{errNoIsolation.Error()}}
}

// Pid returns 0 here.
func Pid(p *loader.Plugin) int { return 0 }

// Prestart does nothing here.
func (iso *Isolator) Prestart() error { return nil }

// Close does nothing here.
func (iso *Isolator) Close(ctx context.Context) error { return nil }
