// Package sandbox makes a protected call of a native function pointer
// without the loader: a fault in the function (SIGSEGV, SIGBUS, SIGFPE,
// SIGILL, abort, an int3) or a context that is done first comes back as a
// Go error instead of ending the process.
//
// Most hosts want package loader instead: it loads a plugin, finds its
// symbols, and calls them with the same protection plus what only the
// loader can give (quarantine after a fault, Close waiting for the calls in
// flight, typed bindings, isolation in a child process). Use sandbox when
// the code to call is already in the process, loaded by someone else (a C
// library the host links, a function pointer a C API hands back), and a
// crash in it must not take the host down.
//
// Interrupting native code at a deadline is abrupt: the function does not
// unwind, and whatever it held (a lock, a half-written structure, memory)
// stays as it was. After a [DeadlineError] or a [FaultError], treat the
// code's state as lost; the loader quarantines a plugin for that reason.
//
// Only linux/amd64 and linux/arm64 built with cgo run native code
// ([Supported]; arm64 without callbacks yet); other builds compile, and
// every call returns [ErrUnsupported].
package sandbox
