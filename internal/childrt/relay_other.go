//go:build !(linux && amd64 && cgo)

package childrt

// RelayForeignThreads does nothing: this build runs no native code.
func RelayForeignThreads() {}
