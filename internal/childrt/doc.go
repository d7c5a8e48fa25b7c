// Package childrt is the isolated child's side of package isolate, the part
// that must run before, or beside, the child's Go runtime: C constructors
// that confine the process while it is still single-threaded (nsinit.c:
// user, mount and other namespaces, [EarlyNamespaces]; childinit.c:
// Landlock and no-new-privileges, [ChildConfinement]), and the relay that
// runs callbacks from threads the plugin created on Go threads of its own
// ([RelayForeignThreads], relay.c), since a child that serves its plugin
// from an init function never lets Go adopt a C thread.
//
// The boundary: this code runs in the child alone and is asked for through
// environment variables the parent sets ([EarlyNamespacesEnv],
// [ChildConfineEnv]), so the parent's packages never call it; the relay
// hands frames to the callback dispatcher of package pcall.
package childrt
