//go:build !(linux && (amd64 || arm64) && cgo)

package pcall

// FlushCStdio does nothing: this build runs no native code.
func FlushCStdio() {}
