// runplug.h: conventions for plugins loaded by runplug, and the host
// functions runplug's own command provides.
//
// runplug (github.com/runplug/runplug) loads a plugin (an ELF shared
// object for Linux x86-64) into a Go program with its own loader, not
// dlopen, and calls its functions through a protected call: a fault in
// plugin code (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, abort()) ends that
// call with an error in the host instead of killing the process, and the
// plugin is then quarantined (further calls fail until it is reloaded).
//
// TYPES AND CALLING CONVENTION
//
// Calls in both directions follow the SysV AMD64 psABI (package abi on the
// Go side classifies each argument as gcc does).
//
// Functions the host calls (bindings, loader.Signature, `runplug call`)
// may have any number of arguments, integer and floating-point mixed
// (those past 6 integer-class and 8 floating-point ones go on the stack),
// structs and unions by value as arguments and results (up to 16 bytes in
// registers per eightbyte class, larger through the hidden result
// pointer), __int128, long double (its 16 bytes, both ways), and a
// variadic part (float promoted to double, char and short to int, al set).
// Not modelled: vector types (__m128...), _Complex, bit-fields.
//
// Host functions and callbacks (Go functions the plugin calls, see below)
// may be declared in C with:
//   - arguments: bool, char and every integer width, pointers, float,
//     double, const char * (a NUL-terminated string, copied into Go; NULL
//     reads as ""), and structs or unions by value whose layout the host's
//     Go struct matches field by field (no pointers to Go memory, strings
//     or slices inside). Any number of them: past the 6 integer and 8
//     floating-point registers, and a struct that does not fit the
//     registers left (or is over 16 bytes), the caller passes them on the
//     stack, as C does for any function; the Go side reads them there;
//   - a result: none, or one of those types but const char * (a string
//     result must be memory the plugin owns: declare a pointer). A struct
//     result of up to 16 bytes comes back in rax/rdx and xmm0/xmm1 by its
//     eightbytes' classes, a larger one through the hidden pointer the
//     caller passes (C compilers do all this from the declaration alone);
//   - a variadic prototype (int f(const char *fmt, ...)) when the host's
//     Go function takes a *loader.VarArgs last: it reads the variable part
//     in order as va_arg would (pass what va_arg expects: int for char and
//     short, double for float; nothing tells the host the count or types);
//   - not: long double, __int128, vector or complex types.
// Signatures of at most 6 integer-class and 8 floating-point scalar
// arguments are the fast ones (no allocation; all 64-bit integers,
// pointers and doubles the fastest); structs by value and stack arguments
// and variadic ones cost a little more (a hundred nanoseconds or so in
// the host).
// Example: with the host registering func(p Point, r Rect, scale float64)
// Rect (Go structs of C layout), a plugin declares
//
//	struct point { double x, y; };          // SSE, SSE: xmm registers
//	struct rect { int64_t x, y, w, h; };    // 32 bytes: memory
//	struct rect place(struct point p, struct rect r, double scale);
//
// and calls it like any C function. A pointer the host passes is valid for
// the duration of the call only, unless the host documents otherwise.

// HOST FUNCTIONS
//
// A host registers Go functions under C names (loader.RegisterHostFunc);
// a plugin declares them like any external function and calls them
// directly. An import nothing provides makes the load fail (declare it
// __attribute__((weak)) and test it against NULL to make it optional).
// A host function:
//   - runs on the calling thread, synchronously, in the middle of the
//     plugin call that reached it (on a thread the plugin created itself it
//     also works, but see "errors" below);
//   - runs Go code outside the plugin's fault protection: a bug in it is a
//     Go panic, never reported as a fault of the plugin;
//   - may call functions of this or other plugins again (nested calls);
//   - must not be called from a signal handler, and a plugin must not hold
//     a lock across the call that the host may need;
//   - reads const char * arguments as NUL-terminated strings, copying
//     them; pointer arguments are plain addresses the host may read or
//     write as the function documents; structs by value and stack
//     arguments are read as the declaration above passes them.
//
// CALLBACKS
//
// A host may also hand a plugin a Go function as a plain C function
// pointer (loader.NewCallback), as an argument or through any data
// structure. The plugin may store it and call it later, any number of
// times, from any thread: the calling thread it was given on, another
// thread, or a thread the plugin created with pthread_create. It takes
// and returns the types a host function does (declare the pointer's type
// to match the Go function's: int (*)(const void *, const void *) for a
// func(a, b unsafe.Pointer) int32). It behaves like a host function, with
// these differences:
//   - called while no call from the host is in progress on that thread
//     (typically on the plugin's own threads), a panic in the Go function
//     cannot end anything: the call returns 0 (0.0 for a floating-point
//     result; for a struct result over 16 bytes, the caller's buffer as
//     the caller left it) and the host is told through its panic handler;
//   - the pointer is valid until the host releases the callback. A call
//     after that does not run Go code: it is handled like a panic (an
//     error inside a host call, 0 outside one). The host must make sure
//     the plugin has stopped using the pointer first.
//
// ERRORS AND ABORTS
//
// When a host function panics, the panic is recovered in the host and the
// OUTER plugin call ends at once with an error (the host sees
// sandbox.HostPanicError): the host function does not return to the
// plugin, the plugin code after the call never runs, no C++ destructors or
// cleanup handlers run, and the plugin is quarantined. Locks the plugin
// holds at that point stay held (a lock shared with other instances, say
// in a common dependency, is then never released): avoid calling host
// functions while holding one. (On a thread the plugin created there is
// no outer call to end: the host function returns 0 and the host is told
// of the panic.) A deadline
// that passes while a host function runs interrupts the plugin call when
// the host function returns.

// C++ PLUGINS
//
// Build with g++ (or clang++) as for dlopen: -shared -fPIC, linked against
// libstdc++ as usual. runplug loads the plugin's libstdc++ and libgcc_s
// itself, one copy per Loader shared by its plugins (they are not part of
// glibc, which the host provides). Exceptions work inside a plugin and
// across it and its dependencies (typeinfo is shared, std::exception_ptr
// and destructors during unwinding work), on any number of threads:
// runplug answers the unwinder's _dl_find_object and dl_iterate_phdr for
// the objects it loaded. Rules:
//   - Catch everything at the extern "C" boundary. An exception that
//     escapes a function the host calls finds no handler (the unwinder
//     stops at runplug's call trampoline): std::terminate, abort(), and
//     the call fails with a SIGABRT fault; the plugin is quarantined.
//     Never throw through a host function's frame either.
//   - Static objects' destructors and atexit() handlers run at Close (as
//     at dlclose), skipped for a quarantined plugin (never run later).
//   - thread_local objects' destructors run when their thread exits, if
//     the plugin is still open; a thread that exits after the plugin was
//     closed skips them. Go reuses threads: they may run much later than
//     the call, or not before the process exits.
//   - backtrace(), backtrace_symbols() and dladdr() see plugin frames and
//     symbols; a walk stops at runplug's trampoline.
//   - dlopen() loads through the host's Loader (the host's copy for libc,
//     libm, libdl...); from a constructor it opens only a library already
//     loaded. What a plugin opens is closed with it at the latest.
//     dlsym(RTLD_DEFAULT, name) sees the host's functions, then the
//     plugin's dependencies, then objects opened with RTLD_GLOBAL, then the
//     host's C libraries. dlmopen() fails.
//
// RUST PLUGINS
//
// Build a cdylib (crate-type = ["cdylib"], or `rustc --crate-type cdylib`)
// with the default panic=unwind; export #[no_mangle] pub extern "C"
// functions. Rust's std links libgcc_s, which runplug loads for it, so
// panics unwind within the plugin: wrap each exported function's body in
// std::panic::catch_unwind and turn a panic into an error value. An
// uncaught panic cannot cross the extern "C" boundary: it aborts (rustc
// 1.81 and later do so themselves; earlier ones unwind to runplug's
// trampoline, find no handler and abort), the call fails and the plugin is
// quarantined. Thread-locals (thread_local!) are per OS thread, as above.

#ifndef RUNPLUG_H
#define RUNPLUG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Built-in host functions of `runplug call` (cmd/runplug). Other hosts
// provide their own set; a plugin meant to run under both can declare
// these weak.

// Log levels of runplug_log.
#define RUNPLUG_LOG_DEBUG 0
#define RUNPLUG_LOG_INFO 1
#define RUNPLUG_LOG_WARN 2
#define RUNPLUG_LOG_ERROR 3

// runplug_log writes msg (one line, NUL-terminated) to the host's log at
// level (RUNPLUG_LOG_*): `runplug call` prints "plugin: LEVEL: msg" on
// standard error.
void runplug_log(int32_t level, const char *msg);

// runplug_now_ns returns the host's monotonic clock in nanoseconds.
int64_t runplug_now_ns(void);

// PERSISTENT STATE
//
// RUNPLUG_STATE(TYPE, NAME, VERSION) declares the plugin's variable NAME of
// type TYPE (at file scope, once per plugin) in a region that runplug maps
// MAP_SHARED from a state file, so that what the plugin writes there is
// the file's: it survives a fault of the plugin, a reload (the new build
// maps the same pages) and the process, and every instance mapping the
// same file (another process, an isolated child, the host) sees the same
// bytes. The host names the file (loader.LoadOptions.StateFile, `runplug
// call --state FILE`); without one the region is an anonymous memfd of
// the instance (or of the loader.Live that reloads it). A new file starts
// zero-filled. See docs/STATE.md.
//
//	struct counter { uint64_t calls; };
//	RUNPLUG_STATE(struct counter, state, 1);
//	int64_t bump(void) { return __atomic_add_fetch(&state.calls, 1, __ATOMIC_RELAXED); }
//
// Rules:
//   - the region is mapped before the constructors run: they may read it;
//   - no pointer into the plugin's image (or to anything but the state
//     itself, as an offset) may be kept there: the next instance or
//     process maps it at another address. A static initialiser for NAME is
//     not possible (the state is the file's, not the object's);
//   - several instances may run at once on the same file (a reload, two
//     processes): use atomics or your own locking for what they share;
//   - VERSION names TYPE's layout. When the file holds another VERSION or
//     another sizeof(TYPE), the load calls the plugin's
//     runplug_state_migrate (below) on a copy; without one the load is
//     refused (loader.MigrationError) and the file is left as it was.
//
// Mechanism (for other languages): a page-aligned array of whole pages
// in section ".runplug_state", exported as "runplug_state" (runplug maps
// exactly [runplug_state, +st_size)); NAME is an alias of it; and an
// exported read-only struct runplug_state_desc {magic 0x54535052, VERSION,
// sizeof(TYPE)}. No relocation may write into the region or the
// descriptor: such an object is refused (loader.ErrStateLayout).
// Rust: runplug_state!(TYPE, NAME, VERSION) in plugins/rust/runplug.rs
// (include! it) emits the same two symbols.

#define RUNPLUG_STATE_MAGIC 0x54535052u
#define RUNPLUG_STATE_PAGE 4096

struct runplug_state_desc {
	uint32_t magic;
	uint32_t version;
	uint64_t size;
};

#define RUNPLUG_STATE(TYPE, NAME, VERSION)                                                   \
	__attribute__((section(".runplug_state"), aligned(RUNPLUG_STATE_PAGE), used))       \
	unsigned char runplug_state[(sizeof(TYPE) + RUNPLUG_STATE_PAGE - 1) / RUNPLUG_STATE_PAGE * \
				    RUNPLUG_STATE_PAGE];                                     \
	extern TYPE NAME __attribute__((alias("runplug_state"), visibility("hidden")));      \
	extern const struct runplug_state_desc runplug_state_desc;                           \
	__attribute__((used)) const struct runplug_state_desc runplug_state_desc = {         \
		RUNPLUG_STATE_MAGIC, (VERSION), sizeof(TYPE)}

// runplug_state_migrate converts the state of layout from_version
// (old_size bytes at old, a read-only copy) into the plugin's layout
// (size bytes at state, zero-filled), and returns 0 on success. runplug
// calls it, when the plugin exports it, on a load that finds another
// layout in the state file: after relocation and before the constructors
// (so it must not rely on them), under the load's deadline. Any other
// result, or a fault, refuses the load and leaves the file as it was; on
// success the new layout is written beside the old one and the file's
// header switched to it in one step, so a crash never leaves a mix.
int runplug_state_migrate(uint32_t from_version, const void *old, size_t old_size, void *state, size_t size);

#ifdef __cplusplus
}
#endif

#endif // RUNPLUG_H
