//go:build !(linux && amd64 && cgo)

package sandbox

// FlushCStdio does nothing: this build runs no native code.
func FlushCStdio() {}
