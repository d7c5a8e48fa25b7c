//go:build !linux || !(amd64 || arm64) || !cgo

package debugreg

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/runplug/runplug/internal/errs"
)

// SymbolTable is the functions of an object file, for profiles.
type SymbolTable struct{ n int }

// NewSymbolTable builds a SymbolTable from syms.
func NewSymbolTable(syms []DebugSymbol) *SymbolTable { return &SymbolTable{n: len(syms)} }

// Len returns the number of functions in t.
func (t *SymbolTable) Len() int { return t.n }

// DebugObject is a registration made by AddDebugObject.
type DebugObject struct{}

// AddDebugObject registers nothing off linux/amd64 and linux/arm64 with cgo.
func AddDebugObject(info *DebugInfo) *DebugObject { return &DebugObject{} }

// SetSymbols does nothing off linux/amd64 and linux/arm64 with cgo.
func (d *DebugObject) SetSymbols(t *SymbolTable) {}

// Remove does nothing off linux/amd64 and linux/arm64 with cgo.
func (d *DebugObject) Remove() {}

// DebuggerError says debugger registration is unsupported here.
func DebuggerError() error {
	return fmt.Errorf("sandbox: debugger registration needs linux/amd64 or linux/arm64 with cgo: %w", errs.ErrUnsupported)
}

// DebuggerWatching is false off linux/amd64 and linux/arm64 with cgo.
func DebuggerWatching() bool { return false }

// CgoTracebackFuncs are the C functions of runtime.SetCgoTraceback.
type CgoTracebackFuncs struct {
	Traceback, Context, Symbolizer unsafe.Pointer
}

// ErrCgoTraceback: see the linux documentation.
var ErrCgoTraceback = errors.New("runtime.SetCgoTraceback was already called with other functions")

// SetCgoTraceback is unsupported off linux/amd64 and linux/arm64 with cgo.
func SetCgoTraceback(host CgoTracebackFuncs) error {
	return fmt.Errorf("sandbox: install cgo traceback: needs linux/amd64 or linux/arm64 with cgo: %w", errs.ErrUnsupported)
}
