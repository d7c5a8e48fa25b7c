//go:build !amd64 && !arm64

package elfimage

import "debug/elf"

// hostMachine is EM_NONE where runplug has no support for the host
// architecture yet, so that Parse refuses every object as unsupported.
const hostMachine = elf.EM_NONE
