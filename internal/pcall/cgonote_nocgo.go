//go:build !cgo

package pcall

// cgoNoteOther says, in ErrUnsupported's message, that cgo was off.
const cgoNoteOther = ", cgo disabled"
