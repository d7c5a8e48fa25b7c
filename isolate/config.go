//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/wire"
)

// envChild marks a process started as an isolated plugin's child: its
// value is the channel's descriptor number.
const envChild = "RUNPLUG_ISOLATE_CHILD"

// envSpare marks a spare child: it finds its policy in the request area
// (written before the exec) and confines itself before it waits.
const envSpare = "RUNPLUG_ISOLATE_SPARE"

// envPluginFile tells a child that its descriptor wire.PluginFD is its
// plugin's file, opened by the host (spawn.go, handPlugin).
const envPluginFile = "RUNPLUG_ISOLATE_PLUGIN_FILE"

// childFD is the channel's descriptor in the child.
const childFD = 3

// request is what the host asks of a new child (in the config area, as
// codec.go encodes it).
type request struct {
	Path   string
	Name   string
	Image  []byte
	Loader wire.ChildOptions
	Host   []hostFunc // registered host functions, by index
	Syms   []symKey   // symbols to look up again (after a restart), by handle
	Policy Policy
	// The seccomp filters (classic BPF), assembled by the host for this
	// child: installed before and after the load (none with NoSeccomp).
	LoadFilter, RunFilter []unix.SockFilter
	// State is where the plugin's state is in the file the child
	// inherits (wire.StateFD); nil without one.
	State *stateReq
}

// stateReq is wire.RemoteState without the file: the slot to map, and
// the one to migrate from.
type stateReq struct {
	Name string
	Slot wire.StateSlot
	From *wire.StateSlot
}

type hostFunc struct {
	Name    string
	Strings uint8
}

type symKey struct {
	Name, Version string
}

// reply is the child's answer (in the reply area, as codec.go encodes
// it).
type reply struct {
	Name    string
	Err     []byte // the load's error, as errwire.go encodes it (nil: none)
	Syms    []symReply
	Seccomp bool
	// The namespaces the child's constructor made, and why not all
	// (childrt.EarlyNamespaces).
	NSFlags uint32
	NSErr   string
	// The uid a root host's child dropped to (0: it kept the host's),
	// the Landlock ABI of its domain (0: none) and what of the
	// constructor's confinement failed (childrt.ChildConfinement).
	UID        uint32
	Landlock   uint32
	ConfineErr string
}

type symReply struct {
	Addr    uint64
	Size    uint64
	Func    bool
	Version string
	handle  uint32 // the child's, for opLookup's reply (not encoded)
}
