package loader

// Native memory: copies of it into Go, and allocations from the host's C
// allocator (libc's malloc, calloc and free, called as protected calls
// through the sandbox: the allocator plugins that import malloc use, so
// memory can change hands between the host and a plugin).

import (
	"context"
	"fmt"
	"reflect"
	"runtime/debug"
	"strings"
	"sync"
	"unsafe"

	"github.com/runplug/runplug/sandbox"
)

// addr converts an Address to a pointer. (Going through memory keeps
// vet's unsafeptr check quiet: the address is native, not derived from a
// Go pointer, so the rule it enforces does not apply.)
func addr[P Address](p P) unsafe.Pointer {
	u := uintptr(p)
	return *(*unsafe.Pointer)(unsafe.Pointer(&u))
}

// readNative runs read (or a write) with faults turned into panics, and
// a fault's panic into an error naming op and p.
func readNative(op string, p uintptr, read func()) (err error) {
	if p < 0x1000 {
		// The first page is never mapped (the Go runtime assumes it too:
		// a fault there is a nil dereference, not an address error).
		return fmt.Errorf("loader: %s at %#x: %w", op, p, ErrBadAddress)
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if v := recover(); v != nil {
			if f, ok := v.(interface{ Addr() uintptr }); ok {
				err = fmt.Errorf("loader: %s at %#x: fault at %#x: %w", op, p, f.Addr(), ErrBadAddress)
				return
			}
			panic(v)
		}
	}()
	read()
	return nil
}

// GoString returns a copy of the NUL-terminated C string at p ("" for
// NULL).
func GoString[P Address](p P) (string, error) {
	return goStringN("read C string", p, -1)
}

// GoStringN returns a copy of the C string at p, up to its NUL or max
// bytes, whichever comes first ("" for NULL). Bytes past the first max
// are not read.
func GoStringN[P Address](p P, max int) (string, error) {
	if max < 0 {
		return "", fmt.Errorf("loader: read C string at %#x: negative length %d", uintptr(p), max)
	}
	return goStringN("read C string", p, max)
}

func goStringN[P Address](op string, p P, max int) (string, error) {
	if uintptr(p) == 0 {
		return "", nil
	}
	var s string
	err := readNative(op, uintptr(p), func() {
		base := addr(p)
		n := 0
		for (max < 0 || n < max) && *(*byte)(unsafe.Add(base, n)) != 0 {
			n++
		}
		s = string(unsafe.Slice((*byte)(base), n))
	})
	return s, err
}

// GoBytes returns a copy of the n bytes at p.
func GoBytes[P Address](p P, n int) ([]byte, error) {
	switch {
	case n < 0:
		return nil, fmt.Errorf("loader: read %d bytes at %#x: negative length", n, uintptr(p))
	case n == 0:
		return []byte{}, nil
	case uintptr(p) == 0:
		return nil, fmt.Errorf("loader: read %d bytes at NULL: %w", n, ErrBadAddress)
	}
	b := make([]byte, n)
	err := readNative(fmt.Sprintf("read %d bytes", n), uintptr(p), func() {
		copy(b, unsafe.Slice((*byte)(addr(p)), n))
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// GoSlice returns a copy of the n values of type T at p (a C array: of
// pointers as []uintptr, of ints as []int32, ...). T must hold no Go
// pointers (see Pin).
func GoSlice[T any, P Address](p P, n int) ([]T, error) {
	t := reflect.TypeFor[T]()
	if why := goPointers(t); why != "" {
		return nil, fmt.Errorf("loader: read C array of %v: it holds Go pointers (%s)", t, why)
	}
	switch {
	case n < 0:
		return nil, fmt.Errorf("loader: read C array of %d %v at %#x: negative length", n, t, uintptr(p))
	case n == 0:
		return []T{}, nil
	case uintptr(p) == 0:
		return nil, fmt.Errorf("loader: read C array of %d %v at NULL: %w", n, t, ErrBadAddress)
	}
	out := make([]T, n)
	err := readNative(fmt.Sprintf("read C array of %d %v", n, t), uintptr(p), func() {
		copy(out, unsafe.Slice((*T)(addr(p)), n))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// hostAlloc holds libc's allocator functions, looked up once.
var hostAlloc struct {
	once                 sync.Once
	malloc, calloc, free uintptr
	err                  error
}

func allocator() error {
	hostAlloc.once.Do(func() {
		h, err := sandbox.OpenHostLibrary("libc.so.6")
		if err != nil {
			hostAlloc.err = fmt.Errorf("loader: C allocator: %w", err)
			return
		}
		for _, f := range []struct {
			name string
			p    *uintptr
		}{{"malloc", &hostAlloc.malloc}, {"calloc", &hostAlloc.calloc}, {"free", &hostAlloc.free}} {
			a, ok := h.Lookup(f.name, "")
			if !ok {
				hostAlloc.err = fmt.Errorf("loader: C allocator: %s not found in %s", f.name, h.Name())
				return
			}
			*f.p = a
		}
	})
	return hostAlloc.err
}

// callAlloc calls allocator function fn(a, b) and returns its pointer.
func callAlloc(op string, fn uintptr, a, b uint64) (unsafe.Pointer, error) {
	r, err := sandbox.Call(fn, &sandbox.Args{Int: [6]uint64{a, b}})
	if err != nil {
		return nil, fmt.Errorf("loader: %s: %w", op, err)
	}
	if r.Int == 0 {
		return nil, fmt.Errorf("loader: %s: %w", op, ErrNoMemory)
	}
	return addr(uintptr(r.Int)), nil
}

// Malloc allocates n bytes (at least 1) of uninitialised C memory with the
// host C library's malloc. Free it with Free, or give it to native code
// that frees it with free.
func Malloc(n uintptr) (unsafe.Pointer, error) {
	if err := allocator(); err != nil {
		return nil, err
	}
	if n == 0 {
		n = 1
	}
	return callAlloc(fmt.Sprintf("malloc(%d)", n), hostAlloc.malloc, uint64(n), 0)
}

// Calloc allocates count elements of size bytes of zeroed C memory with
// the host C library's calloc (which checks count*size for overflow).
func Calloc(count, size uintptr) (unsafe.Pointer, error) {
	if err := allocator(); err != nil {
		return nil, err
	}
	if count == 0 || size == 0 {
		count, size = 1, 1
	}
	return callAlloc(fmt.Sprintf("calloc(%d, %d)", count, size), hostAlloc.calloc, uint64(count), uint64(size))
}

// Free frees C memory from Malloc, Calloc, CString, CBytes or a native
// function documented to return malloc'd memory (NULL is ignored).
func Free[P Address](p P) error {
	if uintptr(p) == 0 {
		return nil
	}
	if err := allocator(); err != nil {
		return err
	}
	if _, err := sandbox.Call(hostAlloc.free, &sandbox.Args{Int: [6]uint64{uint64(uintptr(p))}}); err != nil {
		return fmt.Errorf("loader: free(%#x): %w", uintptr(p), err)
	}
	return nil
}

// CString returns a NUL-terminated copy of s in C memory (free it with
// Free). s must not contain a NUL byte.
func CString(s string) (unsafe.Pointer, error) {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return nil, fmt.Errorf("loader: C string of %q: NUL byte at %d", s, i)
	}
	p, err := Malloc(uintptr(len(s)) + 1)
	if err != nil {
		return nil, err
	}
	b := unsafe.Slice((*byte)(p), len(s)+1)
	copy(b, s)
	b[len(s)] = 0
	return p, nil
}

// CBytes returns a copy of b in C memory (free it with Free).
func CBytes(b []byte) (unsafe.Pointer, error) {
	p, err := Malloc(uintptr(len(b)))
	if err != nil {
		return nil, err
	}
	copy(unsafe.Slice((*byte)(p), len(b)), b)
	return p, nil
}

// Cell is one T in C memory: an out-parameter that native code fills in
// (sqlite3_open's sqlite3 **ppDb is a *Cell[uintptr]), or a value native
// code keeps a pointer to after a call. T must hold no Go pointers (see
// Pin); pointers native code stores are uintptr or unsafe.Pointer.
//
//	db, err := loader.NewCell[uintptr]()
//	defer db.Free()
//	rc, err := sqlite3Open(name, db.Ptr())
//	handle := db.Get()
type Cell[T any] struct {
	p unsafe.Pointer
}

// NewCell allocates a zeroed T in C memory (calloc).
func NewCell[T any]() (*Cell[T], error) {
	t := reflect.TypeFor[T]()
	if why := goPointers(t); why != "" {
		return nil, fmt.Errorf("loader: new cell of %v: it holds Go pointers (%s)", t, why)
	}
	p, err := Calloc(1, t.Size())
	if err != nil {
		return nil, err
	}
	return &Cell[T]{p: p}, nil
}

// Ptr returns the cell's address, to pass to native code (nil after Free).
func (c *Cell[T]) Ptr() unsafe.Pointer { return c.p }

// Get returns the cell's value. The cell must not be freed.
func (c *Cell[T]) Get() T { return *(*T)(c.p) }

// Set stores v in the cell. The cell must not be freed.
func (c *Cell[T]) Set(v T) { *(*T)(c.p) = v }

// Free frees the cell's memory; it is safe to call twice.
func (c *Cell[T]) Free() error {
	p := c.p
	c.p = nil
	return Free(p)
}

// readInto copies the len(dst) bytes at p into dst (Plugin.ReadMemory in
// process).
func readInto(p uintptr, dst []byte) error {
	return readNative(fmt.Sprintf("read %d bytes", len(dst)), p, func() {
		copy(dst, unsafe.Slice((*byte)(addr(p)), len(dst)))
	})
}

// writeFrom copies src to p, a fault being an error (Plugin.WriteMemory
// in process).
func writeFrom(p uintptr, src []byte) error {
	return readNative(fmt.Sprintf("write %d bytes", len(src)), p, func() {
		copy(unsafe.Slice((*byte)(addr(p)), len(src)), src)
	})
}

// cMalloc allocates n bytes (n > 0) with the host C library's malloc,
// bounded by ctx (Plugin.Alloc in process).
func cMalloc(ctx context.Context, n uint64) (unsafe.Pointer, error) {
	if err := allocator(); err != nil {
		return nil, err
	}
	r, err := sandbox.CallContext(ctx, hostAlloc.malloc, &sandbox.Args{Int: [6]uint64{n}})
	if err != nil {
		return nil, fmt.Errorf("loader: malloc(%d): %w", n, err)
	}
	if r.Int == 0 {
		return nil, fmt.Errorf("loader: malloc(%d): %w", n, ErrNoMemory)
	}
	return addr(uintptr(r.Int)), nil
}

// cFree frees p with the host C library's free, bounded by ctx
// (Plugin.Free in process).
func cFree(ctx context.Context, p uintptr) error {
	if err := allocator(); err != nil {
		return err
	}
	if _, err := sandbox.CallContext(ctx, hostAlloc.free, &sandbox.Args{Int: [6]uint64{uint64(p)}}); err != nil {
		return fmt.Errorf("loader: free(%#x): %w", p, err)
	}
	return nil
}
