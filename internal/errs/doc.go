// Package errs defines, once, the errors that runplug's loader raises and
// a host tests: the sentinels it matches with errors.Is and the typed
// errors it reads with errors.As. Package loader aliases each of them
// (type NotFoundError = errs.NotFoundError), so a host imports loader
// alone; package isolate carries each across the process boundary by kind
// and fields, so that an isolated plugin's errors answer errors.Is and
// errors.As as an in-process plugin's do.
//
// It also holds the one ErrUnsupported of the module, which elfmap, the
// protected-call core, isolate and loader all wrap: errs imports nothing
// of runplug's, so every layer can.
//
// The messages carry no package prefix: the loader's methods wrap them in
// a message that starts with one, once.
package errs
