package loader

import (
	"context"

	"github.com/runplug/runplug/internal/rawcall"
	"github.com/runplug/runplug/sandbox"
)

// The raw call forms, for the isolated child's server (see
// internal/rawcall).
func init() {
	rawcall.Args = func(f any, ctx context.Context, a *sandbox.Args) (sandbox.Result, error) {
		return f.(*Func).callArgs(ctx, a)
	}
	rawcall.Frame = func(f any, ctx context.Context, fr *sandbox.Frame) (sandbox.FrameResult, error) {
		return f.(*Func).callFrame(ctx, fr)
	}
}
