//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"fmt"
	"strconv"
)

// Function pointers (loader.Plugin.FuncAt) of an isolated plugin travel
// as lookups of a symbol with no name: the symKey's Version holds the
// address, in hexadecimal. The child makes a Func of the address and
// numbers it as it numbers a name's, so calls, restarts (which replay
// every key) and the handle checks are the lookups'. A restarted child
// maps the plugin afresh: a pointer taken before points to whatever is
// there now, and the host should ask the plugin for it again.

// addrKey is the key of the function pointer addr.
func addrKey(addr uint64) symKey { return symKey{Version: strconv.FormatUint(addr, 16)} }

// FuncAt implements wire.Remote: the handle of the function at addr in the child
// (loader.Plugin.FuncAt).
func (r *remote) FuncAt(addr uint64) (uint32, error) {
	k := addrKey(addr)
	s, err := r.Lookup(k.Name, k.Version)
	return s.Handle, err
}

// lookupAddr is lookup for an address key.
func (c *child) lookupAddr(k symKey) (symReply, error) {
	addr, err := strconv.ParseUint(k.Version, 16, 64)
	if err != nil || addr == 0 {
		return symReply{}, fmt.Errorf("isolate: bad function pointer key %q", k.Version)
	}
	f, err := c.p.FuncAt(uintptr(addr), nil)
	if err != nil {
		return symReply{}, err
	}
	return symReply{Addr: addr, Func: true, handle: c.addFunc(k, f)}, nil
}
