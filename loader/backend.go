package loader

import (
	"context"
	"github.com/runplug/runplug/internal/pcall"

	"github.com/runplug/runplug/internal/wire"
)

// backend is where a Plugin's code runs, and what differs with it: the
// loader's own image in the host's address space (inproc.go), one of
// glibc's libraries as the host's dynamic linker loaded it (hostlib.go),
// or a child process (remote.go). Plugin keeps what they share (name,
// flags, the gate of in-process calls, Close's once) and delegates the
// rest, so no method of Plugin asks which one it has.
//
// Registers and integer arguments are passed by value: a slice or pointer
// handed to an interface method escapes, and the call paths of a plugin
// in process allocate nothing.
type backend interface {
	// lookup finds a symbol (Plugin.LookupVersion's rules); handle names
	// it for calls of an isolated plugin (0 in process).
	lookup(name, version string) (s Symbol, handle uint32, err error)
	// symbols lists the symbols the plugin's own object defines.
	symbols() ([]Symbol, error)
	// funcAt gives the handle of the C function pointer addr for calls
	// of an isolated plugin (Plugin.FuncAt; 0 in process).
	funcAt(addr uintptr) (handle uint32, err error)

	// callInts calls f with its first n integer arguments of a0..a5,
	// passed in registers: an array by value would be copied with
	// 16-byte moves just after its 8-byte stores, a store-forwarding
	// stall that cost this path a quarter of its time.
	callInts(f *Func, n int, a0, a1, a2, a3, a4, a5 uint64) (pcall.Result, error)
	// callRegs calls f with the integer registers i0..i5 and the
	// vector registers x0..x7, all passed in registers (callInts says
	// why): the path of a binding with float arguments.
	callRegs(f *Func, i0, i1, i2, i3, i4, i5 uint64, x0, x1, x2, x3, x4, x5, x6, x7 float64) (pcall.Result, error)
	// call calls f with the registers a (ctx nil: no deadline), after
	// passing bufs' bytes by address in their integer registers.
	call(ctx context.Context, f *Func, a pcall.Args, bufs []wire.Buffer) (pcall.Result, error)
	// callFrame calls f with a frame laid out in this process (the
	// isolated child's side of a general call).
	callFrame(ctx context.Context, f *Func, fr *pcall.Frame) (pcall.FrameResult, error)
	// callRemoteFrame makes a general call laid out for another process.
	callRemoteFrame(ctx context.Context, f *Func, fr *wire.RemoteFrame) (pcall.FrameResult, error)
	// inHostCall reports whether the calling goroutine runs a host
	// function or callback nested in a call into the plugin.
	inHostCall() bool

	// readMemory, writeMemory and readString copy the plugin's memory
	// (Plugin.ReadMemory, WriteMemory, ReadString; addr is not 0).
	readMemory(addr uintptr, dst []byte) error
	writeMemory(addr uintptr, src []byte) error
	readString(addr uintptr, max int) (string, error)
	// alloc and free use the C allocator of the plugin's address space.
	alloc(ctx context.Context, n uint64) (uintptr, error)
	free(ctx context.Context, addr uintptr) error

	// isolated reports whether the plugin runs in another process.
	isolated() bool
	// restart replaces an isolated plugin's process (Plugin.Restart).
	restart(ctx context.Context) error
	// close unloads the plugin (Plugin.Close), once.
	close(ctx context.Context) error
}
