//go:build !amd64 && !arm64

package loader

// rt is empty where runplug has no relocation table: the relocation
// tests do not run there.
var rt relocTestTypes
