//go:build !(linux && amd64 && cgo)

package sandbox

// RelayForeignThreads does nothing: this build runs no native code.
func RelayForeignThreads() {}
