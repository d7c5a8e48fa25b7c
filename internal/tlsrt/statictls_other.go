//go:build !(linux && (amd64 || arm64) && cgo)

package tlsrt

// Stubs of static TLS and TLS descriptors where plugins cannot run (the
// TLSModule type and ErrUnsupported are sandbox_other.go's).

// MakeStatic returns ErrUnsupported.
func (m *TLSModule) MakeStatic() error { return errNoTLS }

// StaticOffset returns false.
func (m *TLSModule) StaticOffset() (int64, bool) { return 0, false }

// TLSStaticOffset returns false.
func TLSStaticOffset(id uint64) (int64, bool) { return 0, false }

// StaticTLSHeld returns 0, 0.
func StaticTLSHeld() (bytes uint64, modules int) { return 0, 0 }

// TLSDescStatic returns 0.
func TLSDescStatic() uintptr { return 0 }

// TLSDescDynamic returns 0.
func TLSDescDynamic() uintptr { return 0 }

// TLSDescDynamicArg returns false.
func TLSDescDynamicArg(id, off uint64) (uint64, bool) { return 0, false }

func notifyTLSExit(fd int) {}

func onMainThread() bool { return false }
