package loader

import (
	"context"
	"unsafe"
)

// The dynamic types of context.Background() and context.TODO(), whose Done
// is always nil. neverDone compares ctx's type word against them so that
// the calls measured against cgo learn "no deadline" without a dynamic
// call to Done: the call would make the caller spill every live register,
// and those stores must drain at the runtime's locked instruction on the
// way into C (docs/PERFORMANCE.md).
var (
	backgroundType = typeWord(context.Background())
	todoType       = typeWord(context.TODO())
)

// typeWord is the first word of an interface value: its type (itab).
func typeWord(ctx context.Context) uintptr {
	return *(*uintptr)(unsafe.Pointer(&ctx))
}

// neverDone reports whether ctx is known never to be done without asking
// it: context.Background() or context.TODO(). Other contexts answer
// through ctx.Done().
func neverDone(ctx context.Context) bool {
	t := typeWord(ctx)
	return t == backgroundType || t == todoType
}
