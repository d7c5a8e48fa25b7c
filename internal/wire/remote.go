package wire

import (
	"context"
	"os"

	"github.com/runplug/runplug/internal/pcall"

	"github.com/hashicorp/go-hclog"
)

// Isolation is an isolated tier: package isolate's *Isolator, its one
// implementation. Its method set is what a host may call on it anyway;
// starting a plugin goes through StartRemote, so that the isolate
// package's public API carries no method in this package's types.
type Isolation interface {
	Prestart() error
	Close(ctx context.Context) error
}

// StartRemote loads the plugin that req describes in a new process of
// iso and returns the handle the Plugin calls through. Package isolate
// sets it when it is initialised; it is nil in a program that does not
// link isolate, which then has no Isolation to pass either.
//
// ctx bounds the start: a child that has not answered the load request
// when ctx is done is killed, and the error wraps the loader's
// ErrDeadline.
var StartRemote func(ctx context.Context, iso Isolation, req *RemoteLoad) (Remote, error)

// RemoteLoad is what an Isolation needs to load a plugin elsewhere.
type RemoteLoad struct {
	Path  string // the file (absolute; a name without a slash is searched for), "" with Image
	Name  string // the name given to Load or LoadBytes
	Image []byte // LoadBytes' image, nil with Path
	// Options are the Loader's options that cross to the child
	// (ChildOptionsOf).
	Options ChildOptions
	// HostFuncs are the host functions registered with the Loader when
	// the load began, each callable from the other process.
	HostFuncs []RemoteHostFunc
	Logger    hclog.Logger
	// State is the plugin's persistent state, nil when it has none or
	// the child keeps it in a memfd of its own.
	State *RemoteState
	// Background says that another version serves while this one
	// starts (a Live's reload): the new process then takes only the CPU
	// time the serving version's callers leave until it has loaded,
	// where the Isolation can arrange that.
	Background bool
}

// RawHostFunc is the fast form of a host function: it reads the caller's
// argument registers from a (valid during the call only; an integer
// narrower than 64 bits has undefined upper bits, a float32 is in the low
// 32 bits of its Float slot) and returns the result registers (rax, xmm0).
// RegisterHostFunc takes a func of this type as it is, without reflect.
type RawHostFunc = func(a *pcall.Args) pcall.Result

// RemoteHostFunc is a registered host function as an isolated plugin
// reaches it.
type RemoteHostFunc struct {
	Name string
	// Strings has bit i set when integer register i carries a C string
	// (a typed function's string parameter): the other process copies the
	// string across and the register is rewritten to the copy.
	Strings uint8
	// Call is the Go function of a register signature; nil for the
	// general form.
	Call RawHostFunc
	// Frame is the Go function of the general form (stack arguments,
	// structs by value), instead of Call: its stack arguments are
	// StackSize bytes, a MEMORY-class result SRetSize bytes (0: none).
	Frame     pcall.FrameFunc
	StackSize uint32
	SRetSize  uint32
}

// RemoteSymbol is a symbol found by a Remote.
type RemoteSymbol struct {
	Name    string
	Addr    uint64 // in the plugin's process
	Size    uint64
	Func    bool   // a function (STT_FUNC or STT_GNU_IFUNC), else data
	Version string // the version it was found with ("" if unversioned)
	// Handle names the symbol in later calls: it stays valid across
	// restarts of the process (where Addr may change).
	Handle uint32
}

// Buffer is memory a register call passes to the plugin: the address of
// a copy of Data (in the plugin's address space) goes in integer register
// Slot, and with Out the plugin's bytes come back into Data when the call
// returns.
type Buffer struct {
	Slot int
	Data []byte
	Out  bool
}

// Remote is one isolated plugin: a process that serves its calls.
type Remote interface {
	// Name is the plugin's name (its DT_SONAME or file name).
	Name() string
	// Lookup finds a symbol (Plugin.LookupVersion's rules), wrapping
	// the loader's not-found or TLS errors as the in-process lookup does.
	Lookup(name, version string) (RemoteSymbol, error)
	// Symbols lists the symbols the plugin's object exports
	// (Plugin.Symbols); their handles are 0 (Lookup names a symbol for
	// calls).
	Symbols() ([]RemoteSymbol, error)
	// Call calls the function handle with the registers a and the
	// buffers bufs. ctx may be nil. A fault of the plugin is a
	// *pcall.FaultError; a panic of a host function a
	// *pcall.HostPanicError; the death of the process, a forbidden
	// system call or a deadline are the Isolation's own typed errors.
	// The registers are passed by value so that no caller's memory
	// escapes: an in-process call through the same paths allocates
	// nothing.
	Call(ctx context.Context, handle uint32, a pcall.Args, bufs []Buffer) (pcall.Result, error)
	// CallInts is Call for n integer arguments only, with no buffer.
	CallInts(handle uint32, ints [6]uint64, n int) (pcall.Result, error)
	// CallFrame makes a general call (stack arguments, structs by value,
	// variadic, a result in memory, pointers to Go memory, callbacks):
	// fr holds the frame as the signature's plan laid it out (see
	// RemoteFrame). It fails as Call does.
	CallFrame(ctx context.Context, handle uint32, fr *RemoteFrame) (pcall.FrameResult, error)
	// FuncAt gives a handle for the function at addr in the process (a
	// C function pointer the plugin handed out: Plugin.FuncAt), as Lookup
	// gives a name's; calls through it fail as Call does.
	FuncAt(addr uint64) (handle uint32, err error)
	// InHostCall reports whether the calling goroutine is running a host
	// function or callback for a call into this plugin (nested in that
	// call): Plugin.Close and Restart then refuse, as waiting for the
	// call would never end.
	InHostCall() bool
	// ReadMemory copies the process's memory at addr into dst, up to
	// its first NUL byte (included) when toNUL, and returns the bytes
	// copied; memory it cannot read is an error wrapping the loader's
	// ErrBadAddress, and the process goes on.
	ReadMemory(addr uint64, dst []byte, toNUL bool) (int, error)
	// WriteMemory copies src to the process's memory at addr; memory it
	// cannot write is an error wrapping the loader's ErrBadAddress.
	WriteMemory(addr uint64, src []byte) error
	// Alloc allocates n bytes (n > 0) with the C allocator of the
	// plugin's process (malloc) and returns their address there; a NULL
	// from malloc is an error wrapping the loader's ErrNoMemory.
	Alloc(ctx context.Context, n uint64) (uint64, error)
	// Free frees memory of the C allocator of the plugin's process.
	Free(ctx context.Context, addr uint64) error
	// Restart replaces the process by a fresh one with the plugin
	// loaded again and every handle looked up again; ctx bounds the new
	// process's start, as for StartRemote.
	Restart(ctx context.Context) error
	// AutoRestart reports whether a failed plugin may be restarted now
	// by the restart policy (and counts the restart when it says yes).
	AutoRestart() bool
	// Kill ends the process at once, whatever runs in it: calls in
	// flight end with its exit error (reason says why, for the log and
	// the error). Close still follows, to wait and clean up.
	Kill(reason string)
	// Close ends the process: with destructors when graceful (their
	// round trip bounded by ctx), else at once. It is called once, with
	// no call in flight.
	Close(ctx context.Context, graceful bool) error
}

// RemoteOf returns the Remote an isolated Plugin calls through (nil for a
// plugin in the host's address space): isolate.Pid. plugin is a
// *loader.Plugin. Package loader sets it when it is initialized: a method
// of Plugin would be a host's API. (The child's raw calls of a Func are
// internal/rawcall's.)
var RemoteOf func(plugin any) Remote

// RemoteState is the persistent state (RUNPLUG_STATE, docs/STATE.md) of
// an isolated plugin: the host opens the state file, keeps its header
// and hands the child the descriptor, which the child maps at the
// plugin's region. The child never reads the header: Slot says where the
// state is, and From, when not nil, that the child is to migrate into
// Slot from the old layout there before the host commits the switch.
type RemoteState struct {
	// File is the host's descriptor of the state file (or memfd); the
	// child inherits it as its descriptor StateFD.
	File *os.File
	Name string // the file's name in messages (its path, or "memfd")
	Slot StateSlot
	From *StateSlot
}

// StateSlot is one layout of the state in the file: its offset and size
// (whole pages), and the plugin's VERSION and sizeof(TYPE) it holds.
type StateSlot struct {
	Off, Size, TypeSize uint64
	Version             uint32
}

// StateFD is the state file's descriptor in an isolated child.
const StateFD = 4

// LoadHandedState loads, in an isolated child, the plugin at path (or
// image when path is ""), with its state region mapped from the
// descriptor the host handed over (StateFD) as st says: the child's side
// of RemoteState. l is the child's *loader.Loader, the result its
// *loader.Plugin. Package loader sets it when it is initialized.
var LoadHandedState func(ctx context.Context, l any, path, name string, image []byte, st RemoteState) (any, error)
