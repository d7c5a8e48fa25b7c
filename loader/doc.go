// Package loader links and runs native plugins (ELF shared objects) with
// runplug's own dynamic loader instead of dlopen, and owns their
// lifecycle.
//
// # Loading
//
// A [Loader] maps an object with internal/elfimage (one reservation with guard pages,
// file-backed copy-on-write segments), finds and loads the libraries it
// needs, relocates everything, makes PT_GNU_RELRO read-only and runs the
// constructors: dependencies first, each object's DT_INIT and then its
// DT_INIT_ARRAY in order, called through the sandbox with argc, argv and
// envp. [Loader.Load] and [Loader.LoadBytes] return a [Plugin]: every call
// gives an independent instance of the object (its own data and .bss;
// clean text pages are shared with other instances of the same file by the
// page cache). Parsed files are cached per Loader by device, inode, size
// and modification time, so loading a file again re-reads nothing.
//
// # Dependencies
//
// glibc's own libraries (the one list is package ldso's: libc.so.6,
// libm.so.6, libpthread.so.0, libdl.so.2, librt.so.1, ld-linux-x86-64.so.2,
// libresolv.so.2, libnss_*.so.2 of glibc, libanl, libutil, libmvec, ...)
// are never loaded by runplug: a DT_NEEDED entry naming one is satisfied
// by the host process's copy, which glibc loads when the host does not
// have it yet (libresolv for a plugin that needs it), and the imports of
// the objects that need it bind to it through dlsym. [Loader.Load] of one
// of them ("libm.so.6", or the path of the host's copy) returns a Plugin
// whose symbols are the host's, called through the sandbox like any
// other's.
//
// Every other library is found the way ld.so finds it (package ldso;
// glibc 2.36, elf/dl-load.c): a name with a slash is a path; otherwise
// DT_RPATH (of the object, then of the objects that needed it, up the
// chain; only when the object has no DT_RUNPATH), [Options].SearchPath,
// LD_LIBRARY_PATH (read once, by [New]), DT_RUNPATH, /etc/ld.so.cache (read
// once per process, on first use: libraries of /etc/ld.so.conf.d and
// /usr/local/lib are found), then /lib/x86_64-linux-gnu,
// /usr/lib/x86_64-linux-gnu, /lib and /usr/lib (neither these nor cache
// entries in them under DF_1_NODEFLIB). In each directory the
// glibc-hwcaps subdirectories the CPU supports come first
// (dir/glibc-hwcaps/x86-64-v3/, -v2/). $ORIGIN and ${ORIGIN} are the
// directory of the object that needs the library; empty entries (the
// current directory for ld.so) and entries with $LIB or $PLATFORM are
// skipped. [Loader.Load] of a name without a slash searches the same way,
// as dlopen does.
//
// A candidate that is not there, not ELF, or for another machine is
// passed over, as ld.so does; one that is a shared object runplug refuses
// stops the search: the load fails with a [*RefusedError] naming the file
// and wrapping the reason ([ErrTLS], elfimage.ErrUnsupported, ...). A library
// found nowhere fails the load with a [*NotFoundError] ([ErrNotFound])
// listing the paths tried. [Loader.Dependencies] describes the whole tree
// without loading anything (`runplug ldd`).
//
// Dependencies are loaded once per Loader and shared by its plugins: each
// plugin holds every dependency it reaches (directly or not) once, and a
// dependency is finalised and unloaded when the last plugin holding it
// closes. Cycles between libraries therefore need no special care.
//
// There is one copy of a library per opener, as glibc has one per
// namespace: a library needed by the plugin's dependencies, opened by
// plugin code with dlopen, or needed by a module so opened, binds to the
// plugin instance itself when it names it (by soname, the name it was
// loaded by, or the same file), so a module that registers with the
// library that loaded it (GIO's modules, OpenSSL's providers, PAM
// modules) finds that very instance. Such objects, which need the
// instance, are private to it (another Load of the same file gets its
// own); the rest are shared by the Loader. Independent copies of shared
// dependencies need a Loader each. docs/NAMESPACES.md has the whole rule.
//
// # Symbol resolution
//
// An import binds, in order, to: a symbol the object defines itself;
// [Options].HostSymbols; the object's lookup scope (itself, then its
// dependencies breadth-first, through their GNU or System V hash tables
// with ld.so's version rules: an import of name@VERSION binds to that
// version); the host C libraries through dlsym and dlvsym (unless
// [Options].NoHostC, and limited to [Options].AllowC when set; results are
// cached for the process). A weak import nothing provides is 0; a missing
// strong one fails the load with an [*UndefinedSymbolError]
// ([ErrSymbolNotFound]) naming the symbol and the object.
//
// # Relocation
//
// One generic loop (reloc.go) applies DT_RELR, DT_RELA and DT_JMPREL (all
// PLT slots are bound eagerly); a per-architecture table (reloc_amd64.go)
// maps each relocation type to an operation: R_X86_64_NONE, RELATIVE
// (B+A), 64 (S+A), GLOB_DAT and JUMP_SLOT (S), IRELATIVE (the result of
// the resolver at B+A), DTPMOD64, DTPOFF64, TPOFF64, TPOFF32 and TLSDESC
// (see Thread-local storage).
// An STT_GNU_IFUNC symbol resolves to what its
// resolver returns; resolvers of the object being relocated run after all
// its other relocations. Every place written must lie wholly inside a
// writable PT_LOAD (RELRO included, before it is protected); the symbol
// index must be inside the symbol table; an IRELATIVE resolver must be
// inside an executable segment. Anything else is refused with a
// [*RelocError] naming the entry, the type and the place: unknown types
// (R_X86_64_COPY, R_X86_64_PC32, ...) wrap elfimage.ErrUnsupported, bad
// places and indexes elfimage.ErrMalformed. Objects with DT_TEXTREL are
// refused.
//
// # Thread-local storage
//
// `__thread` (and C11 `_Thread_local`) variables of plugins and of their
// dependencies work in the dynamic models that -fPIC code uses by default,
// general-dynamic and local-dynamic, as glibc's ld.so serves objects it
// dlopens, but by runplug itself: each loaded object with a PT_TLS segment
// gets a module of the sandbox's TLS runtime (tlsrt.NewTLSModule) before
// it is relocated, R_X86_64_DTPMOD64 writes that module's id (of the
// object defining the symbol; the object itself for symbol 0 or a local
// symbol), R_X86_64_DTPOFF64 the symbol's offset in the block plus the
// addend, and every import of __tls_get_addr binds to
// tlsrt.TLSGetAddr, never to glibc's, which knows nothing of runplug's
// modules. Each OS thread gets its own block of a module on its first
// access: the template (.tdata, as relocated) then zeroes (.tbss). An
// STT_TLS import resolves only to a definition in a loaded object. The
// module is freed at Close (before the image is parked or unmapped) and
// when a load fails; a thread's block of a freed module is freed when the
// thread next uses that module id, or when the thread exits.
//
// TLS is per OS thread, as it is for cgo: a goroutine that moves between
// threads between two calls sees two different blocks. A goroutine that
// needs a plugin's thread-local state to persist across calls must stay on
// its thread with runtime.LockOSThread. [Plugin.Lookup] of a thread-local
// symbol is refused with [ErrTLS]: its address differs per thread.
//
// Static TLS (the initial-exec model: R_X86_64_TPOFF64 and TPOFF32, which
// code reads as `mov %fs:OFF`; DT_FLAGS DF_STATIC_TLS) needs the variable
// at one offset from the thread pointer in every thread, inside the static
// TLS block glibc lays out when it creates a thread, and initialised in
// the threads that exist at the load (Go's Ms among them) as in those
// created after it, by Go or by the plugin. Only glibc can give such room:
// it does for the objects it dlopens, from a surplus it keeps in every
// thread's block (the glibc.rtld.optional_static_tls tunable, 512 bytes in
// glibc 2.36, plus a fixed part for libc's own initial-exec users).
//
// So runplug has glibc dlopen a stand-in for each module that
// initial-exec code addresses (its own object's, or a dependency's): a
// one-page object written to a memfd (tlsrt.TLSModule.MakeStatic) whose
// PT_TLS has the module's size, alignment and relocated template, and
// whose one TPOFF64 relocation against its own block is what makes glibc
// carve the room, copy the template into every existing thread
// (_dl_init_static_tls walks its thread lists) and into each thread
// created later (_dl_allocate_tls_init), and write the block's offset from
// the thread pointer where runplug reads it (checked against dlsym of the
// block minus %fs:0). TPOFF relocations then write that offset plus S+A.
// Because glibc copies the template at dlopen, relocations that name where
// TLS lives (TPOFF, TLSDESC) are resolved in each object's pass but
// written only once every new object is relocated; the stand-ins are made
// in between, and RELRO is sealed after. A static module's __tls_get_addr
// (dynamic-model code reaching the same variable) returns the same address.
//
// At Close the stand-in is dlclosed. glibc 2.36 takes the room back only
// when the block is the last one carved (less the alignment padding before
// it, once; it keeps no list of holes), so a stand-in closed while one
// carved after it is live stays loaded until that one is closed, and both
// are dlclosed then, newest first: closing in any order gives all the room
// back once everything carved after is closed too, and closing and
// reloading a plugin any number of times does not run out. When the room runs
// out the load fails with an error naming the block's size and alignment,
// what runplug holds, and the tunable to raise. Refused with [ErrTLS]: initial-exec
// access to a module already loaded with dynamic TLS (threads may hold
// blocks of it; glibc refuses the same). Why not another way: room
// reserved in runplug's own static TLS would be zero, not the template, in
// threads created later and stale in existing ones (nothing runs when a
// thread is created or when initial-exec code reads %fs), and glibc's
// private allocator is not an interface. What this assumes of glibc is in
// docs/ASSUMPTIONS.md, each with the test that pins it.
//
// TLS descriptors (-mtls-dialect=gnu2, R_X86_64_TLSDESC): the 16-byte
// descriptor gets a resolver of runplug's (sandbox/tlsdesc_amd64.S) and
// its argument: for a module in static TLS, the variable's offset from the
// thread pointer, returned as is; otherwise the module id and the offset
// in its block, for a resolver that reads the thread's block as
// __tls_get_addr does and, when the thread has none yet, calls it after
// saving every register it may clobber (the general ones and the whole
// XSAVE state: malloc and memcpy use vector registers), since the calling
// code expects every register but rax to survive.
//
// Refused with [ErrTLS]: thread-local symbols that only the host C library
// defines (they live in glibc's TLS); link-time TLS relocation types in a
// dynamic table. A PT_TLS p_memsz above 16 MiB is refused with an
// *elfimage.FormatError naming the field.
//
// # Dynamic-linker services
//
// Imports of _dl_find_object, dl_iterate_phdr, dladdr, dladdr1, dlinfo,
// dlerror, dlmopen, backtrace, backtrace_symbols(_fd), __cxa_atexit,
// __cxa_finalize and __cxa_thread_atexit_impl bind to runplug's
// implementations (dlsvc.DLSymbols), which answer for the objects
// runplug loaded, from a table each object enters once relocated and
// leaves before it is unmapped, and hand everything else to glibc's;
// dlopen, dlsym, dlvsym and dlclose bind to Go functions (a callback per
// importing object) that load through the same Loader. So C++ exceptions
// and Rust panics unwind through plugins and their dependencies (runplug's
// own copies of libstdc++ and libgcc_s), backtraces and dladdr see plugin
// code, and dlopen from plugin code shares the Loader's dependencies (a
// name of one of glibc's own libraries gets the host's copy); what an
// object opened is released when it is retired. dlsym(RTLD_DEFAULT, name)
// tries these services, [Options].HostSymbols, the host functions, the
// caller's scope, the objects opened with RTLD_GLOBAL (later loads bind
// to those too, and hold them) and the host C libraries, in that order;
// RTLD_NEXT the caller's scope after the caller, then the host C
// libraries. __cxa_atexit handlers of an object run when its destructors
// call __cxa_finalize (at Close) and are dropped for a quarantined plugin;
// thread_local destructors run at thread exit only while their object is
// loaded. dlopen from a constructor opens only what the Loader already
// holds, and dlclose from a destructor is deferred to the retirement of
// the object that opened the handle: the Loader's lock is held while they
// run.
//
// # Calls
//
// [Plugin.Lookup] finds functions and data. A [Func] is the one thing that
// is called: [Plugin.Func] and [Plugin.FuncSig] give one for a name,
// [Plugin.FuncAt] for a C function pointer the plugin handed out, and
// [Live.Func] for a live plugin. Every call takes a context first, which
// bounds it: [Func.Call] (up to 6 integer or pointer arguments, integer
// result), [Func.CallSig] (any signature, through a [Signature]) and the
// typed bindings made from a Func run the function through the sandbox,
// with the plugin's protections: a fault in plugin code comes back as a
// [*FaultError] that names the plugin, the symbol and what the
// faulting address is ("segment 1 (R-X) of NAME", "guard page after
// NAME"...). The loader adds no allocation to a call, and no atomic
// read-modify-write: a call loads the plugin's closed/quarantined flags
// and goes through the plugin's [pcall.Gate], which records it in the
// calling thread's own slots so that Close can wait for it.
//
// After a call faults, is interrupted by its deadline or is aborted, the
// plugin is quarantined: later calls fail with [ErrQuarantined] (unless
// [Options].KeepAfterFault), Close still works and skips the destructors.
//
// # Typed bindings
//
// [Bind0] to [Bind8] bind a [Func] to a typed Go function whose first
// parameter is a context.Context, for example Bind2[int32, float64,
// float64](f) gives a func(context.Context, int32, float64) (float64,
// error); R is [Void] for a function with no result. Arguments and
// results may be bool, any integer type, uintptr, unsafe.Pointer, float32
// or float64; arguments may also be strings, passed as NUL-terminated
// copies for the call, and []byte out-buffers (the memory itself in
// process, a copy copied back isolated). The signature is checked once, at bind time (a *SignatureError,
// [ErrSignature]); a call converts each argument by the kind decided then,
// makes one protected call as [Func.Call] does (faults, quarantine and
// Close behave the same, the fault is the error result) and truncates a
// narrow result (sign-extending signed ones: the ABI leaves the upper bits
// of rax undefined); a float32 is the low 32 bits of its xmm register. A
// call allocates nothing unless it has string arguments, and costs about
// as much as Func.Call (BenchmarkBind). [Bind] does the same with
// reflect.MakeFunc for any number of arguments, at reflect's cost per
// call, and [BindVariadic] for variadic C functions.
//
// Structs (and abi.Int128Value) go by value both ways, and arguments past
// the registers on the stack, as the SysV AMD64 psABI says (internal/callconv
// classifies and plans; the sandbox's general call performs the plan):
// a binding whose signature needs that takes the general path, one that
// does not keeps the register-only one. A Go struct's layout is checked
// against its C layout at bind time. For signatures known only at run
// time, [NewSignature] and [NewVariadicSignature] build one from abi
// types, [Plugin.FuncSig] binds it and [Func.CallSig] calls it.
//
// # Host functions
//
// [Loader.RegisterHostFunc] registers a Go function under a C name; an
// import of that name in a plugin loaded afterwards binds to a
// C-callable thunk (see pcall.NewCallback) that calls the Go function on
// the plugin's thread. Host functions come after [Options].HostSymbols and
// before the plugin's dependencies in symbol resolution. A typed Go
// function is called through Go's register ABI without reflect when its
// arguments fit (reflect otherwise); a func(*pcall.Args) pcall.Result gets the argument
// registers directly. The Go code runs outside the plugin's fault
// protection (a nil dereference in it is a Go panic); a panic is recovered
// and ends the outer plugin call with an error wrapping a
// [*HostPanicError], and the plugin is quarantined. Releasing a
// registration hides the name from later loads at once and frees the
// thunk when the last object bound to it is closed. plugins/runplug.h
// gives plugin authors the conventions.
//
// # Callbacks and memory
//
// [NewCallback] makes a Go function (the types a host function takes) a C
// function pointer that native code may keep and call later on any
// thread, until [Callback.Release]; a last *[VarArgs] parameter makes its
// C type variadic. Go memory goes to native code for one call,
// pinned by the binding that passes it; memory native code keeps is the
// plugin's own: [Plugin.Alloc] and [Plugin.CString] allocate it in the
// plugin's address space with the C allocator the plugin uses,
// [Plugin.Free] frees it (or what the plugin malloc'd and handed over).
// [Plugin.ReadMemory], [Plugin.WriteMemory] and [Plugin.ReadString] copy
// in and out of the memory a plugin's pointers point to, and return
// [ErrBadAddress] for an unreadable address. All of them work the same
// wherever the plugin runs: the host's address space, or an isolated
// plugin's child process.
//
// # Closing
//
// [Plugin.Close] waits for the calls in flight on every thread, until its
// context is done (later ones fail with [ErrClosed]; a host function
// closing the plugin that called it gets an error saying so instead of
// waiting for itself; a call still running when the context is done is
// left running in an image that stays mapped, or, isolated, ended with
// its child), runs the destructors (DT_FINI_ARRAY in reverse, then
// DT_FINI), and leaves the image's address range reserved as a PROT_NONE
// tombstone that fault reports call "unloaded plugin NAME", so a stale
// pointer into it faults cleanly instead of reaching whatever would be
// mapped there next. The oldest tombstones are released once they exceed
// [Options].TombstoneBudget bytes or number more than 64. A tombstone of a
// file the Loader has parsed keeps its pages behind PROT_NONE (one
// mprotect, a "parked" image): when a later load of the same file finds
// it the oldest tombstone, due for release anyway, it reuses that address
// range instead of releasing it and mapping a new one (protections
// restored, writable pages reset to the file's bytes, then relocated as
// usual), which makes reloading a plugin cost a few mprotect calls instead
// of a dozen mappings. The price is memory: a parked tombstone keeps its
// private (written) pages resident until it is reused or released.
// [Loader.Close]
// closes every plugin and releases all tombstones. No mapping, file
// descriptor or goroutine outlives Close (file descriptors are closed as
// soon as the segments are mapped).
//
// # Debugging and profiling
//
// Debuggers see runplug's objects as shared libraries. Each object
// loaded from a file is put on a link_map list of runplug's own, once it
// is mapped and relocated and before its constructors run, and taken off
// it when it is closed (turned into a tombstone) or unmapped. That list
// hangs off an r_debug of runplug's own, chained at the end of glibc's
// (glibc 2.35 and later: r_version 2 and the r_next chain of link-map
// namespaces that dlmopen uses and gdb 13 walks); each change is
// announced the way ld.so announces its own, r_state RT_ADD or RT_DELETE,
// a call to r_brk (glibc's _dl_debug_state, where gdb keeps a breakpoint),
// then RT_CONSISTENT and r_brk again. gdb then reads the plugin's file, its
// symbols and DWARF at the load bias (l_addr), like any shared library:
// info sharedlibrary lists it, bt names its functions with file:line, a
// pending breakpoint set by name before the load is hit, and a closed
// plugin disappears. glibc's own lists are never touched, and nothing of
// it is on the call path (see sandbox/debugreg.c).
//
// Why this and not gdb's JIT interface (__jit_debug_register_code): gdb
// reads a JIT symbol file from memory and takes its addresses as they are
// (jit.c gives every allocated section its own vma as its address, so
// nothing is relocated), so runplug would have to hand it a copy of each
// file with sections, symbols and every address in the DWARF (line
// tables, ranges, locations) rebased to the load address, and keep that
// copy for the plugin's life. The r_debug protocol hands gdb the path
// and the bias and lets it do what it does for every dlopen'd library;
// other debuggers and tools that read r_debug see the plugins too. Where
// it falls short: a glibc built with SystemTap probes in ld.so (Debian's
// is not) makes gdb stop at those probes instead of r_brk, so it sees
// runplug's changes only at glibc's next load or unload, or when asked
// (info sharedlibrary); objects loaded with [Loader.LoadBytes] have no
// file and are not shown; glibc older than 2.35 has no r_next and
// debuggers see no plugins (debugreg.DebuggerError says so); with glibc
// releases after 2.36 a dlmopen namespace made after runplug's node
// unlinks it until runplug's next load or close, which links it again.
//
// A debugger forgets, without taking them out, the breakpoints it wrote
// into a library that leaves the list; when one is watching, a closed
// image's code pages are given back to the file (MADV_DONTNEED), so a
// parked image reused by a later load holds none of them.
//
// Go CPU profiles name plugin functions after [EnableProfiling] (opt-in,
// process-wide; see debugreg.SetCgoTraceback to chain to a host's own cgo
// traceback). The Go runtime's SIGPROF handler then asks runplug's C
// traceback for the frames of a thread in a cgo call: it records the
// interrupted PC when it lies in a loaded object (or in code a plugin
// called, such as libc's memcpy, when no host traceback is chained), the
// return address a frameless leaf keeps on the stack, and the plugin
// frames found through frame pointers (code built without them shows its
// innermost functions only). The symbolizer names those PCs from the
// objects' symbol tables (.dynsym, and .symtab when the file has one, so
// static functions too), copied into C memory (at load once profiling is
// on; for objects already loaded, by EnableProfiling) so that samples of
// a plugin closed since are still named. go tool pprof -top then shows
// the plugin's hot function, under the Go frames that called it. perf
// and addr2line need none of this: plugin segments are mapped from their
// files, so /proc/PID/maps names the file and offset of every code
// address.
//
// # Isolated plugins
//
// With [Options].Isolation set (package isolate), every plugin the Loader
// loads runs in a confined child process instead of the host's address
// space: the same [Plugin], [Func], typed bindings and host functions,
// with the same errors, plus the typed errors of a process that dies.
// A Plugin delegates to one backend (backend.go): in process
// (inproc.go), one of the host's glibc libraries (hostlib.go), or a
// child reached through internal/wire's Remote (remote.go), which package
// isolate implements. What of [Options] crosses to the child is decided
// in one place (wire.ChildOptions, wire.HostOnly). Memory goes through
// the Plugin both ways ([Plugin.Alloc], [Plugin.CString], [Plugin.Free]
// run the child's malloc and free). General calls ([Func.CallSig], typed
// bindings with structs and stack arguments, [BindVariadic]) and
// [Callback]s cross too (remote_frame.go). Pointers to host memory do not
// cross: strings, slices and pointers to Go memory given to CallSig, and
// string and []byte arguments of bindings, are copied (and slices back);
// [Plugin.Restart] replaces the process.
//
// # Persistent state and hot reload
//
// A plugin may declare its state with RUNPLUG_STATE (plugins/runplug.h):
// the loader maps that region MAP_SHARED from a state file
// ([LoadOptions].StateFile, else a memfd) after relocation and before the
// constructors, so what the plugin writes there survives faults, reloads
// and the process, and every instance mapping the file sees the same
// bytes ([Plugin.State], [Plugin.SyncState]). A file holding another
// layout is migrated by the plugin's runplug_state_migrate into a slot
// beside the old one and switched atomically, or the load is refused
// ([*MigrationError]) and the file left as it was. A malformed region
// refuses the object ([ErrStateLayout]).
//
// [Loader.LoadLive] keeps a plugin live under a stable handle: a
// [Live.Func], and every binding made from it, reaches the serving
// version with one atomic load; [Live.Reload] (or a watcher of the
// file) loads the new build and swaps, the old version closing once its
// calls have drained; a failed reload keeps the old version serving
// ([ErrReload], [ReloadEvent], a "reload failed" log line). The file
// format, the migration contract and the figures are in docs/STATE.md.
//
// # Errors
//
// Every error a host tests is named in this package, whichever layer
// raises it, so a host imports loader alone (elfmap for a file's
// [*elfmap.FormatError], isolate for a dying child's): with errors.Is,
// [ErrNotFound] and [ErrSymbolNotFound] (a library or a symbol that is not
// there), [ErrClosed], [ErrQuarantined], [ErrDeadline], [ErrSignature],
// [ErrUnsupported] (the one sentinel for what runplug does not support
// here: a build without cgo, an ELF feature, a use of TLS ([ErrTLS]), an
// operation an isolated plugin cannot carry; it matches
// errors.ErrUnsupported too), [ErrBadAddress], [ErrNoMemory], [ErrReload],
// [ErrHostFuncExists] and the state file's; with errors.As, for the
// evidence, [*FaultError] (signal, code, address, PC, symbol, what the
// address is), [*DeadlineError], [*HostPanicError], [*NotFoundError],
// [*UndefinedSymbolError], [*RelocError], [*RefusedError],
// [*SignatureError], [*StateFileError] and [*MigrationError]. An isolated
// plugin's errors are the same values and types, with the same fields:
// the child sends each typed error across by kind and fields, so
// errors.Is and errors.As answer as they do in process.
//
// # Logging
//
// Events go to [Options].Logger (silent by default), through a child
// logger per plugin named after it, with lowercase messages and the keys
// plugin, path, addr and error.
package loader
