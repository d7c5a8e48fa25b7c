//go:build linux && (amd64 || arm64) && cgo

package isolate

// SparePid returns the pid of the spare child waiting for a plugin (0:
// none), for the tests that check a load took it.
func SparePid(iso *Isolator) int {
	iso.mu.Lock()
	defer iso.mu.Unlock()
	if iso.spare == nil {
		return 0
	}
	return iso.spare.pid
}
