//go:build cgo && !(linux && amd64)

package sandbox

// cgoNoteOther: cgo is on, the platform is what is missing.
const cgoNoteOther = ""
