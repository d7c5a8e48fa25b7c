//go:build !amd64 && !arm64

package ldso

// Architectures runplug has no port for: the names of x86-64, so that the
// package builds; nothing is loaded there (runplug refuses every object).
const (
	Multiarch  = "x86_64-linux-gnu"
	Interp     = "/lib64/ld-linux-x86-64.so.2"
	CacheFlags = CacheFlagsX8664
)
