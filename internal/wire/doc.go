// Package wire is the contract between package loader and package isolate:
// the types through which a Plugin whose Loader has Options.Isolation set
// loads and calls its plugin in another process.
//
// loader never imports isolate; both import wire. loader calls through a
// Remote at the lowest point its call paths share, so that the Plugin,
// Func and typed bindings need not know where the plugin runs; isolate
// implements Isolation and Remote. None of this is a host's API: a host
// writes loader.Options{Isolation: isolate.New(...)} and nothing more.
//
// Options decides what of loader.Options crosses to the child (see
// ChildOptions and HostOnly): it is the one place that does, and
// isolate's TestOptionsForwarded fails when a field of loader.Options is
// in neither list.
package wire
