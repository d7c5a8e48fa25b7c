//go:build !(linux && amd64 && cgo)

package sandbox

// ServeForeignThreads returns at once: this build runs no native code.
func ServeForeignThreads() {}
