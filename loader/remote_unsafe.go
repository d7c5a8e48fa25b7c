package loader

// This file passes a Buffer's bytes to a plugin in the host's address
// space: the plugin gets the address of Go memory, which must not move
// during the call, so it is pinned (runtime.Pinner) until the call
// returns. The plugin must not keep the address past the call.

import (
	"context"
	"github.com/runplug/runplug/internal/pcall"
	"runtime"
	"unsafe"

	"github.com/runplug/runplug/internal/wire"
)

// callPinned is a register call with buffers, in process.
func (g inProcess) callPinned(ctx context.Context, f *Func, a pcall.Args, bufs []wire.Buffer) (pcall.Result, error) {
	var pin runtime.Pinner
	defer pin.Unpin()
	for _, b := range bufs {
		if len(b.Data) == 0 {
			a.Int[b.Slot] = 0
			continue
		}
		pin.Pin(&b.Data[0])
		a.Int[b.Slot] = uint64(uintptr(unsafe.Pointer(&b.Data[0])))
	}
	return g.call(ctx, f, a, nil)
}
