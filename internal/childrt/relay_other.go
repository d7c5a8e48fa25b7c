//go:build !(linux && (amd64 || arm64) && cgo)

package childrt

// RelayForeignThreads does nothing: this build has no callbacks into Go
// (no cgo, or an architecture without callback thunks), so no callback
// from a foreign thread to relay.
func RelayForeignThreads() {}
