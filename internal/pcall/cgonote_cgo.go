//go:build cgo && !(linux && (amd64 || arm64))

package pcall

// cgoNoteOther: cgo is on, the platform is what is missing.
const cgoNoteOther = ""
