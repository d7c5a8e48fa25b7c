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
// Calls in both directions use the SysV AMD64 ABI with register arguments
// only: at most 6 integer-class arguments (bool, char, all integer widths,
// pointers, const char *) and 8 floating-point ones (float, double), and
// one result of those types or none. Structs by value, long double,
// __int128 and variadic functions are not supported across the boundary
// (pass pointers). A const char * argument that the host passes is a
// NUL-terminated copy valid for the duration of the call only.
//
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
//     write as the function documents.
//
// CALLBACKS
//
// A host may also hand a plugin a Go function as a plain C function
// pointer (loader.NewCallback), as an argument or through any data
// structure. The plugin may store it and call it later, any number of
// times, from any thread: the calling thread it was given on, another
// thread, or a thread the plugin created with pthread_create. It behaves
// like a host function, with these differences:
//   - called while no call from the host is in progress on that thread
//     (typically on the plugin's own threads), a panic in the Go function
//     cannot end anything: the call returns 0 (0.0 for a floating-point
//     result) and the host is told through its panic handler;
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

#ifndef RUNPLUG_H
#define RUNPLUG_H

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

#ifdef __cplusplus
}
#endif

#endif // RUNPLUG_H
