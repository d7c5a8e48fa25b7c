//go:build !cgo

package sandbox

// cgoNoteOther says, in ErrUnsupported's message, that cgo was off.
const cgoNoteOther = ", cgo disabled"
