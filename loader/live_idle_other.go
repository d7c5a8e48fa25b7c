//go:build !linux

package loader

import "context"

// loadIdle is load: lowering one thread's priority is Linux's
// (live_idle_linux.go).
func (l *Loader) loadIdle(ctx context.Context, path string, st stateSource) (*Plugin, error) {
	return l.load(ctx, path, st)
}
