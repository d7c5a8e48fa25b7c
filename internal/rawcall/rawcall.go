// Package rawcall gives runplug's own packages the raw call forms of a
// loader.Func that the public API keeps to itself: a whole block of
// argument registers, and a whole frame. The isolated child's server
// (package isolate) receives its host's calls already laid out that way;
// a host calls through Func.Call, Func.CallSig or a typed binding.
//
// Package loader sets the functions when it is initialized (rawcall
// cannot import loader: loader imports it), so they are set before any
// Func exists. f is a *loader.Func.
package rawcall

import (
	"context"

	"github.com/runplug/runplug/internal/pcall"
)

var (
	// Args calls f with the argument registers a (nil: all zero) and
	// returns both result registers. A nil ctx is no deadline.
	Args func(f any, ctx context.Context, a *pcall.Args) (pcall.Result, error)
	// Frame calls f with the whole frame fr. A nil ctx is no deadline.
	Frame func(f any, ctx context.Context, fr *pcall.Frame) (pcall.FrameResult, error)
)
