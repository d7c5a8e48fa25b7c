//go:build !(linux && (amd64 || arm64) && cgo)

package pcall

import (
	"context"
	"unsafe"
)

// FramesSupported reports whether this build has the general call
// (CallFrame, CallGather): linux/amd64 or linux/arm64 with cgo.
const FramesSupported = false

// CallGather fails with ErrPlatform: this build cannot run native code.
func (g *Gate) CallGather(ctx context.Context, fn uintptr, p *GatherProgram, args []unsafe.Pointer, sret unsafe.Pointer) (FrameResult, error) {
	return FrameResult{}, ErrPlatform
}

// CallGatherInto fails with ErrPlatform: this build cannot run native code.
func (g *Gate) CallGatherInto(ctx context.Context, fn uintptr, p *GatherProgram, args []unsafe.Pointer, sret unsafe.Pointer, res *FrameResult) error {
	return ErrPlatform
}

// CallFrame fails with ErrPlatform: this build cannot run native code.
func (g *Gate) CallFrame(ctx context.Context, fn uintptr, f *Frame) (FrameResult, error) {
	return FrameResult{}, ErrPlatform
}

// CallFrame fails with ErrPlatform: this build cannot run native code.
func CallFrame(ctx context.Context, fn uintptr, f *Frame) (FrameResult, error) {
	return FrameResult{}, ErrPlatform
}
