//go:build !(linux && amd64 && cgo)

package childrt

// RelayForeignThreads does nothing: this build has no callbacks into Go
// (linux/arm64 until its callback thunks land, issue 24), so no callback
// from a foreign thread to relay.
func RelayForeignThreads() {}
