//go:build linux && (amd64 || arm64) && cgo

package isolate

import "sync"

// sysNumbers maps a system call name of this architecture (sysTable) to
// its number, from the table generated from go-seccomp-bpf's
// (zsyscalls_amd64.go, zsyscalls_arm64.go), built the first time a policy
// is checked or assembled.
var sysNumbers = sync.OnceValue(func() map[string]uint32 {
	m := make(map[string]uint32, len(sysTable))
	for nr, n := range sysTable {
		if n != "" {
			m[n] = uint32(nr)
		}
	}
	return m
})
