//go:build !arm64

package callconv

// Native is the running architecture's C calling convention (SysV on
// every architecture but arm64: the only other one runplug runs on is
// amd64).
const Native = SysV
