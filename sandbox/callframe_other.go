//go:build !linux || !amd64 || !cgo

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"unsafe"
)

// ErrFrame is wrapped by the error of a general call whose Frame is out
// of bounds.
var ErrFrame = errors.New("sandbox: invalid call frame")

// CallGather calls fn with the arguments p gathers from args; elsewhere it
// fails with errors.ErrUnsupported.
func (g *Gate) CallGather(ctx context.Context, fn uintptr, p *GatherProgram, args []unsafe.Pointer, sret unsafe.Pointer) (FrameResult, error) {
	return CallFrame(ctx, fn, nil)
}

// CallFrame calls fn with the frame f through the gate (see the linux/amd64
// documentation); elsewhere it fails with errors.ErrUnsupported.
func (g *Gate) CallFrame(ctx context.Context, fn uintptr, f *Frame) (FrameResult, error) {
	return CallFrame(ctx, fn, f)
}

// CallFrame fails with errors.ErrUnsupported: native calls need linux/amd64
// with cgo.
func CallFrame(ctx context.Context, fn uintptr, f *Frame) (FrameResult, error) {
	return FrameResult{}, fmt.Errorf("sandbox: call frame: native calls need linux/amd64 with cgo: %w", errors.ErrUnsupported)
}
