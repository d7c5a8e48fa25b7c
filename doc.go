// Package runplug loads native plugins (ELF shared objects) into a running Go
// program with its own userland loader, calls them at native speed, unloads
// and reloads them at runtime, contains their crashes, and can run them in a
// confined child process behind the same API.
//
// The work is split into a pipeline of packages, each owning one step
// (docs/ARCHITECTURE.md draws their imports and says why each boundary is
// where it is):
//
//   - [github.com/runplug/runplug/abi] describes C types and signatures at
//     run time (the SysV register plans behind them are internal/callconv).
//   - [github.com/runplug/runplug/elfmap] is a tool's read-only view of an
//     ELF shared object: soname, needs, defined symbols (the loader's
//     parser, planner and mapper are internal/elfimage).
//   - [github.com/runplug/runplug/ldso] finds libraries as ld.so does (search
//     path, ld.so cache, glibc's own libraries).
//   - [github.com/runplug/runplug/sandbox] calls into native code so that a
//     fault raised by that code becomes a Go error instead of a crash, and
//     serves TLS and the dynamic-linker functions plugins call. It is the
//     only package with cgo and assembly.
//   - [github.com/runplug/runplug/loader] relocates and links mapped images,
//     loads their dependencies, runs their constructors and destructors, and
//     gives the host a plugin handle: look up, bind, call, close. A host
//     starts here.
//   - [github.com/runplug/runplug/isolate] runs each plugin of a Loader in a
//     confined child process (seccomp, namespaces, limits), reached through
//     shared memory, behind the loader's API.
//
// The command runplug (cmd/runplug) inspects, checks and calls shared
// objects from a terminal (docs/CLI.md). This root package holds no code of
// its own; its tests exercise the whole path the way a host application
// would, and run README.md's first-plugin examples as written.
package runplug
