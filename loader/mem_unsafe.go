package loader

// Native memory in process: copies of it into Go with faults turned into
// errors, and allocations from the host's C allocator (libc's malloc and
// free, called as protected calls through the sandbox: the allocator
// plugins that import malloc use, so memory can change hands between the
// host and a plugin).

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"unsafe"

	"github.com/runplug/runplug/internal/dlsvc"
	"github.com/runplug/runplug/internal/pcall"
)

// addr converts a native address to a pointer. (Going through memory
// keeps vet's unsafeptr check quiet: the address is native, not derived
// from a Go pointer, so the rule it enforces does not apply.)
func addr(u uintptr) unsafe.Pointer {
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

// hostAlloc holds libc's allocator functions, looked up once.
var hostAlloc struct {
	once         sync.Once
	malloc, free uintptr
	err          error
}

func allocator() error {
	hostAlloc.once.Do(func() {
		h, err := dlsvc.OpenHostLibrary("libc.so.6")
		if err != nil {
			hostAlloc.err = fmt.Errorf("loader: C allocator: %w", err)
			return
		}
		for _, f := range []struct {
			name string
			p    *uintptr
		}{{"malloc", &hostAlloc.malloc}, {"free", &hostAlloc.free}} {
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
	r, err := pcall.CallContext(ctx, hostAlloc.malloc, &pcall.Args{Int: [6]uint64{n}})
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
	if _, err := pcall.CallContext(ctx, hostAlloc.free, &pcall.Args{Int: [6]uint64{uint64(p)}}); err != nil {
		return fmt.Errorf("loader: free(%#x): %w", p, err)
	}
	return nil
}
