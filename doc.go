// Package runplug loads native plugins (ELF shared objects) into a running Go
// program with its own userland loader, calls them at native speed, unloads
// and reloads them at runtime, and contains their crashes.
//
// The work is split into a pipeline of packages, each owning one step:
//
//   - [github.com/runplug/runplug/elfmap] parses and validates an ELF shared
//     object, plans its page-aligned layout and maps it with guard pages.
//   - [github.com/runplug/runplug/sandbox] calls into native code so that a
//     fault raised by that code becomes a Go error instead of a crash. It is
//     the only package that uses cgo.
//   - [github.com/runplug/runplug/loader] relocates and links mapped images,
//     loads their dependencies, runs their constructors and destructors, and
//     gives the host a plugin handle: look up, call, close.
//
// The command runplug (cmd/runplug) inspects and calls shared objects from a
// terminal. This root package holds no code of its own; its tests exercise
// the whole path the way a host application would.
package runplug
