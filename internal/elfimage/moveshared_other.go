//go:build !linux

package elfimage

import "errors"

// moveShared needs mremap with a fixed target (Linux): an isolated
// child, the one user, is Linux's.
func (r *reservation) moveShared(off, n uintptr, from []byte) error {
	return errors.New("moving a shared mapping needs Linux's mremap")
}
