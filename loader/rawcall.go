package loader

import (
	"context"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/rawcall"
)

// The raw call forms, for the isolated child's server (see
// internal/rawcall).
func init() {
	rawcall.Args = func(f any, ctx context.Context, a *pcall.Args) (pcall.Result, error) {
		return f.(*Func).callArgs(ctx, a)
	}
	rawcall.Frame = func(f any, ctx context.Context, fr *pcall.Frame) (pcall.FrameResult, error) {
		return f.(*Func).callFrame(ctx, fr)
	}
}
