package loader

import (
	"bytes"
	"context"
	"fmt"
	"strings"
)

// Memory the plugin points to. The pointers a plugin passes (to a
// callback or host function, in a result, in a struct) are addresses in
// its address space: the host's own for a plugin loaded in process, its
// child process's for an isolated one. These methods allocate, read and
// write there, so that the same Go code serves a plugin wherever it runs.

// maxCString bounds ReadString without a limit: a string longer than
// this is an error rather than a read through the plugin's whole heap.
const maxCString = 1 << 20

// maxAlloc bounds one Alloc: a larger request is a caller's bug (a
// negative length converted, a hostile size read back), not memory.
const maxAlloc = 1 << 40

// Alloc allocates n bytes (n > 0) of uninitialised memory in the
// plugin's address space with the C allocator the plugin's own malloc
// uses (in process, the host's libc; isolated, the child's), so that the
// plugin may keep it or free it with free. Free it with Free. An
// allocation the C allocator refuses is an error wrapping ErrNoMemory.
func (p *Plugin) Alloc(ctx context.Context, n int) (uintptr, error) {
	if n <= 0 || n > maxAlloc {
		return 0, fmt.Errorf("loader: alloc %d bytes in %s: size out of range (1 to %d)", n, p.obj.name, maxAlloc)
	}
	if err := p.memOpen("alloc"); err != nil {
		return 0, err
	}
	return p.be.alloc(ctx, uint64(n))
}

// Free frees memory from Alloc or CString, or memory the plugin
// allocated with malloc and hands over to the host (0 is ignored).
func (p *Plugin) Free(ctx context.Context, addr uintptr) error {
	if addr == 0 {
		return nil
	}
	if err := p.memOpen("free"); err != nil {
		return err
	}
	return p.be.free(ctx, addr)
}

// CString allocates a NUL-terminated copy of s in the plugin's address
// space (see Alloc; free it with Free). s must not contain a NUL byte.
func (p *Plugin) CString(ctx context.Context, s string) (uintptr, error) {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return 0, fmt.Errorf("loader: C string in %s: NUL byte at %d", p.obj.name, i)
	}
	addr, err := p.Alloc(ctx, len(s)+1)
	if err != nil {
		return 0, err
	}
	b := make([]byte, len(s)+1)
	copy(b, s)
	if err := p.WriteMemory(addr, b); err != nil {
		p.Free(ctx, addr)
		return 0, err
	}
	return addr, nil
}

// ReadMemory copies len(dst) bytes at addr in the plugin's address space
// into dst. Memory that cannot be read is an error wrapping
// ErrBadAddress; the plugin is not affected.
func (p *Plugin) ReadMemory(addr uintptr, dst []byte) error {
	if len(dst) == 0 {
		return nil
	}
	if err := p.memOpen("read"); err != nil {
		return err
	}
	return p.be.readMemory(addr, dst)
}

// WriteMemory copies src to addr in the plugin's address space: an
// out-parameter a callback fills, for one. Memory that cannot be written
// is an error wrapping ErrBadAddress.
func (p *Plugin) WriteMemory(addr uintptr, src []byte) error {
	if len(src) == 0 {
		return nil
	}
	if err := p.memOpen("write"); err != nil {
		return err
	}
	return p.be.writeMemory(addr, src)
}

// ReadString returns a copy of the NUL-terminated C string at addr in the
// plugin's address space ("" for NULL), of at most max bytes (max < 0:
// at most 1 MiB, and a longer string is an error). Bytes past the first
// max are not read.
func (p *Plugin) ReadString(addr uintptr, max int) (string, error) {
	if addr == 0 {
		return "", nil
	}
	if err := p.memOpen("read"); err != nil {
		return "", err
	}
	return p.be.readString(addr, max)
}

// memOpen refuses an access to the memory of a closed plugin (the
// backend checks again under its own lock where the process may go).
// While Close waits for a call in flight, the memory is still the
// plugin's: a host may write what that call waits for.
func (p *Plugin) memOpen(op string) error {
	if p.flags.Load()&stClosed != 0 {
		return fmt.Errorf("loader: %s memory of %s: %w", op, p.obj.name, ErrClosed)
	}
	return nil
}

// Memory of an isolated plugin: every access goes to the child through
// the Remote, which bounds it by the channel and validates what comes
// back.

func (b *remote) readMemory(addr uintptr, dst []byte) error {
	n, err := b.memory(func() (int, error) { return b.r.ReadMemory(uint64(addr), dst, false) })
	if err == nil && n != len(dst) {
		err = fmt.Errorf("loader: read %d bytes at %#x in %s: got %d", len(dst), addr, b.p.obj.name, n)
	}
	return err
}

func (b *remote) writeMemory(addr uintptr, src []byte) error {
	_, err := b.memory(func() (int, error) { return 0, b.r.WriteMemory(uint64(addr), src) })
	return err
}

// readString reads the string in pieces of at most 4 KiB, each copied
// out of the shared memory before it is looked at, and never more than
// the limit in all: a child that writes no NUL gets an error, not an
// unbounded read.
func (b *remote) readString(addr uintptr, max int) (string, error) {
	limit := max
	if max < 0 {
		limit = maxCString + 1
	}
	var out []byte
	for len(out) < limit {
		buf := make([]byte, min(limit-len(out), 4096))
		a := addr + uintptr(len(out))
		if a < addr {
			return "", fmt.Errorf("loader: read C string at %#x in %s: runs past the end of the address space: %w", addr, b.p.obj.name, ErrBadAddress)
		}
		n, err := b.memory(func() (int, error) { return b.r.ReadMemory(uint64(a), buf, true) })
		if err != nil {
			return "", err
		}
		if n > len(buf) {
			return "", fmt.Errorf("loader: read C string at %#x in %s: %d bytes for a %d-byte read", addr, b.p.obj.name, n, len(buf))
		}
		if i := bytes.IndexByte(buf[:n], 0); i >= 0 {
			return string(append(out, buf[:i]...)), nil
		}
		out = append(out, buf[:n]...)
		if n < len(buf) {
			return "", fmt.Errorf("loader: read C string at %#x in %s: short read", addr, b.p.obj.name)
		}
	}
	if max < 0 {
		return "", fmt.Errorf("loader: read C string at %#x in %s: longer than %d bytes", addr, b.p.obj.name, maxCString)
	}
	return string(out), nil
}

func (b *remote) alloc(ctx context.Context, n uint64) (uintptr, error) {
	var addr uint64
	_, err := b.memory(func() (int, error) {
		var err error
		addr, err = b.r.Alloc(ctx, n)
		return 0, err
	})
	return uintptr(addr), err
}

func (b *remote) free(ctx context.Context, addr uintptr) error {
	_, err := b.memory(func() (int, error) { return 0, b.r.Free(ctx, uint64(addr)) })
	return err
}

// memory runs op on the child unless the plugin is closing, with the
// error in the loader's words.
func (b *remote) memory(op func() (int, error)) (int, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	p := b.p
	if p.flags.Load()&stClosing != 0 {
		return 0, fmt.Errorf("loader: memory of %s: %w", p.obj.name, ErrClosed)
	}
	n, err := op()
	if err != nil {
		return n, fmt.Errorf("loader: memory of %s: %w", p.obj.name, err)
	}
	return n, nil
}
