//go:build !cgo

package pcall

// cgoNoteOther says, in ErrPlatform's message, that cgo was off.
const cgoNoteOther = ", cgo disabled"
