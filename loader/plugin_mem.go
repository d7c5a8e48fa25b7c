package loader

import (
	"bytes"
	"fmt"
)

// Memory the plugin points to. The pointers a plugin passes (to a
// callback or host function, in a result, in a struct) are addresses in
// its address space: the host's own for a plugin loaded in process, its
// child process's for an isolated one. These methods read and write there,
// so that the same Go code serves a plugin wherever it runs (GoString,
// GoBytes and GoSlice read the host's memory only).

// maxCString bounds ReadString without a limit: a string longer than
// this is an error rather than a read through the plugin's whole heap.
const maxCString = 1 << 20

// ReadMemory copies len(dst) bytes at addr in the plugin's address space
// into dst. Memory that cannot be read is an error wrapping
// ErrBadAddress; the plugin is not affected.
func (p *Plugin) ReadMemory(addr uintptr, dst []byte) error {
	if len(dst) == 0 {
		return nil
	}
	if p.remote == nil {
		return readInto(addr, dst)
	}
	n, err := p.remoteMemory(func() (int, error) { return p.remote.ReadMemory(uint64(addr), dst, false) })
	if err == nil && n != len(dst) {
		err = fmt.Errorf("loader: read %d bytes at %#x in %s: got %d", len(dst), addr, p.obj.name, n)
	}
	return err
}

// WriteMemory copies src to addr in the plugin's address space: an
// out-parameter a callback fills, for one. Memory that cannot be written
// is an error wrapping ErrBadAddress.
func (p *Plugin) WriteMemory(addr uintptr, src []byte) error {
	if len(src) == 0 {
		return nil
	}
	if p.remote == nil {
		return writeFrom(addr, src)
	}
	_, err := p.remoteMemory(func() (int, error) { return 0, p.remote.WriteMemory(uint64(addr), src) })
	return err
}

// ReadString returns a copy of the NUL-terminated C string at addr in the
// plugin's address space ("" for NULL), of at most max bytes (max < 0:
// at most 1 MiB, and a longer string is an error).
func (p *Plugin) ReadString(addr uintptr, max int) (string, error) {
	if addr == 0 {
		return "", nil
	}
	if p.remote == nil {
		if max < 0 {
			s, err := GoStringN(addr, maxCString+1)
			if err == nil && len(s) > maxCString {
				err = fmt.Errorf("loader: read C string at %#x: longer than %d bytes", addr, maxCString)
			}
			return s, err
		}
		return GoStringN(addr, max)
	}
	limit := max
	if max < 0 {
		limit = maxCString + 1
	}
	var out []byte
	for len(out) < limit {
		buf := make([]byte, min(limit-len(out), 4096))
		a := addr + uintptr(len(out))
		n, err := p.remoteMemory(func() (int, error) { return p.remote.ReadMemory(uint64(a), buf, true) })
		if err != nil {
			return "", err
		}
		if i := bytes.IndexByte(buf[:n], 0); i >= 0 {
			return string(append(out, buf[:i]...)), nil
		}
		out = append(out, buf[:n]...)
		if n < len(buf) {
			return "", fmt.Errorf("loader: read C string at %#x in %s: short read", addr, p.obj.name)
		}
	}
	if max < 0 {
		return "", fmt.Errorf("loader: read C string at %#x in %s: longer than %d bytes", addr, p.obj.name, maxCString)
	}
	return string(out), nil
}

// remoteMemory runs op on an isolated plugin's process unless the plugin
// is closing, with the error in the loader's words.
func (p *Plugin) remoteMemory(op func() (int, error)) (int, error) {
	p.rmu.RLock()
	defer p.rmu.RUnlock()
	if p.flags.Load()&stClosing != 0 {
		return 0, fmt.Errorf("loader: memory of %s: %w", p.obj.name, ErrClosed)
	}
	n, err := op()
	if err != nil {
		return n, fmt.Errorf("loader: memory of %s: %w", p.obj.name, err)
	}
	return n, nil
}
