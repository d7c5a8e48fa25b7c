//go:build !(linux && (amd64 || arm64) && cgo)

package childrt

import "os"

// EarlyNamespaces reports what the constructor did when
// EnvEarlyNamespaces asked it for namespaces; off linux/amd64 and
// linux/arm64 with cgo there is no constructor: 0, nil.
func EarlyNamespaces() (flags int, err error) { return 0, nil }

// ChildConfinement reports what the constructor did when EnvChildConfine
// asked it to confine the process; off linux/amd64 and linux/arm64 with
// cgo there is no constructor: 0, nil.
func ChildConfinement() (landlock int, err error) { return 0, nil }

// HostPid returns os.Getpid() here: no constructor made a PID namespace.
func HostPid() int { return os.Getpid() }

// EarlyNamespacesAsked returns 0 here: no constructor reads the request.
func EarlyNamespacesAsked() int { return 0 }

// ProcMount returns nil here: no constructor made a PID namespace.
func ProcMount() error { return nil }
