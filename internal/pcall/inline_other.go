//go:build !(linux && (amd64 || arm64) && cgo)

package pcall

// IntsCall returns ErrPlatform: this build cannot run native code.
type IntsCall struct{}

// Ints prepares a call that fails with ErrPlatform.
func (g *Gate) Ints(fn uintptr, ints []uint64) IntsCall { return IntsCall{} }

// Run reports false: this build cannot run native code.
func (c *IntsCall) Run() bool { return false }

// Int is 0.
func (c *IntsCall) Int() uint64 { return 0 }

// Result is zero.
func (c *IntsCall) Result() Result { return Result{} }

// Err is ErrPlatform.
func (c *IntsCall) Err() error { return ErrPlatform }
