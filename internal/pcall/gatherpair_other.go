//go:build !amd64

package pcall

// gatherPairs: only the amd64 trampoline runs fused moves.
const gatherPairs = false
