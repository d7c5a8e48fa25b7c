package loader

import "context"

// mustContext panics on a nil context. Every method that runs plugin code
// or may block takes a context, and a nil one is a programming error (as
// the context package says: pass context.TODO when unsure), reported where
// it is made rather than as a nil dereference deep in a call.
func mustContext(ctx context.Context) {
	if ctx == nil {
		panic("loader: nil context.Context")
	}
}
