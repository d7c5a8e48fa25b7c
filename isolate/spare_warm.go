//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"context"

	"github.com/runplug/runplug/loader"
)

// warmSpare does, in a spare before its filter and its request, the part
// of a first load that is the same for every plugin: loading glibc's
// libc.so.6, which gives the host's own copy (no plugin code, no
// constructor runs), reads ld.so's cache, parses the C library, runs the
// loader's code once (its pages faulted in) and grows the Go heap. The
// spare does it idle, ahead of its use (docs/ISOLATION.md, "The spare's
// timed start"). A failure is left to the load itself to meet and
// report. (The idle threads a spare's load then finds are every
// child's: reserveThreads.)
func warmSpare() {
	ctx := context.Background()
	l := loader.New(loader.Options{})
	defer l.Close(ctx)
	if p, err := l.Load(ctx, "libc.so.6"); err == nil {
		p.Close(ctx)
	}
}
