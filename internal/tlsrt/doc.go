// Package tlsrt is the thread-local storage runtime of the objects runplug
// loads: what glibc's ld.so does for dlopen'd TLS, done for objects glibc
// never sees.
//
// [NewTLSModule] registers the thread-local storage of a loaded object (a
// PT_TLS template and size) and gives it a module id, at most
// [MaxTLSModules] live at once; [TLSGetAddr] is the address of runplug's
// __tls_get_addr, to which the loader binds plugins' imports of it. Each OS
// thread gets its own block of a module on first use (aligned, template
// copied, rest zeroed, in C memory); the fast path takes no lock and makes
// no call. Module ids are reused after [TLSModule.Free]: a generation per
// id makes a thread's block of the freed module stale, and it is freed on
// the thread's next use of the id or when the thread exits. A call whose
// index names no live module is aborted ([TLSAbortModule]).
//
// [TLSModule.MakeStatic] moves a module to static TLS, for initial-exec
// code: glibc's dlopen of a stand-in object written to a memfd carves the
// block from its static TLS surplus and initialises it in every thread
// (statictls_cgo.go says how; [StaticTLSError] when the surplus is used
// up). [TLSDescStatic] and [TLSDescDynamic] are the resolvers of TLS
// descriptors (tlsdesc_amd64.S, tlsdesc_arm64.S: TLS variant I on AArch64,
// where the thread pointer in TPIDR_EL0 points at the TCB and static TLS
// lies above it).
//
// The boundary: TLS is reached from plugin code through the loader's
// relocations, never from a protected call's own path, so it is a package
// of its own above the protected-call core (package pcall), whose abort
// (rp_abort_current) and lock bookkeeping its C uses. It must be cgo and
// unsafe: the blocks are C memory that native code addresses directly,
// and __tls_get_addr runs on plugin threads with no Go runtime in sight.
package tlsrt
