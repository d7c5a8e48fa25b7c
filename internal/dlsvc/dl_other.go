//go:build !(linux && (amd64 || arm64) && cgo)

package dlsvc

// The dynamic-linker services exist on linux/amd64 and linux/arm64 only (dl.c,
// dl_cgo.go); elsewhere nothing is loaded, so there is nothing to serve.

// DLDesc describes a loaded object to the object table.
type DLDesc struct {
	Base                         uintptr
	Lo, Hi                       uintptr
	Phdrs                        []byte
	PhdrAddr                     uintptr
	PhdrNum                      uint64
	EHFrame                      uintptr
	Dynamic                      uintptr
	Symtab                       uintptr
	NSyms                        uint64
	Strtab                       uintptr
	Strsz                        uint64
	Path                         string
	UnwindBacktrace, UnwindGetIP uintptr
	Deps                         []uintptr
}

// DLObject is an object's entry in the table.
type DLObject struct{}

// AddDLObject returns the zero DLObject: there is no table.
func AddDLObject(DLDesc) DLObject { return DLObject{} }

// Handle returns 0.
func (o DLObject) Handle() uintptr { return 0 }

// Remove does nothing.
func (o DLObject) Remove() {}

// Deps returns nil.
func (o DLObject) Deps() []uintptr { return nil }

// AtexitPending returns 0.
func (o DLObject) AtexitPending() int { return 0 }

// KeysPending is 0: no object table here.
func (o DLObject) KeysPending() int { return 0 }

// DLHandleAt returns 0.
func DLHandleAt(uintptr) uintptr { return 0 }

// DLIsHandle returns false.
func DLIsHandle(uintptr) bool { return false }

// DLSetError does nothing.
func DLSetError(string) {}

// DLThreadDtors returns 0.
func DLThreadDtors() int { return 0 }

// DLCounts returns 0, 0.
func DLCounts() (adds, subs uint64) { return 0, 0 }

// DLSymbols returns no implementations.
func DLSymbols() map[string]uintptr { return nil }

// DLBenchFind returns -1.
func DLBenchFind(uintptr, int, bool) int64 { return -1 }

// ThreadID returns 0.
func ThreadID() int64 { return 0 }
