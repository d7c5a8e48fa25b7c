//go:build linux && amd64 && cgo

package isolate

import "sync"

// sysNumbers maps an x86-64 system call name to its number, from the
// table generated from go-seccomp-bpf's (zsyscalls_amd64.go), built the
// first time a policy is checked or assembled.
var sysNumbers = sync.OnceValue(func() map[string]uint32 {
	m := make(map[string]uint32, len(sysX86_64))
	for nr, n := range sysX86_64 {
		if n != "" {
			m[n] = uint32(nr)
		}
	}
	return m
})
