// Package debugreg shows the objects runplug loads to the tools that watch
// a process from outside: debuggers, through the r_debug chain and its
// breakpoint (debugreg.c: gdb finds plugins' symbols and sets breakpoints
// in them), and the Go profiler and crash tracebacks, through
// runtime.SetCgoTraceback ([SetCgoTraceback], traceback.c: pprof names
// plugin functions under the Go frames that called them).
//
// The boundary: both are registries of the same loaded objects, kept up
// to date at load and close ([AddDebugObject], [DebugObject.SetSymbols]),
// and both are off the call path; the debugger's and the profiler's views
// share one table and one lock order, so they are one package. Its C
// takes the lock bookkeeping of the protected-call core (package pcall).
package debugreg
